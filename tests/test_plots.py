"""Plots: the right things on the right axes."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from nnlab import plots
from nnlab_instructor.reference import History


def test_confusion_matrix_has_truth_on_the_rows():
    # The tutorial called confusion_matrix(predictions, truth), transposing the matrix.
    y_true = np.array([0, 0, 0, 1, 2])
    y_pred = np.array([1, 1, 0, 1, 2])
    fig = plots.plot_confusion_matrix(y_true, y_pred)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "True label" and ax.get_xlabel() == "Predicted label"
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(shown, confusion_matrix(y_true, y_pred))
    assert shown[0, 1] == 2, "two true 0s predicted as 1 belong in row 0, column 1"


def test_digit_grid_shows_labels_and_marks_mistakes():
    X = np.random.default_rng(0).random((5, 64))
    fig = plots.plot_digits(X, np.array([1, 2, 3, 4, 5]), predicted=np.array([1, 2, 0, 4, 5]), n=5, columns=3)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["1 → 1", "2 → 2", "3 → 0", "4 → 4", "5 → 5"]
    assert titled[2].title.get_color() == "tab:red" and titled[0].title.get_color() == "black"
    assert titled[0].images[0].get_array().shape == (8, 8)


def test_most_confident_errors_are_wrong_and_sorted_by_confidence():
    y_true = np.array([0, 1, 2, 0])
    P = np.array([[0.1, 0.9, 0.2, 0.9], [0.9, 0.1, 0.2, 0.05], [0.0, 0.0, 0.6, 0.05]])
    np.testing.assert_array_equal(plots.most_confident_errors(y_true, P), [0, 1])
    fig = plots.plot_most_confident_errors(np.zeros((4, 784)), y_true, P)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["0 → 1 (90%)", "1 → 0 (90%)"]


def test_loss_curves_mark_the_best_validation_epoch():
    history = History(np.arange(4), np.array([2.0, 1.0, 0.5, 0.2]), np.array([2.0, 1.2, 1.1, 1.3]), best_epoch=2)
    ax = plots.plot_loss_curves(history).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["training loss", "validation loss", "best validation epoch (2)"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), history.val_loss)


def test_weight_images_show_each_units_row_on_its_own_symmetric_scale():
    W = np.arange(3 * 16, dtype=float).reshape(3, 16) - 20
    fig = plots.plot_weight_images(W, n=2, columns=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["unit 0: ±20", "unit 1: ±11"]
    np.testing.assert_array_equal(shown[1].images[0].get_array(), W[1].reshape(4, 4))
    assert shown[0].images[0].get_clim() == (-20.0, 20.0) and shown[1].images[0].get_clim() == (-11.0, 11.0)


def test_loss_and_accuracy_curves_sit_side_by_side_per_run():
    run = History(np.arange(3), np.array([2.0, 1.0, 0.5]), np.array([2.0, 1.5, 1.6]))
    run.train_accuracy, run.val_accuracy = np.array([0.1, 0.5, 0.9]), np.array([0.1, 0.4, 0.45])
    ax_loss, ax_accuracy = plots.plot_loss_and_accuracy({"plain": run}, mark_epoch=1).axes
    assert [line.get_label() for line in ax_loss.get_lines()] == ["plain, training", "plain, validation", "epoch 1"]
    np.testing.assert_array_equal(ax_loss.get_lines()[1].get_ydata(), run.val_loss)
    np.testing.assert_array_equal(ax_accuracy.get_lines()[1].get_ydata(), [10.0, 40.0, 45.0])
    assert ax_accuracy.get_ylabel() == "accuracy (%)"


def test_sweep_puts_rows_and_columns_where_their_labels_say():
    values = np.array([[90.0, 80.0, 70.0], [60.0, 50.0, 40.0]])
    fig = plots.plot_sweep(values, [5, 20], [0.1, 0.5, 2.0], row_label="batch size", column_label="learning rate")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["5", "20"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.5", "2.0"]
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert ((2, 0), "70.0") in texts and ((0, 1), "60.0") in texts
    with pytest.raises(ValueError, match="one row per batch size"):
        plots.plot_sweep(values.T, [5, 20], [0.1, 0.5, 2.0], row_label="batch size", column_label="learning rate")
