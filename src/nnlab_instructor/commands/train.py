"""`nnlab train`: train the reference network on MNIST and report on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import reference as R


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full",
        action="store_true",
        help="train on MNIST's official 60,000 training images and test on its 10,000 test images: the four IDX files "
        "in --mnist-dir or $MNIST_DIR, else OpenML (default: the 10,000 built-in images, split 8,000 / 2,000)",
    )
    parser.add_argument("--mnist-dir", help="folder of MNIST IDX files to use instead of the built-in images")
    parser.add_argument(
        "--no-openml", action="store_true", help="with --full, do not try to download MNIST from OpenML"
    )
    parser.add_argument(
        "--hidden", type=int, default=R.DEFAULT_HIDDEN, help="hidden sigmoid units (default: %(default)s)"
    )
    best = R.RECOMMENDED
    parser.add_argument("--epochs", type=int, default=best["epochs"], help="default: %(default)s")
    parser.add_argument("--batch-size", type=int, default=best["batch_size"], help="default: %(default)s")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=best["learning_rate"],
        help="starting learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=R.LR_SCHEDULES,
        default=best["lr_schedule"],
        help="how the learning rate falls over the epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--max-shift",
        type=int,
        default=best["max_shift"],
        help="move every training image by up to this many pixels each epoch; 0 for none (default: %(default)s)",
    )
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=best.get("weight_decay", 0.0),
        help="L2 penalty on the weights (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the split, the weights and the shuffles (default: %(default)s)"
    )
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument(
        "--plots-dir", type=Path, default=Path("out/plots"), help="where the PNGs go (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..training_report import train_and_report

    train_and_report(
        full=args.full,
        mnist_dir=args.mnist_dir,
        use_openml=not args.no_openml,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        lr_schedule=args.lr_schedule,
        max_shift=args.max_shift,
        weight_decay=args.weight_decay,
        seed=args.seed,
        dtype=args.dtype,
        plots_dir=args.plots_dir,
        progress=not args.no_progress,
    )
    return 0
