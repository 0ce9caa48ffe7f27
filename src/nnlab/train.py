"""`nnlab train`: train the reference network on MNIST and report on it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from . import plots
from . import reference as R
from .data import load_mnist, one_hot, split


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
    data = load_mnist(args.mnist_dir, full=args.full, use_openml=not args.no_openml)
    X_train, X_test, y_train, y_test = split(data, seed=args.seed)
    print(f"data: {data.describe()}")
    print(f"split: {len(y_train):,} training and {len(y_test):,} held-out images")
    print(
        f"network: {X_train.shape[1]} inputs, {args.hidden} sigmoid units, 10 softmax outputs; "
        f"SGD with batches of {args.batch_size}, learning rate {args.learning_rate} ({args.lr_schedule}), "
        f"{args.epochs} epochs, "
        f"images moved by up to {args.max_shift} pixel(s), weight decay {args.weight_decay}, {args.dtype}"
    )
    start = time.perf_counter()
    params, history = R.train_with_validation(
        X_train.T,
        one_hot(y_train).T,
        X_test.T,
        one_hot(y_test).T,
        n_hidden=args.hidden,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr_schedule=args.lr_schedule,
        max_shift=args.max_shift,
        weight_decay=args.weight_decay,
        seed=args.seed,
        dtype=np.dtype(args.dtype).type,
        progress=not args.no_progress,
    )
    seconds = time.perf_counter() - start
    P = R.predict_proba(X_test.T.astype(args.dtype), params)
    y_pred = np.argmax(P, axis=0)
    print(
        f"trained in {seconds:.1f} s; final training loss {history.train_loss[-1]:.4f}, "
        f"held-out loss {history.val_loss[-1]:.4f}"
    )
    print(f"\nheld-out accuracy: {R.accuracy(y_test, y_pred):.2%} ({np.sum(y_test == y_pred):,} of {len(y_test):,})")
    print("\nconfusion matrix (rows: true digit, columns: predicted digit)")
    print(format_confusion_matrix(confusion_matrix(y_test, y_pred, labels=np.arange(10))))
    print("\nclassification report")
    print(classification_report(y_test, y_pred, digits=3, zero_division=0))

    args.plots_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "digits.png": plots.plot_digits(X_test, y_test, predicted=y_pred, title="Held-out digits: truth → predicted"),
        "loss_curves.png": plots.plot_loss_curves(history, title="Training and held-out loss"),
        "confusion_matrix.png": plots.plot_confusion_matrix(y_test, y_pred),
        "most_confident_errors.png": plots.plot_most_confident_errors(X_test, y_test, P),
    }
    for name, figure in figures.items():
        figure.savefig(args.plots_dir / name, dpi=100)
    print(f"plots: {', '.join(str(args.plots_dir / name) for name in figures)}")
    return 0


def format_confusion_matrix(matrix: np.ndarray) -> str:
    """Plain-text confusion matrix with labelled rows (truth) and columns (prediction)."""
    width = max(5, len(str(matrix.max())) + 1)
    header = "true\\pred" + "".join(f"{j:>{width}}" for j in range(matrix.shape[1]))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join([header, *rows])
