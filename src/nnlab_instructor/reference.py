"""Reference maths of the course: the one implementation notebooks, tests and benchmarks import.

Everything is column-major, like the tutorial the course follows: a batch of samples is a matrix
``X`` of shape ``(n_features, n_samples)``, one sample per column, and labels are one-hot columns
``Y`` of shape ``(n_classes, n_samples)``. Nothing here loops over samples in Python.

The network is ``X -> sigmoid(W1 @ X + b1) -> softmax(W2 @ A1 + b2)``, trained on the mean
categorical cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.preprocessing import OneHotEncoder

from nnlab.augment import RandomShifts

# The blocks no notebook grades live in the student package; the answer key uses the same ones.
from nnlab.network import (
    DEFAULT_HIDDEN,
    PARAM_NAMES,
    Params,
    init_params,
    relative_error,
    sigmoid,
)
from nnlab.network import accuracy as accuracy

# Chosen by a sweep on 8,000 of MNIST's test images (2,000 held out): small batches regularise a
# network that otherwise overfits so little data, and 15 epochs reach ~95.9 % in about 3 seconds.
# benchmarks/sweep_defaults.py re-checks this without looking at the held-out images: on three
# 6,400 / 1,600 splits of the training images, constant-rate settings with batches of 4 to 16 all
# score within about half a point of each other (best 95.5 % mean), so the defaults stand; they give
# 95.85 % on the held-out images with seed 0 (95.4 % mean over seeds 0-4) in about 2 seconds.
DEFAULT_LEARNING_RATE = 0.5
DEFAULT_BATCH_SIZE = 8
DEFAULT_EPOCHS = 15

# The function defaults above are plain SGD, the algorithm students write in notebook 06. What
# `nnlab train` uses trains the same 64 sigmoid units much better on 8,000 images: every epoch each
# training image is moved by up to one pixel (a digit moved by a pixel is the same digit, so the
# network stops fitting positions), the learning rate starts higher and falls along half a cosine
# wave, and a small L2 penalty keeps the weights small. Chosen on three 6,400 / 1,600 splits of the
# training images, never the held-out ones (benchmarks/sweep_recommended.py; benchmarks/README.md).
RECOMMENDED: Mapping[str, Any] = MappingProxyType(
    {
        "batch_size": DEFAULT_BATCH_SIZE,
        "learning_rate": 1.0,
        "epochs": 20,
        "lr_schedule": "cosine",
        "max_shift": 1,
        "weight_decay": 1e-4,
    }
)


# --------------------------------------------------------------------------- labels (notebook 01)


def one_hot(y: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """One-hot encode integer labels.

    Parameters
    ----------
    y : array_like of shape (n_samples,)
        Integer labels in ``0..n_classes-1``.
    n_classes : int, default=10
        Number of classes (columns), fixed so that a batch that happens to
        miss a digit still gets all 10 columns.

    Returns
    -------
    ndarray of shape (n_samples, n_classes), float64
        Dense: row ``i`` is 1.0 in column ``y[i]`` and 0.0 elsewhere.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, or a label is not an integer in range (the
        message names the first bad label and its index).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot: y must be 1-D (n_samples,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        # Accept integral floats (labels often pass through float arrays) but
        # never truncate 2.5 to 2.
        if not np.issubdtype(y.dtype, np.number):
            raise ValueError(f"one_hot: labels must be integers, got dtype {y.dtype}")
        non_int = np.flatnonzero(~np.isfinite(y) | (np.mod(y, 1) != 0))
        if non_int.size:
            i = int(non_int[0])
            raise ValueError(f"one_hot: label {y[i].item()!r} at index {i} is not an integer")
        y = y.astype(np.int64)
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"one_hot: label {int(y[i])} at index {i} is outside 0..{n_classes - 1} ({bad.size} bad label(s) in total)"
        )
    # sparse_output replaced sparse= in scikit-learn 1.2 (sparse= was removed
    # in 1.4); dense output is what the numpy network code expects.
    encoder = OneHotEncoder(sparse_output=False, categories=[np.arange(n_classes)], dtype=np.float64)
    return encoder.fit_transform(y.reshape(-1, 1))


# --------------------------------------------------------------------------- activations and loss


def softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise softmax: turns each column of scores into probabilities.

    Parameters
    ----------
    Z : ndarray of shape (n_classes, n_samples)
        Scores (logits), one column per sample.

    Returns
    -------
    P : ndarray of shape (n_classes, n_samples)
        ``P[:, j] = exp(Z[:, j]) / sum(exp(Z[:, j]))``; every column sums to 1.

    Notes
    -----
    Subtracting each column's maximum first leaves the result unchanged (softmax is invariant to
    adding a constant to a column) and keeps ``exp`` from overflowing at scores like 1000.
    """
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"softmax expects scores of shape (n_classes, n_samples), got shape {Z.shape}")
    shifted = Z - Z.max(axis=0, keepdims=True)
    E = np.exp(shifted)
    E /= E.sum(axis=0, keepdims=True)
    return E


def cross_entropy(Y: np.ndarray, P: np.ndarray) -> float:
    """Mean categorical cross-entropy between one-hot labels and predicted probabilities.

    ``L = -(1 / n_samples) * sum_j sum_k Y[k, j] * log(P[k, j])``

    Parameters
    ----------
    Y : ndarray of shape (n_classes, n_samples)
        One-hot labels (each column has a single 1).
    P : ndarray of shape (n_classes, n_samples)
        Predicted probabilities, each column summing to 1.

    Returns
    -------
    float
        The loss, finite even where a probability is exactly 0.

    Notes
    -----
    Probabilities are clipped below at the machine epsilon of their dtype, as scikit-learn's
    ``log_loss`` does, so ``log(0)`` never turns the loss into ``inf``.
    """
    Y = np.asarray(Y)
    P = np.asarray(P)
    if Y.shape != P.shape or Y.ndim != 2:
        raise ValueError(
            f"cross_entropy expects Y and P of the same shape (n_classes, n_samples), got {Y.shape} and {P.shape}"
        )
    dtype = P.dtype if np.issubdtype(P.dtype, np.floating) else np.float64
    eps = np.finfo(dtype).eps
    log_p = np.log(np.clip(P, eps, 1.0))
    return float(-np.sum(Y * log_p) / Y.shape[1])


# --------------------------------------------------------------------------- the network


def forward(X: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Forward pass.

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    params : dict with W1 (n_hidden, n_features), b1 (n_hidden, 1), W2 (n_classes, n_hidden), b2 (n_classes, 1)

    Returns
    -------
    cache : dict
        ``Z1``, ``A1`` of shape (n_hidden, n_samples): hidden scores and sigmoid activations;
        ``Z2``, ``A2`` of shape (n_classes, n_samples): output scores and softmax probabilities.
    """
    Z1 = params["W1"] @ X
    Z1 += params["b1"]
    A1 = sigmoid(Z1)
    Z2 = params["W2"] @ A1
    Z2 += params["b2"]
    A2 = softmax(Z2)
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def backward(X: np.ndarray, Y: np.ndarray, params: Params, cache: dict[str, np.ndarray]) -> Params:
    """Gradients of the mean cross-entropy with respect to all four parameters.

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    Y : ndarray of shape (n_classes, n_samples)
        One-hot labels.
    params : dict
        As returned by :func:`init_params`.
    cache : dict
        As returned by :func:`forward` for the same ``X`` and ``params``.

    Returns
    -------
    grads : dict
        ``dW1`` (n_hidden, n_features), ``db1`` (n_hidden, 1), ``dW2`` (n_classes, n_hidden),
        ``db2`` (n_classes, 1), each the same shape as its parameter.

    Notes
    -----
    With softmax and categorical cross-entropy the output error is simply
    ``dZ2 = (A2 - Y) / n_samples``; the hidden error is ``dZ1 = (W2.T @ dZ2) * A1 * (1 - A1)``.
    """
    n_samples = X.shape[1]
    A1 = cache["A1"]
    dZ2 = cache["A2"] - Y
    dZ2 /= n_samples
    dW2 = dZ2 @ A1.T
    db2 = dZ2.sum(axis=1, keepdims=True)
    dZ1 = params["W2"].T @ dZ2
    dZ1 *= A1 * (1 - A1)
    dW1 = dZ1 @ X.T
    db1 = dZ1.sum(axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def loss(X: np.ndarray, Y: np.ndarray, params: Params) -> float:
    """Mean cross-entropy of the network on ``X`` (n_features, n_samples) with labels ``Y`` (n_classes, n_samples)."""
    return cross_entropy(Y, forward(X, params)["A2"])


def predict_proba(X: np.ndarray, params: Params) -> np.ndarray:
    """Class probabilities, ndarray of shape (n_classes, n_samples), for ``X`` of shape (n_features, n_samples)."""
    return forward(X, params)["A2"]


def predict(X: np.ndarray, params: Params) -> np.ndarray:
    """Predicted digit for every sample.

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    params : dict

    Returns
    -------
    ndarray of shape (n_samples,), integer class labels.
    """
    return np.argmax(predict_proba(X, params), axis=0)


# --------------------------------------------------------------------------- training


def minibatches(n_samples: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index arrays of the batches of one epoch.

    Parameters
    ----------
    n_samples : int
    batch_size : int
    rng : numpy.random.Generator or None
        Shuffles the samples when given; ``None`` keeps their order.

    Yields
    ------
    ndarray of shape (batch_size,) of sample indices; the last batch is shorter when
    ``batch_size`` does not divide ``n_samples``. Every sample appears exactly once per epoch.

    Notes
    -----
    The tutorial sliced ``begin:min(begin + batch_size, n - 1)``, which silently dropped the last
    sample of every epoch; slicing ``begin:begin + batch_size`` is already clipped by numpy.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for begin in range(0, n_samples, batch_size):
        yield order[begin : begin + batch_size]


def _as_training_data(X: np.ndarray, Y: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(
            f"expected X (n_features, n_samples) and Y (n_classes, n_samples), got {X.shape} and {Y.shape}"
        )
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} samples (columns) but Y has {Y.shape[1]}: did you forget to transpose one of them?"
        )
    return X, Y


LR_SCHEDULES = ("constant", "linear", "cosine")


def learning_rate_factor(schedule: str | Callable[[int, int], float], epoch: int, epochs: int) -> float:
    """Factor applied to the learning rate during ``epoch`` (1, 2, ..., ``epochs``).

    Parameters
    ----------
    schedule : {"constant", "linear", "cosine"} or callable
        ``"constant"``: 1 in every epoch. ``"linear"``: ``(epochs - epoch + 1) / epochs``, falling in
        equal steps from 1 in the first epoch to ``1 / epochs`` in the last. ``"cosine"``:
        ``(1 + cos(pi * (epoch - 1) / epochs)) / 2``, half a cosine wave from 1 in the first epoch
        down towards 0, slow at both ends. A callable is called as ``schedule(epoch, epochs)`` and
        returns the factor (e.g. a step decay).
    epoch, epochs : int

    Returns
    -------
    float
    """
    if callable(schedule):
        return float(schedule(epoch, epochs))
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return (epochs - epoch + 1) / epochs
    if schedule == "cosine":
        return float((1 + np.cos(np.pi * (epoch - 1) / epochs)) / 2)
    raise ValueError(
        f"lr_schedule must be one of {LR_SCHEDULES} or a callable (epoch, epochs) -> factor, got {schedule!r}"
    )


class _FusedSGD:
    """Minibatch SGD steps on the network with every intermediate in a reused buffer.

    One call of :meth:`step` does exactly what ::

        grads = backward(Xb, Yb, params, forward(Xb, params))
        params[name] -= learning_rate * grads["d" + name]   # for every parameter

    does for the batch ``Xb = X[:, index]``, ``Yb = Y[:, index]``: the same maths, regrouped so that
    numpy allocates nothing and passes over every array as few times as it can:

    * the batch is gathered with :func:`numpy.take` into a preallocated buffer from a row-major view
      of the data: no copy of the data set per epoch, and none per run either when ``X.T`` is
      already C-contiguous, which is how the course passes its data (``X_train.T``);
    * ``W2`` and ``b2`` live side by side in one matrix ``[W2 | b2]`` acting on ``[A1; 1]``, so one
      matmul gives ``Z2`` with its bias and one gives ``dW2`` with ``db2``;
    * ``dZ2 = A2 - Y`` is multiplied once by ``learning_rate / m`` (a 10-row array), so every
      gradient computed from it is already the step to subtract;
    * every result goes into its buffer through ``out=``; ``W2.T @ dZ2`` is taken before ``W2`` is
      updated, as in :func:`backward`.

    Only numpy's matmul is used for the products: calling scipy's BLAS as well would put a second
    OpenBLAS thread pool next to numpy's, and the two fight over the cores (20x slower on 2 cores).

    With ``weight_decay`` the step is that of the loss plus ``weight_decay / 2`` times the squared
    weights (biases excluded): ``W -= learning_rate * (dW + weight_decay * W)``, done as a scaling of
    ``W`` by ``1 - learning_rate * weight_decay`` before subtracting the gradient step. With
    ``shifts`` (a :class:`~nnlab.augment.RandomShifts` over the same rows) the batch is gathered from
    the images moved by this epoch's offsets instead of from ``X``.

    ``W1`` and ``b1`` are updated in place in ``params``; ``[W2 | b2]`` is copied back into
    ``params["W2"]`` and ``params["b2"]`` by :meth:`sync` (the training loop calls it every epoch).
    """

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        params: Params,
        *,
        weight_decay: float = 0.0,
        shifts: RandomShifts | None = None,
    ):
        # Rows are samples: a batch is a gather of contiguous rows and its transpose a free view.
        self.X_rows = np.ascontiguousarray(X.T)
        self.Y_rows = np.ascontiguousarray(Y.T)
        self.weight_decay = weight_decay
        self.shifts = shifts
        self.params = params
        self.W1 = params["W1"]
        self.b1 = params["b1"]
        self.minus_b1 = np.empty_like(self.b1)
        self.n_hidden = self.W1.shape[0]
        self.W2b = np.ascontiguousarray(np.hstack([params["W2"], params["b2"]]))
        self.dW1 = np.empty_like(self.W1)
        self.dW2b = np.empty_like(self.W2b)
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def buffers(self, m: int) -> tuple[np.ndarray, ...]:
        """Work arrays for a batch of ``m`` samples (at most two sizes per run: full and last batch)."""
        if m not in self._buffers:
            dtype = self.W1.dtype
            (n_hidden, n_features), n_classes = self.W1.shape, self.W2b.shape[0]
            A1_1 = np.empty((n_hidden + 1, m), dtype)  # [A1; 1]
            A1_1[n_hidden] = 1
            self._buffers[m] = (
                np.empty((m, n_features), dtype),  # Xb.T
                np.empty((m, n_classes), dtype),  # Yb.T
                np.empty((n_hidden, m), dtype),  # Z1, then A1 * (1 - A1)
                A1_1,
                np.empty((n_classes, m), dtype),  # Z2, then A2, then the step of dZ2
                np.empty((1, m), dtype),  # column maxima, then column sums
                np.empty((n_hidden + 1, m), dtype),  # [W2 | b2].T @ dZ2: first n_hidden rows dA1, then dZ1
                np.empty((n_hidden, 1), dtype),  # db1
                np.ones((m, 1), dtype),
            )
        return self._buffers[m]

    def step(self, index: np.ndarray | None, learning_rate: float) -> None:
        """One SGD update on the samples ``index`` (``None``: all samples, in order)."""
        W1, b1, W2b, dW1, dW2b, n_hidden = self.W1, self.b1, self.W2b, self.dW1, self.dW2b, self.n_hidden
        if index is None and self.shifts is None:
            m = self.X_rows.shape[0]
            _, _, Z1, A1_1, Z2, col, dA1_1, db1, ones = self.buffers(m)
            Xb_rows, Yb_rows = self.X_rows, self.Y_rows
        else:
            if index is None:
                index = np.arange(self.X_rows.shape[0])
            m = index.shape[0]
            Xb_rows, Yb_rows, Z1, A1_1, Z2, col, dA1_1, db1, ones = self.buffers(m)
            if self.shifts is None:
                # mode="clip" skips the bounds check that makes take() buffer its output.
                np.take(self.X_rows, index, axis=0, out=Xb_rows, mode="clip")
            else:
                self.shifts.batch(index, out=Xb_rows)
            np.take(self.Y_rows, index, axis=0, out=Yb_rows, mode="clip")
        A1 = A1_1[:n_hidden]
        dZ1 = dA1_1[:n_hidden]
        # forward: Z1 = W1 X + b1, A1 = sigmoid(Z1), A2 = softmax([W2 | b2] [A1; 1])
        np.matmul(W1, Xb_rows.T, out=Z1)
        if m < 32:
            Z1 += b1
            expit(Z1, out=A1)
        else:
            # sigmoid(Z1) = 1 / (1 + exp(-Z1)): four passes of numpy's vectorised exp and arithmetic
            # beat scipy's expit by 2-4x on large batches. exp overflows to inf below Z1 ~ -88
            # (float32) or -709 (float64), and 1 / (1 + inf) is then exactly 0, the right limit.
            np.negative(b1, out=self.minus_b1)
            np.subtract(self.minus_b1, Z1, out=Z1)
            with np.errstate(over="ignore", under="ignore"):
                np.exp(Z1, out=Z1)
            Z1 += 1
            np.reciprocal(Z1, out=A1)
        np.matmul(W2b, A1_1, out=Z2)
        np.maximum.reduce(Z2, axis=0, keepdims=True, out=col)
        Z2 -= col
        np.exp(Z2, out=Z2)
        np.add.reduce(Z2, axis=0, keepdims=True, out=col)
        Z2 /= col
        # backward: dZ2 = (A2 - Y) / m, times the learning rate so the gradients below are steps
        Z2 -= Yb_rows.T
        Z2 *= learning_rate / m
        np.matmul(W2b.T, Z2, out=dA1_1)  # W2.T @ dZ2, with W2 before its update
        np.matmul(Z2, A1_1.T, out=dW2b)  # [dW2 | db2]
        if self.weight_decay:
            decay = 1 - learning_rate * self.weight_decay
            W2b[:, :n_hidden] *= decay
            W1 *= decay
        W2b -= dW2b
        np.subtract(1, A1, out=Z1)
        Z1 *= A1
        dZ1 *= Z1  # dZ1 = (W2.T dZ2) * A1 * (1 - A1)
        np.matmul(dZ1, Xb_rows, out=dW1)
        W1 -= dW1
        np.matmul(dZ1, ones, out=db1)  # row sums of dZ1, as a matrix-vector product
        b1 -= db1

    def sync(self) -> None:
        """Copy ``[W2 | b2]`` back into ``params``."""
        self.params["W2"][...] = self.W2b[:, : self.n_hidden]
        self.params["b2"][...] = self.W2b[:, self.n_hidden :]


