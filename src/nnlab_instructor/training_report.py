"""Training the reference network and reporting on it: accuracy, confusion matrix, classification
report and plots (what ``nnlab train`` and ``nnlab course`` print)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from nnlab import plots
from nnlab.data import load_mnist, split

from . import reference as R
from .reference import one_hot


def train_and_report(
    *,
    full: bool = False,
    mnist_dir: str | Path | None = None,
    use_openml: bool = True,
    hidden: int = R.DEFAULT_HIDDEN,
    epochs: int = R.RECOMMENDED["epochs"],
    batch_size: int = R.RECOMMENDED["batch_size"],
    learning_rate: float = R.RECOMMENDED["learning_rate"],
    lr_schedule: str = R.RECOMMENDED["lr_schedule"],
    max_shift: int = R.RECOMMENDED["max_shift"],
    weight_decay: float = R.RECOMMENDED.get("weight_decay", 0.0),
    seed: int = 0,
    dtype: str = "float64",
    plots_dir: Path = Path("out/plots"),
    progress: bool = True,
) -> float:
    """Train the reference network with ``nnlab_instructor.reference.RECOMMENDED`` (or the settings given), print
    the report and save the plots in ``plots_dir``; return the held-out accuracy.

    The data is the built-in 10,000 images split 8,000 / 2,000, or with ``full=True`` MNIST's official
    60,000 / 10,000 split (see :func:`nnlab.data.load_mnist`).
    """
    data = load_mnist(mnist_dir, full=full, use_openml=use_openml)
    X_train, X_test, y_train, y_test = split(data, seed=seed)
    print(f"data: {data.describe()}")
    print(f"split: {len(y_train):,} training and {len(y_test):,} held-out images")
    print(
        f"network: {X_train.shape[1]} inputs, {hidden} sigmoid units, 10 softmax outputs; "
        f"SGD with batches of {batch_size}, learning rate {learning_rate} ({lr_schedule}), "
        f"{epochs} epochs, "
        f"images moved by up to {max_shift} pixel(s), weight decay {weight_decay}, {dtype}"
    )
    start = time.perf_counter()
    params, history = R.train_with_validation(
        X_train.T,
        one_hot(y_train).T,
        X_test.T,
        one_hot(y_test).T,
        n_hidden=hidden,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        lr_schedule=lr_schedule,
        max_shift=max_shift,
        weight_decay=weight_decay,
        seed=seed,
        dtype=np.dtype(dtype).type,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    P = R.predict_proba(X_test.T.astype(dtype), params)
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

    plots_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "digits.png": plots.plot_digits(X_test, y_test, predicted=y_pred, title="Held-out digits: truth → predicted"),
        "loss_curves.png": plots.plot_loss_curves(history, title="Training and held-out loss"),
        "confusion_matrix.png": plots.plot_confusion_matrix(y_test, y_pred),
        "most_confident_errors.png": plots.plot_most_confident_errors(X_test, y_test, P),
    }
    for name, figure in figures.items():
        figure.savefig(plots_dir / name, dpi=100)
    print(f"plots: {', '.join(str(plots_dir / name) for name in figures)}")
    return R.accuracy(y_test, y_pred)


def format_confusion_matrix(matrix: np.ndarray) -> str:
    """Plain-text confusion matrix with labelled rows (truth) and columns (prediction)."""
    width = max(5, len(str(matrix.max())) + 1)
    header = "true\\pred" + "".join(f"{j:>{width}}" for j in range(matrix.shape[1]))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join([header, *rows])
