"""Building blocks of the course's network that no notebook grades: students use them freely.

The two-layer network's parameters (:func:`init_params`), its hidden activation (:func:`sigmoid`),
the relative error a gradient check reports (:func:`relative_error`) and :func:`accuracy`. What a
notebook grades (softmax, the loss, the forward and backward passes, the finite-difference gradient, the
training loops...) is never here: students write it, and a later notebook gets the course's version
released beside it (``earlier_steps.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

Params = dict[str, np.ndarray]

PARAM_NAMES = ("W1", "b1", "W2", "b2")

DEFAULT_HIDDEN = 64


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-Z))``, element-wise, without overflow.

    Parameters
    ----------
    Z : ndarray of any shape

    Returns
    -------
    ndarray of the same shape and dtype as ``Z``, values in [0, 1].
    """
    # scipy's expit never overflows, unlike a hand-written 1 / (1 + np.exp(-Z)) at Z = -1000.
    return expit(Z)


def init_params(
    n_input: int,
    n_hidden: int = DEFAULT_HIDDEN,
    n_output: int = 10,
    *,
    seed: int | np.random.Generator = 0,
    init: str = "scaled",
    dtype: type = np.float64,
) -> Params:
    """Random weights and zero biases for the two-layer network.

    Parameters
    ----------
    n_input, n_hidden, n_output : int
        Layer sizes (784, 64 and 10 for MNIST).
    seed : int or numpy.random.Generator
        Seed of the random generator (or the generator itself), so runs are repeatable.
    init : {"scaled", "randn"}
        ``"randn"`` draws standard-normal weights, as the tutorial does; ``"scaled"`` divides them
        by the square root of the layer's fan-in, which keeps the sigmoid out of saturation.
    dtype : numpy float type

    Returns
    -------
    params : dict
        ``W1`` of shape (n_hidden, n_input), ``b1`` of shape (n_hidden, 1),
        ``W2`` of shape (n_output, n_hidden), ``b2`` of shape (n_output, 1).
    """
    if init not in ("scaled", "randn"):
        raise ValueError(f"init must be 'scaled' or 'randn', got {init!r}")
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((n_hidden, n_input))
    W2 = rng.standard_normal((n_output, n_hidden))
    if init == "scaled":
        W1 *= np.sqrt(1.0 / n_input)
        W2 *= np.sqrt(1.0 / n_hidden)
    return {
        "W1": W1.astype(dtype),
        "b1": np.zeros((n_hidden, 1), dtype=dtype),
        "W2": W2.astype(dtype),
        "b2": np.zeros((n_output, 1), dtype=dtype),
    }


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of samples where ``y_pred`` equals ``y_true`` (both of shape (n_samples,))."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"accuracy: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return float(np.mean(y_true == y_pred))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / max(||a|| + ||b||, tiny)``: 0 for equal arrays, 1 for opposite ones."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(denom, np.finfo(np.float64).tiny))