_BLAS_TYPES = (np.float32, np.float64)


def _fusable(params: Params) -> bool:
    """Whether :class:`_FusedSGD` can train these parameters in place (float32 or float64, C order)."""
    dtype = params["W1"].dtype.type
    return dtype in _BLAS_TYPES and all(
        params[name].dtype.type is dtype and params[name].flags.c_contiguous for name in PARAM_NAMES
    )


def _sgd_epochs(
    X: np.ndarray,
    Y: np.ndarray,
    params: Params,
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int | None,
    rng: np.random.Generator | None,
    progress: bool,
    description: str,
    lr_schedule: str | Callable[[int, int], float] = "constant",
    weight_decay: float = 0.0,
    max_shift: int = 0,
) -> Iterator[int]:
    """Update ``params`` in place, one epoch at a time; yields the number of the epoch just done.

    ``rng`` shuffles the samples (``None``: batches in order). With ``max_shift``, every epoch
    first draws each image's offset from ``rng``, then shuffles.
    """
    learning_rate_factor(lr_schedule, 1, max(epochs, 1))  # an unknown schedule fails before any work
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    n_samples = X.shape[1]
    if max_shift and rng is None:
        raise ValueError("max_shift needs a random generator for the offsets")
    shuffle_rng = rng
    if batch_size is None or batch_size >= n_samples:
        batch_size = n_samples
        shuffle_rng = None  # one full batch: shuffling changes nothing but costs a copy
    full_batch = batch_size == n_samples
    X_rows = np.ascontiguousarray(X.T)
    Y_rows = np.ascontiguousarray(Y.T)
    shifts = RandomShifts(X_rows, max_shift) if max_shift else None
    epoch_range = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epoch_range = tqdm(epoch_range, desc=description, unit="epoch")
    if _fusable(params):
        fused = _FusedSGD(X_rows.T, Y_rows.T, params, weight_decay=weight_decay, shifts=shifts)
        for epoch in epoch_range:
            lr = learning_rate * learning_rate_factor(lr_schedule, epoch, epochs)
            if shifts is not None:
                assert rng is not None  # max_shift without a generator was rejected above
                shifts.new_epoch(rng)
            for index in minibatches(n_samples, batch_size, shuffle_rng):
                fused.step(None if full_batch else index, lr)
            fused.sync()
            yield epoch
        return
    # Other dtypes (e.g. longdouble): the plain forward and backward passes.
    for epoch in epoch_range:
        lr = params["W1"].dtype.type(learning_rate * learning_rate_factor(lr_schedule, epoch, epochs))
        if shifts is not None:
            assert rng is not None  # max_shift without a generator was rejected above
            shifts.new_epoch(rng)
        for index in minibatches(n_samples, batch_size, shuffle_rng):
            if shifts is not None:
                Xb, Yb = shifts.batch(index).T, Y_rows[index].T
            elif full_batch:
                Xb, Yb = X, Y
            else:
                Xb, Yb = X_rows[index].T, Y_rows[index].T
            _plain_step(Xb, Yb, params, lr, weight_decay)
        yield epoch


