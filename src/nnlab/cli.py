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


# Each subcommand: (name, module with add_arguments and run, one-line help, description).
SUBCOMMANDS = (
    ("train", train,
     "train the reference network; print accuracy, confusion matrix and classification report; save plots",
     "Train the reference two-layer network on the available digits, evaluate it on held-out "
     "images (truth on the rows of the confusion matrix) and save plots."),
    ("build", build,
     "regenerate release/ (nbgrader generate_assignment), the sample class in submitted/ and the executed notebooks/",
     "Regenerate everything derived from source/: the student release, the sample submissions "
     "(solution, partial, blank) and the executed notebooks that nbval checks. Run with MNIST_DIR=../shared/mnist "
     "so the executed notebooks match the CI baseline."),
    ("grade", grading,
     "grade every submission of an assignment (sandboxed, tests decided outside the kernel); write grades/ASSIGNMENT.csv",
     "Grade submitted/<student>/ASSIGNMENT/ on top of nbgrader and write the grade table and feedback."),
    ("course", main_job,
     "the main job: train the reference network, build everything, grade the sample class, print the grade table",
     "Train and evaluate the reference network, build the release and executed notebooks, "
     "grade the sample class and print the grade table."),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnlab", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module, help_text, description in SUBCOMMANDS:
        subparser = sub.add_parser(name, help=help_text, description=description)
        module.add_arguments(subparser)
        subparser.set_defaults(run=module.run)
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
