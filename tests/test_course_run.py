"""The reference network on real MNIST, and the `nnlab train` job end to end."""

import numpy as np
import pytest

from nnlab.data import BUILTIN_DIR, load_mnist, split
from nnlab_instructor import reference as R
from nnlab_instructor.cli import main
from nnlab_instructor.reference import one_hot


@pytest.fixture(scope="module")
def offline_split():
    data = load_mnist()
    assert data.kind == "builtin" and data.X.shape == (10_000, 784)
    return split(data, seed=0)


def test_reference_network_reaches_95_percent_on_the_offline_split_with_default_settings(offline_split):
    X_train, X_test, y_train, y_test = offline_split
    assert X_train.shape == (8_000, 784) and X_test.shape == (2_000, 784)
    params = R.train_sgd(X_train.T, one_hot(y_train).T)
    assert params["W1"].shape == (R.DEFAULT_HIDDEN, 784) and R.DEFAULT_HIDDEN == 64
    held_out = R.accuracy(y_test, R.predict(X_test.T, params))
    assert held_out >= 0.95, f"held-out accuracy {held_out:.2%} with the default settings, expected at least 95%"
    again = R.train_sgd(X_train.T, one_hot(y_train).T)
    assert np.array_equal(again["W1"], params["W1"]), "training with the same seed gave different weights"


def test_recommended_settings_reach_96_percent_on_the_offline_split(offline_split):
    # The target for the course's best settings: 64 sigmoid units, 8,000 training images,
    # at least 96 % of the 2,000 held-out ones (benchmarks/sweep_recommended.py chose them without
    # looking at these images).
    X_train, X_test, y_train, y_test = offline_split
    params = R.train_sgd(X_train.T, one_hot(y_train).T, **R.RECOMMENDED)
    assert params["W1"].shape == (64, 784)
    held_out = R.accuracy(y_test, R.predict(X_test.T, params))
    assert held_out >= 0.96, f"held-out accuracy {held_out:.2%} with R.RECOMMENDED, expected at least 96%"


def test_train_command_prints_accuracy_confusion_matrix_and_report_and_saves_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "not-used-without---full"))
    assert main(["train", "--epochs", "2", "--no-progress", "--plots-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "data: MNIST's official test split, built into nnlab: 10,000 images of 28x28" in out
    assert "split: 8,000 training and 2,000 held-out images" in out
    assert "held-out accuracy:" in out
    assert "learning rate 1.0 (cosine), 2 epochs, images moved by up to 1 pixel(s), weight decay 0.0001" in out, (
        "train should use R.RECOMMENDED"
    )
    assert "rows: true digit, columns: predicted digit" in out
    assert "precision" in out and "macro avg" in out
    for name in ("digits.png", "loss_curves.png", "confusion_matrix.png", "most_confident_errors.png"):
        png = tmp_path / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG"


def test_train_command_full_without_the_data_says_so(tmp_path, monkeypatch, capsys):
    # Only the 10,000 test images in MNIST_DIR, OpenML switched off: a one-line error, no training.
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes((BUILTIN_DIR / name).read_bytes())
    monkeypatch.setenv("MNIST_DIR", str(folder))
    assert main(["train", "--full", "--no-openml", "--epochs", "1", "--no-progress", "--plots-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "held-out accuracy" not in captured.out
    assert captured.err.startswith(
        f"nnlab train: the full MNIST set was asked for, but MNIST_DIR={folder} holds only the 10,000 test images"
    )
    assert "Traceback" not in captured.err