def _plain_step(Xb: np.ndarray, Yb: np.ndarray, params: Params, lr: Any, weight_decay: float) -> None:
    """One gradient step on one batch with the plain forward and backward passes, in place."""
    grads = backward_with_weight_decay(Xb, Yb, params, forward(Xb, params), weight_decay)
    for name in PARAM_NAMES:
        grad = grads["d" + name]
        grad *= lr
        params[name] -= grad


def train_sgd(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    n_hidden: int = DEFAULT_HIDDEN,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    init: str = "scaled",
    dtype: type = np.float64,
    params: Params | None = None,
    progress: bool = False,
    lr_schedule: str | Callable[[int, int], float] = "constant",
    weight_decay: float = 0.0,
    max_shift: int = 0,
) -> Params:
    """Train the network by minibatch stochastic gradient descent.

    Each epoch shuffles the samples and visits every one exactly once, in batches of
    ``batch_size`` (the last batch is smaller when ``batch_size`` does not divide ``n_samples``).

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    Y : ndarray of shape (n_classes, n_samples)
        One-hot labels.
    n_hidden : int
        Hidden units (ignored when ``params`` is given).
    learning_rate, epochs, batch_size : as named.
    seed : int
        Seeds one generator, used for the initial weights and then for the shuffles.
    init : {"scaled", "randn"}
        See :func:`init_params`.
    dtype : numpy float type
        Arithmetic precision (float32 is faster, float64 is what the gradient check uses).
    params : dict, optional
        Starting parameters (copied, never modified); drawn by :func:`init_params` when omitted.
    progress : bool
        Show a tqdm progress bar.
    lr_schedule : {"constant", "linear", "cosine"} or callable
        How the learning rate changes from epoch to epoch; ``"constant"`` (the default) keeps
        ``learning_rate`` throughout. See :func:`learning_rate_factor`.
    weight_decay : float
        L2 penalty: each step also subtracts ``learning_rate * weight_decay * W`` from ``W1`` and
        ``W2`` (not the biases), the gradient of ``weight_decay / 2 * (|W1|^2 + |W2|^2)``. 0 (the
        default) is plain SGD on the cross-entropy.
    max_shift : int
        Data augmentation: every epoch, each training image is moved by a random offset of at most
        this many pixels along each axis (see :class:`nnlab.augment.RandomShifts`; needs square
        images). 0 (the default) trains on the images as they are.

    Returns
    -------
    params : dict
        Trained ``W1``, ``b1``, ``W2``, ``b2``.

    See Also
    --------
    RECOMMENDED : the settings that train this network best on 8,000 images.
    """
    params, _ = _run(
        X,
        Y,
        None,
        None,
        batch_size=batch_size,
        n_hidden=n_hidden,
        learning_rate=learning_rate,
        epochs=epochs,
        seed=seed,
        init=init,
        dtype=dtype,
        params=params,
        progress=progress,
        record_every=0,
        lr_schedule=lr_schedule,
        weight_decay=weight_decay,
        max_shift=max_shift,
    )
    return params


