"""Pictures of digits, training curves and mistakes. Every function returns the matplotlib Figure."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay


def _image_side(n_features: int) -> int:
    side = round(np.sqrt(n_features))
    if side * side != n_features:
        raise ValueError(f"cannot show {n_features} features as a square image")
    return side


def plot_digits(
    X: np.ndarray,
    labels: np.ndarray,
    *,
    predicted: np.ndarray | None = None,
    n: int = 24,
    columns: int = 8,
    title: str | None = None,
) -> Figure:
    """A grid of the first ``n`` digits with their labels (and predictions, when given).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        One flattened square image per row (784 for MNIST, 64 for scikit-learn's digits).
    labels : ndarray of shape (n_samples,)
    predicted : ndarray of shape (n_samples,), optional
        Shown as "label → predicted", in red where they differ.
    n, columns : int
        How many digits, in how many columns.
    title : str, optional
    """
    X = np.asarray(X)
    n = min(n, X.shape[0])
    side = _image_side(X.shape[1])
    rows = max(1, -(-n // columns))
    fig = Figure(figsize=(1.2 * columns, 1.35 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        ax.imshow(X[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=max(1.0, float(X.max())))
        text = str(labels[i])
        color = "black"
        if predicted is not None:
            text = f"{labels[i]} → {predicted[i]}"
            color = "black" if predicted[i] == labels[i] else "tab:red"
        ax.set_title(text, fontsize=9, color=color)
    if title:
        fig.suptitle(title)
    return fig


def plot_loss_curves(history, *, title: str = "Training and validation loss") -> Figure:
    """Training and validation loss per epoch, with the best validation epoch marked.

    Parameters
    ----------
    history : nnlab_instructor.reference.History
        With ``epoch``, ``train_loss``, ``val_loss`` arrays of shape (n_records,) and ``best_epoch``.
    """
    fig = Figure(figsize=(6.4, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(history.epoch, history.train_loss, label="training loss")
    ax.plot(history.epoch, history.val_loss, label="validation loss")
    best = int(np.argmin(history.val_loss))
    ax.axvline(
        history.epoch[best], color="gray", linestyle="--", label=f"best validation epoch ({history.epoch[best]})"
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy")
    ax.set_title(title)
    ax.legend()
    return fig


def plot_confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, *, title: str = "Confusion matrix") -> Figure:
    """scikit-learn's confusion matrix display: true digits on the rows, predictions on the columns.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
        Truth first, as scikit-learn expects (the tutorial swapped them, transposing the matrix).
    """
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(title)
    return fig


def most_confident_errors(y_true: np.ndarray, P: np.ndarray, n: int = 12) -> np.ndarray:
    """Indices of the misclassified samples the network was surest of, surest first.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
    P : ndarray of shape (n_classes, n_samples)
        Predicted probabilities (column-major, as :func:`nnlab_instructor.reference.predict_proba`).
    n : int

    Returns
    -------
    ndarray of shape (min(n, n_errors),) of sample indices.
    """
    predicted = np.argmax(P, axis=0)
    wrong = np.flatnonzero(predicted != y_true)
    confidence = P[predicted[wrong], wrong]
    return wrong[np.argsort(-confidence, kind="stable")[:n]]


def plot_most_confident_errors(X: np.ndarray, y_true: np.ndarray, P: np.ndarray, *, n: int = 12) -> Figure:
    """The misclassified digits the network was most confident about, as "truth → predicted (p)".

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y_true : ndarray of shape (n_samples,)
    P : ndarray of shape (n_classes, n_samples)
    """
    index = most_confident_errors(y_true, P, n)
    predicted = np.argmax(P, axis=0)
    fig = plot_digits(
        X[index], y_true[index], predicted=predicted[index], n=len(index), columns=min(6, max(1, len(index)))
    )
    for ax, i in zip(fig.axes, index):
        ax.set_title(f"{y_true[i]} → {predicted[i]} ({P[predicted[i], i]:.0%})", fontsize=9, color="tab:red")
    fig.suptitle("Most confident mistakes (truth → predicted)")
    return fig
