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


def plot_weight_images(W: np.ndarray, *, n: int = 16, columns: int = 8, title: str | None = None) -> Figure:
    """The incoming weights of the first ``n`` hidden units, each shown as an image of the input.

    Parameters
    ----------
    W : ndarray of shape (n_hidden, n_features)
        First-layer weights ``W1``: row ``i`` holds what hidden unit ``i`` multiplies each pixel by.
    n, columns : int
        How many units, in how many columns.
    title : str, optional

    Blue is a positive weight, red a negative one, white zero. Each unit has its own colour scale,
    symmetric around 0 up to its largest ``|weight|`` (shown above it), so that the faint pattern of a
    unit with small weights is as visible as that of a unit with large ones.
    """
    W = np.asarray(W)
    n = min(n, W.shape[0])
    side = _image_side(W.shape[1])
    rows = max(1, -(-n // columns))
    fig = Figure(figsize=(1.2 * columns, 1.25 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            limit = float(np.abs(W[i]).max()) or 1.0
            ax.imshow(W[i].reshape(side, side), cmap="RdBu", vmin=-limit, vmax=limit)
            ax.set_title(f"unit {i}: ±{limit:.2g}", fontsize=8)
    fig.suptitle(f"{title + ': ' if title else ''}first-layer weights (red < 0 < blue), each unit on its own scale")
    return fig


def plot_loss_and_accuracy(runs, *, mark_epoch: int | None = None, title: str | None = None) -> Figure:
    """Loss curves beside accuracy curves, training solid and validation dashed, one colour per run.

    Parameters
    ----------
    runs : dict
        Label -> a run with ``epoch``, ``train_loss``, ``val_loss``, ``train_accuracy`` and
        ``val_accuracy``, each an array of shape (n_records,) (accuracies as fractions in [0, 1]).
    mark_epoch : int, optional
        An epoch to mark on both panels with a vertical line (e.g. the one early stopping keeps).
    title : str, optional
    """
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_loss, ax_accuracy = fig.subplots(1, 2)
    for i, (label, run) in enumerate(runs.items()):
        color = f"C{i}"
        ax_loss.plot(run.epoch, run.train_loss, color=color, label=f"{label}, training")
        ax_loss.plot(run.epoch, run.val_loss, color=color, linestyle="--", label=f"{label}, validation")
        ax_accuracy.plot(run.epoch, 100 * np.asarray(run.train_accuracy), color=color, label=f"{label}, training")
        ax_accuracy.plot(
            run.epoch, 100 * np.asarray(run.val_accuracy), color=color, linestyle="--", label=f"{label}, validation"
        )
    if mark_epoch is not None:
        for ax in (ax_loss, ax_accuracy):
            ax.axvline(mark_epoch, color="gray", linestyle=":", label=f"epoch {mark_epoch}")
    ax_loss.set_ylabel("mean cross-entropy")
    ax_accuracy.set_ylabel("accuracy (%)")
    for ax in (ax_loss, ax_accuracy):
        ax.set_xlabel("epoch")
    ax_loss.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_sweep(
    values: np.ndarray,
    row_values,
    column_values,
    *,
    row_label: str,
    column_label: str,
    title: str = "Validation accuracy (%)",
) -> Figure:
    """A grid of results (e.g. validation accuracy in %) as a heat map, each cell labelled with its value.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_columns)
        ``values[i, j]`` is the result with the ``i``-th row setting and the ``j``-th column setting.
    row_values, column_values : sequences of length n_rows and n_columns
        The settings, shown as tick labels.
    row_label, column_label : str
        What the settings are (axis labels).
    title : str
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(row_values), len(column_values)):
        raise ValueError(
            f"values has shape {values.shape}, expected ({len(row_values)}, {len(column_values)}): "
            f"one row per {row_label}, one column per {column_label}"
        )
    fig = Figure(figsize=(1.3 * len(column_values) + 2, 0.8 * len(row_values) + 1.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    middle = (np.nanmin(values) + np.nanmax(values)) / 2
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="black" if value > middle else "white")
    ax.set_xticks(range(len(column_values)), [str(v) for v in column_values])
    ax.set_yticks(range(len(row_values)), [str(v) for v in row_values])
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    ax.set_title(title)
    fig.colorbar(image, ax=ax)
    return fig