def probabilities_after_training(
    X_fit: np.ndarray, Y_fit: np.ndarray, X: np.ndarray, *, epochs: int = 1, seed: int = 0
) -> np.ndarray:
    """Demo values for the notebooks before 06: what a trained network makes of some images.

    The probabilities, ndarray of shape (n_classes, n_samples), that the network trained by
    :func:`train_sgd` (default settings, ``epochs`` and ``seed`` as given) on ``X_fit``, ``Y_fit``
    gives the columns of ``X``. Released as recorded values, never as code.
    """
    return predict_proba(X, train_sgd(X_fit, Y_fit, epochs=epochs, seed=seed))


def train_batch_gd(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    n_hidden: int = DEFAULT_HIDDEN,
    learning_rate: float = 1.0,
    epochs: int = 200,
    seed: int = 0,
    init: str = "scaled",
    dtype: type = np.float64,
    params: Params | None = None,
    progress: bool = False,
    lr_schedule: str | Callable[[int, int], float] = "constant",
) -> Params:
    """Train the network by (full) batch gradient descent: one update per epoch, on all samples.

    Parameters and return value as :func:`train_sgd`, without ``batch_size``.
    """
    params, _ = _run(
        X,
        Y,
        None,
        None,
        batch_size=None,
        n_hidden=n_hidden,
        learning_rate=learning_rate,
        epochs=epochs,
        seed=seed,
        init=init,
        dtype=dtype,
        params=params,
        progress=progress,
        record_every=0,
        lr_schedule=lr_schedule,
    )
    return params


