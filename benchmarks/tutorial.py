"""THE SEED TUTORIAL'S CODE, KEPT FOR COMPARISON ONLY -- NOT COURSE CODE.

This is the numpy network of the tutorial the course started from, reconstructed as written so the
benchmark can time it and measure its accuracy next to :mod:`nnlab_instructor.reference`. Its mistakes that
matter for speed or accuracy are kept on purpose:

* ``softmax(z) = exp(z) / sum(exp(z))`` without subtracting the maximum, applied to one column at a
  time through ``np.apply_along_axis`` (a Python call per sample). For scores above ~709 ``exp``
  overflows and the probabilities become ``nan``; :func:`train` counts such columns so a run that
  breaks says so. With this initialisation and learning rate they do not occur on MNIST.
* ``sigmoid(Z1)`` is computed twice more in the backward pass instead of reusing ``A1``.
* every epoch copies the whole training set into shuffled order (``X_train[:, permutation]``).
* a batch ends at ``min(begin + batch_size, n - 1)``, so the last sample of every epoch is never
  used (the last batch of 800 holds 799).
* each epoch ends by computing the cost on all training and test images (printed by the tutorial),
  again through the per-column softmax. ``log(0)`` would make that cost ``-inf``/``nan``; it does
  not happen here either.

Changed, because they are correctness bugs that do not affect timing: the data comes in as
arguments (the tutorial's loop read a global ``X_train``), the random seed is an argument, and the
per-epoch costs are returned instead of printed. The tutorial also had a momentum variant
(``beta = 0.9``); the benchmark uses its plain SGD update.

Layout as in the tutorial: ``X`` is (784, n_samples), one image per column; ``Y`` one-hot columns.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit as sigmoid


def softmax(z):
    return np.exp(z) / np.sum(np.exp(z))


def compute_multiclass_loss(Y, Y_hat):
    L_sum = np.sum(np.multiply(Y, np.log(Y_hat)))
    m = Y.shape[1]
    L = -(1 / m) * L_sum
    return L


def init_params(n_x, n_h, digits):
    return {
        "W1": np.random.randn(n_h, n_x) * np.sqrt(1.0 / n_x),
        "b1": np.zeros((n_h, 1)) * np.sqrt(1.0 / n_x),
        "W2": np.random.randn(digits, n_h) * np.sqrt(1.0 / n_h),
        "b2": np.zeros((digits, 1)) * np.sqrt(1.0 / n_h),
    }


def feed_forward(X, params):
    cache = {}
    cache["Z1"] = np.matmul(params["W1"], X) + params["b1"]
    cache["A1"] = sigmoid(cache["Z1"])
    cache["Z2"] = np.matmul(params["W2"], cache["A1"]) + params["b2"]
    cache["A2"] = np.apply_along_axis(softmax, 0, cache["Z2"])
    return cache


def back_propagate(X, Y, params, cache, m_batch):
    dZ2 = cache["A2"] - Y
    dW2 = (1.0 / m_batch) * np.matmul(dZ2, cache["A1"].T)
    db2 = (1.0 / m_batch) * np.sum(dZ2, axis=1, keepdims=True)

    dA1 = np.matmul(params["W2"].T, dZ2)
    dZ1 = dA1 * sigmoid(cache["Z1"]) * (1 - sigmoid(cache["Z1"]))

    dW1 = (1.0 / m_batch) * np.matmul(dZ1, X.T)
    db1 = (1.0 / m_batch) * np.sum(dZ1, axis=1, keepdims=True)

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def train(
    X_train,
    Y_train,
    X_test,
    Y_test,
    *,
    epochs=100,
    batches=10,
    learning_rate=0.1,
    n_h=64,
    seed=138,
    report_costs=True,
):
    """The tutorial's SGD loop. Returns ``(params, costs, nan_columns)``.

    ``batch_size`` is ``n_samples // batches`` as in the tutorial (800 for 8,000 images).
    ``report_costs`` keeps the tutorial's end-of-epoch cost on the training and test images;
    ``costs`` is a list of ``(epoch, train_cost, test_cost)`` (empty without it).
    ``nan_columns`` counts batch columns whose softmax came out ``nan`` (overflow).
    """
    np.random.seed(seed)
    n_x = X_train.shape[0]
    digits = Y_train.shape[0]
    batch_size = X_train.shape[1] // batches
    params = init_params(n_x, n_h, digits)
    costs = []
    nan_columns = 0

    for i in range(epochs):
        permutation = np.random.permutation(X_train.shape[1])
        X_train_shuffled = X_train[:, permutation]
        Y_train_shuffled = Y_train[:, permutation]

        for j in range(batches):
            begin = j * batch_size
            end = min(begin + batch_size, X_train.shape[1] - 1)
            X = X_train_shuffled[:, begin:end]
            Y = Y_train_shuffled[:, begin:end]
            m_batch = end - begin

            cache = feed_forward(X, params)
            grads = back_propagate(X, Y, params, cache, m_batch)
            nan_columns += int(np.isnan(cache["A2"]).any(axis=0).sum())

            params["W1"] = params["W1"] - learning_rate * grads["dW1"]
            params["b1"] = params["b1"] - learning_rate * grads["db1"]
            params["W2"] = params["W2"] - learning_rate * grads["dW2"]
            params["b2"] = params["b2"] - learning_rate * grads["db2"]

        if report_costs:
            cache = feed_forward(X_train, params)
            train_cost = compute_multiclass_loss(Y_train, cache["A2"])
            cache = feed_forward(X_test, params)
            test_cost = compute_multiclass_loss(Y_test, cache["A2"])
            costs.append((i + 1, float(train_cost), float(test_cost)))

    return params, costs, nan_columns


def predict(X, params):
    """Predicted digit of every column of ``X``, as the tutorial's evaluation does (argmax of A2)."""
    return np.argmax(feed_forward(X, params)["A2"], axis=0)
