"""The `nnlab` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import build, grading, main_job, train

DESCRIPTION = """\
Neural networks from scratch in numpy, on MNIST: the course's command.

Data comes from $MNIST_DIR (a folder of MNIST IDX files), else OpenML (needs a network once),
else scikit-learn's 8x8 digits, with a loud warning that they are not MNIST.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnlab", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train_parser = sub.add_parser(
        "train",
        help="train the reference network; print accuracy, confusion matrix and classification report; save plots",
        description="Train the reference two-layer network on the available digits, evaluate it on held-out "
        "images (truth on the rows of the confusion matrix) and save plots.",
    )
    train.add_arguments(train_parser)
    train_parser.set_defaults(run=train.run)

    build_parser_ = sub.add_parser(
        "build",
        help="regenerate release/ (nbgrader generate_assignment), the sample class in submitted/ and the executed notebooks/",
        description="Regenerate everything derived from source/: the student release, the sample submissions "
        "(solution, partial, blank) and the executed notebooks that nbval checks. Run with MNIST_DIR=../shared/mnist "
        "so the executed notebooks match the CI baseline.",
    )
    build.add_arguments(build_parser_)
    build_parser_.set_defaults(run=build.run)

    grade_parser = sub.add_parser(
        "grade",
        help="autograde every submission of an assignment and write grades/ASSIGNMENT.csv",
        description="Autograde submitted/<student>/ASSIGNMENT/ with nbgrader and write the grade table.",
    )
    grading.add_arguments(grade_parser)
    grade_parser.set_defaults(run=grading.run)

    course_parser = sub.add_parser(
        "course",
        help="the main job: train the reference network, build everything, grade the sample class, print the grade table",
        description="Train and evaluate the reference network, build the release and executed notebooks, "
        "grade the sample class and print the grade table.",
    )
    main_job.add_arguments(course_parser)
    course_parser.set_defaults(run=main_job.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if os.environ.get("MNIST_DIR"):
        # Relative to where the command was run; notebooks and kernels run elsewhere.
        os.environ["MNIST_DIR"] = os.path.abspath(os.environ["MNIST_DIR"])
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