@dataclass
class History:
    """Losses recorded while training.

    Attributes
    ----------
    epoch : ndarray of shape (n_records,)
        Epoch numbers (0 is before training).
    train_loss, val_loss : ndarray of shape (n_records,)
        Mean cross-entropy on the training and validation data after that epoch.
    best_epoch : int
        Epoch with the lowest validation loss among those recorded.
    stopped_early : bool
        Whether early stopping ended training before ``epochs``.
    """

    epoch: np.ndarray = field(default_factory=lambda: np.array([], dtype=int))
    train_loss: np.ndarray = field(default_factory=lambda: np.array([]))
    val_loss: np.ndarray = field(default_factory=lambda: np.array([]))
    best_epoch: int = 0
    stopped_early: bool = False


def train_with_validation(
    X: np.ndarray,
    Y: np.ndarray,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    *,
    n_hidden: int = DEFAULT_HIDDEN,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int | None = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    init: str = "scaled",
    dtype: type = np.float64,
    params: Params | None = None,
    record_every: int = 1,
    patience: int | None = None,
    progress: bool = False,
    lr_schedule: str | Callable[[int, int], float] = "constant",
    weight_decay: float = 0.0,
    max_shift: int = 0,
) -> tuple[Params, History]:
    """Train by minibatch SGD while recording training and validation loss.

    Parameters
    ----------
    X, Y : ndarrays of shape (n_features, n_samples) and (n_classes, n_samples)
        Training data and one-hot labels.
    X_val, Y_val : ndarrays of shape (n_features, n_val) and (n_classes, n_val)
        Validation data, never trained on.
    batch_size : int or None
        ``None`` trains by full-batch gradient descent.
    record_every : int
        Record the losses every this many epochs (and before training, as epoch 0).
    patience : int, optional
        Early stopping: stop once the validation loss has not improved for ``patience``
        recordings, and return the parameters of the best recorded epoch. ``None`` trains for all
        ``epochs`` and returns the final parameters.
    Other parameters as :func:`train_sgd`. The recorded losses are the cross-entropy alone, without
    the ``weight_decay`` penalty, on the images as given (never shifted).

    Returns
    -------
    params : dict
        The final parameters, or with ``patience`` those of the best validation epoch.
    history : History
    """
    if record_every < 1:
        raise ValueError(f"record_every must be at least 1, got {record_every}")
    return _run(
        X,
        Y,
        X_val,
        Y_val,
        batch_size=batch_size,
        n_hidden=n_hidden,
        learning_rate=learning_rate,
        epochs=epochs,
        seed=seed,
        init=init,
        dtype=dtype,
        params=params,
        progress=progress,
        record_every=record_every,
        patience=patience,
        lr_schedule=lr_schedule,
        weight_decay=weight_decay,
        max_shift=max_shift,
    )


def _run(
    X,
    Y,
    X_val,
    Y_val,
    *,
    n_hidden,
    learning_rate,
    epochs,
    batch_size,
    seed,
    init,
    dtype,
    params,
    progress,
    record_every: int,
    patience: int | None = None,
    lr_schedule: str | Callable[[int, int], float] = "constant",
    weight_decay: float = 0.0,
    max_shift: int = 0,
) -> tuple[Params, History]:
    """The one training loop behind train_sgd, train_batch_gd and train_with_validation."""
    learning_rate_factor(lr_schedule, 1, max(epochs, 1))  # an unknown schedule fails before any work
    X, Y = _as_training_data(X, Y, dtype)
    rng = np.random.default_rng(seed)
    if params is None:
        params = init_params(X.shape[0], n_hidden, Y.shape[0], seed=rng, init=init, dtype=dtype)
    else:
        params = {name: np.array(params[name], dtype=dtype, order="C") for name in PARAM_NAMES}
    n_epochs = epochs
    epochs = _sgd_epochs(
        X,
        Y,
        params,
        learning_rate=learning_rate,
        epochs=n_epochs,
        batch_size=batch_size,
        rng=rng,
        progress=progress,
        description="training",
        lr_schedule=lr_schedule,
        weight_decay=weight_decay,
        max_shift=max_shift,
    )
    if record_every == 0:
        for _ in epochs:
            pass
        return params, History()

    X_val, Y_val = _as_training_data(X_val, Y_val, dtype)
    records: list[tuple[int, float, float]] = []
    best = (np.inf, 0, {k: v.copy() for k, v in params.items()})
    stale = 0
    stopped_early = False

    def record(epoch: int) -> bool:
        nonlocal best, stale
        val = loss(X_val, Y_val, params)
        records.append((epoch, loss(X, Y, params), val))
        if val < best[0]:
            best = (val, epoch, {k: v.copy() for k, v in params.items()})
            stale = 0
        else:
            stale += 1
        return patience is not None and stale >= patience

    record(0)
    for epoch in epochs:
        if (epoch % record_every == 0 or epoch == n_epochs) and record(epoch):
            stopped_early = epoch < n_epochs
            break
    epoch_col, train_col, val_col = (np.array(col) for col in zip(*records))
    history = History(epoch_col.astype(int), train_col, val_col, best_epoch=best[1], stopped_early=stopped_early)
    if patience is not None:
        params = best[2]
    return params, history


