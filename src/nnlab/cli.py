"""The `nnlab` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import sys

from . import train

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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
