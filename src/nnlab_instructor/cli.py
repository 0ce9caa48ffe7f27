"""The `nnlab` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys

from nnlab.errors import NnlabError

from .commands import build, course, grade, train, worker

DESCRIPTION = """\
Neural networks from scratch in numpy, on MNIST: the course's command.

Data: MNIST's official 10,000 test images, built into nnlab and split 8,000 / 2,000, the same on every
machine. `nnlab train --full` uses the full 60,000 / 10,000 set instead ($MNIST_DIR, else OpenML).
"""


# Each subcommand: (name, module with add_arguments and run, one-line help, description).
SUBCOMMANDS = (
    (
        "train",
        train,
        "train the reference network; print accuracy, confusion matrix and classification report; save plots",
        "Train the reference two-layer network on MNIST, evaluate it on held-out "
        "images (truth on the rows of the confusion matrix) and save plots.",
    ),
    (
        "build",
        build,
        "regenerate release/ (nbgrader generate_assignment), the sample class in submitted/ "
        "and the executed notebooks/",
        "Regenerate everything derived from source/: the student release, the sample submissions "
        "(solution, partial, blank) and the executed notebooks that nbval checks.",
    ),
    (
        "grade",
        grade,
        "grade every submission of an assignment (sandboxed, tests decided outside the kernel); "
        "write grades/ASSIGNMENT.csv",
        "Grade submitted/<student>/ASSIGNMENT/ on top of nbgrader and write the grade table and feedback.",
    ),
    (
        "worker",
        worker,
        "check the sandbox on this machine, then grade as a worker of a Dask cluster (nnlab grade --scheduler)",
        "Run a one-cell notebook in the sandbox (refuse to start if it fails), then start a Dask worker "
        "that joins the scheduler at ADDRESS (tls:// with certificates; tcp:// only on this machine).",
    ),
    (
        "course",
        course,
        "the main job: train the reference network, build everything, grade the sample class, print the grade table",
        "Train and evaluate the reference network, build the release and executed notebooks, "
        "grade the sample class and print the grade table.",
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnlab", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module, help_text, description in SUBCOMMANDS:
        subparser = sub.add_parser(name, help=help_text, description=description)
        module.add_arguments(subparser)
        subparser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except NnlabError as exc:
        # Missing data or a broken course folder: what is wrong and how to fix it, not a traceback.
        print(f"nnlab {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