# --------------------------------------------------------------------------- gradient checking (notebook 04)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred finite-difference gradient of ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a float, for an array ``x`` of the shape of ``x``.
    x : ndarray of any shape, floats
        Where the gradient is measured; left unchanged.
    eps : float
        Step of the centred difference ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.

    Returns
    -------
    ndarray of the same shape as ``x``, float64.
    """
    x = np.array(x)  # a copy, perturbed one entry at a time
    grad = np.zeros(x.shape)
    flat, grad_flat = x.reshape(-1), grad.reshape(-1)  # views: perturbing flat perturbs x
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = f(x)
        flat[i] = saved - eps
        down = f(x)
        flat[i] = saved
        grad_flat[i] = (up - down) / (2 * eps)
    return grad


def loss_gradients_by_differences(
    X: np.ndarray,
    Y: np.ndarray,
    params: Params,
    eps: float = 1e-6,
    loss_fn: Callable[[np.ndarray, np.ndarray, Params], float] = loss,
) -> Params:
    """Centred finite differences of ``loss_fn(X, Y, params)`` (the mean loss by default, or e.g. the
    penalised loss of notebook 09): ``dW1``, ``db1``, ``dW2``, ``db2``, float64."""
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)

    def loss_with(name: str) -> Callable[[np.ndarray], float]:
        return lambda value: loss_fn(X, Y, {**params, name: value})

    return {"d" + name: numerical_gradient(loss_with(name), params[name], eps) for name in PARAM_NAMES}


def gradient_check(
    X: np.ndarray,
    Y: np.ndarray,
    params: Params,
    backward_fn: Callable = backward,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Compare analytic gradients with centred finite differences of the loss.

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples), float64
    Y : ndarray of shape (n_classes, n_samples), one-hot
    params : dict, float64
    backward_fn : callable
        ``backward_fn(X, Y, params, cache)`` under test; the reference by default.
    eps : float

    Returns
    -------
    dict
        Relative error for each of ``W1``, ``b1``, ``W2``, ``b2``; below 1e-7 for a correct
        backward pass in float64.
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    analytic = backward_fn(X, Y, params, forward(X, params))
    measured = loss_gradients_by_differences(X, Y, params, eps)
    return {name: relative_error(analytic["d" + name], measured["d" + name]) for name in PARAM_NAMES}


# --------------------------------------------------------------------------- the capstone (notebook 10)


def fit(
    X: np.ndarray,
    Y: np.ndarray,
    X_val: np.ndarray,
    Y_val: np.ndarray,
    *,
    hidden: int = DEFAULT_HIDDEN,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    epochs: int = DEFAULT_EPOCHS,
    patience: int = 3,
    seed: int = 0,
) -> Params:
    """Notebook 10's ``fit``: a seeded network trained by minibatch SGD with early stopping.

    One generator ``np.random.default_rng(seed)`` draws the starting parameters (:func:`init_params`)
    and then every epoch's shuffle, as the notebook's model answer does with the course's
    ``init_params`` and ``early_stopping``. Training stops once the best validation loss is ``patience``
    epochs old (or after ``epochs``).

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    Y : ndarray of shape (n_classes, n_samples)
        One-hot training labels.
    X_val : ndarray of shape (n_features, n_val)
    Y_val : ndarray of shape (n_classes, n_val)
        Validation data, never trained on; only its loss decides.
    hidden, learning_rate, batch_size, epochs, patience, seed : as named.

    Returns
    -------
    params : dict
        Copies of ``W1`` (hidden, n_features), ``b1`` (hidden, 1), ``W2`` (n_classes, hidden) and
        ``b2`` (n_classes, 1) at the epoch of the lowest validation loss (the first on ties; epoch 0
        is the start). The arguments are not modified.
    """
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")
    params, _ = train_with_validation(
        X,
        Y,
        X_val,
        Y_val,
        n_hidden=hidden,
        learning_rate=learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        patience=patience,
    )
    return params


# --------------------------------------------------------------------------- weight decay and tuning (notebook 09)


def loss_with_weight_decay(X: np.ndarray, Y: np.ndarray, params: Params, weight_decay: float) -> float:
    """Mean cross-entropy plus the L2 penalty ``weight_decay / 2 * (|W1|^2 + |W2|^2)``, biases excluded.

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    Y : ndarray of shape (n_classes, n_samples)
        One-hot labels.
    params : dict
        ``W1`` (n_hidden, n_features), ``b1`` (n_hidden, 1), ``W2`` (n_classes, n_hidden), ``b2`` (n_classes, 1).
    weight_decay : float
        lambda, at least 0. The penalty is added to the mean over the samples, not divided by their
        number: the convention of ``train_sgd(weight_decay=...)`` and :data:`RECOMMENDED`.

    Returns
    -------
    float
    """
    penalty = np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"]))
    return loss(X, Y, params) + weight_decay / 2 * float(penalty)


def backward_with_weight_decay(
    X: np.ndarray, Y: np.ndarray, params: Params, cache: dict[str, np.ndarray], weight_decay: float
) -> Params:
    """Gradients of :func:`loss_with_weight_decay`: :func:`backward`'s, plus ``weight_decay * W`` for each weight.

    Parameters
    ----------
    X : ndarray of shape (n_features, n_samples)
    Y : ndarray of shape (n_classes, n_samples)
    params : dict
        As :func:`init_params` returns; not modified.
    cache : dict
        As :func:`forward` returns for the same ``X`` and ``params``.
    weight_decay : float

    Returns
    -------
    grads : dict
        ``dW1`` (n_hidden, n_features), ``db1`` (n_hidden, 1), ``dW2`` (n_classes, n_hidden),
        ``db2`` (n_classes, 1); the bias gradients are :func:`backward`'s unchanged.
    """
    grads = backward(X, Y, params, cache)
    if weight_decay:
        grads["dW1"] += weight_decay * params["W1"]
        grads["dW2"] += weight_decay * params["W2"]
    return grads


def best_setting(results: list[Mapping[str, Any]]) -> int:
    """Index of the setting with the highest validation accuracy.

    Ties go to the setting with fewer hidden units (the smaller network), then to the first in the list.

    Parameters
    ----------
    results : list of dict
        One dict per setting, at least one, with ``"val_accuracy"`` (float) and ``"n_hidden"`` (int)
        among its keys.

    Returns
    -------
    int
    """
    if not results:
        raise ValueError("best_setting needs at least one result")
    return min(range(len(results)), key=lambda i: (-results[i]["val_accuracy"], results[i]["n_hidden"], i))


# ----------------------------------------------------------------- initialisation and activations (notebook 08)

INIT_SCHEMES = ("normal", "scaled", "he", "zeros")


def init_scale(scheme: str, fan_in: int) -> float:
    """Standard deviation of the weights of a layer with ``fan_in`` inputs under ``scheme`` (0 for ``"zeros"``).

    ``"normal"``: 1, the tutorial's unscaled ``randn``; ``"scaled"``: ``1 / sqrt(fan_in)``, what the course
    uses for sigmoid units; ``"he"``: ``sqrt(2 / fan_in)``, twice the variance, for ReLU units, which pass on
    only half of their inputs' variance; ``"zeros"``: every weight 0.
    """
    scales = {"normal": 1.0, "scaled": np.sqrt(1.0 / fan_in), "he": np.sqrt(2.0 / fan_in), "zeros": 0.0}
    if scheme not in scales:
        raise ValueError(f"scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
    return float(scales[scheme])


def initialise(
    n_features: int, n_hidden: int, n_classes: int, rng: np.random.Generator, scheme: str = "scaled"
) -> Params:
    """Starting parameters of the two-layer network: normal weights of the scheme's scale, zero biases.

    Parameters
    ----------
    n_features, n_hidden, n_classes : int
        Layer sizes (784, 64 and 10 for MNIST).
    rng : numpy.random.Generator
        The only source of randomness: ``W1`` is drawn first, then ``W2``, each with
        ``rng.standard_normal`` (nothing is drawn for ``"zeros"``).
    scheme : {"normal", "scaled", "he", "zeros"}
        The weights' standard deviation, per layer of fan-in ``n``: 1, ``1 / sqrt(n)``, ``sqrt(2 / n)``
        or every weight 0 (see :func:`init_scale`).

    Returns
    -------
    params : dict
        ``W1`` of shape (n_hidden, n_features), ``b1`` of shape (n_hidden, 1), ``W2`` of shape
        (n_classes, n_hidden), ``b2`` of shape (n_classes, 1), float64.
    """
    scale_1, scale_2 = init_scale(scheme, n_features), init_scale(scheme, n_hidden)
    if scheme == "zeros":
        W1, W2 = np.zeros((n_hidden, n_features)), np.zeros((n_classes, n_hidden))
    else:
        W1 = rng.standard_normal((n_hidden, n_features)) * scale_1
        W2 = rng.standard_normal((n_classes, n_hidden)) * scale_2
    return {"W1": W1, "b1": np.zeros((n_hidden, 1)), "W2": W2, "b2": np.zeros((n_classes, 1))}


def collapse_linear(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one linear layer that computes what two linear layers in a row compute.

    ``W2 @ (W1 @ X + b1) + b2 == W @ X + b`` for every ``X`` of shape (n_in, n_samples), with
    ``W = W2 @ W1`` and ``b = W2 @ b1 + b2``.

    Parameters
    ----------
    W1 : ndarray of shape (n_mid, n_in)
    b1 : ndarray of shape (n_mid, 1)
    W2 : ndarray of shape (n_out, n_mid)
    b2 : ndarray of shape (n_out, 1)

    Returns
    -------
    W : ndarray of shape (n_out, n_in)
    b : ndarray of shape (n_out, 1)
    """
    return W2 @ W1, W2 @ b1 + b2


def relu(Z: np.ndarray) -> np.ndarray:
    """Rectified linear unit, element-wise: ``max(Z, 0)``, a new array of the shape of ``Z``."""
    return np.maximum(Z, 0.0)


def relu_derivative(Z: np.ndarray) -> np.ndarray:
    """Derivative of :func:`relu` at ``Z``, element-wise: 1.0 where ``Z > 0``, else 0.0 (0.0 at ``Z == 0`` too)."""
    return (np.asarray(Z) > 0).astype(np.float64)
