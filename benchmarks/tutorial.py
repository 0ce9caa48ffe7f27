"""THE SEED TUTORIAL'S CODE, KEPT FOR COMPARISON ONLY -- NOT COURSE CODE.

The numpy network of the tutorial the course started from (``/work/shared/seed/tutorial.txt``,
"artificial neural networks ... MNIST data of handwritten digits"), copied as written so that the
benchmark's "tutorial" rows time and score the tutorial itself, next to
:mod:`nnlab_instructor.reference`. Names, layout and maths are the tutorial's: ``A`` is a layer's
weighted input and ``Z`` its activation (the reverse of the course's names); ``X`` is
(784, n_samples), one image per column; ``y`` is one-hot *rows* (n_samples, 10), as its
``OneHotEncoder`` gives them, transposed inside the loop. Its mistakes are kept, each quoted where
it happens:

* initialisation ``np.random.randn`` with no scaling (weights of standard deviation 1 on 784
  inputs: most hidden sigmoids start saturated), biases zero;
* ``softmax`` is ``exp(x) / exp(x).sum()`` without subtracting the maximum (``nan`` once a score
  passes ~709), applied one column at a time through ``np.apply_along_axis`` (a Python call per
  image);
* ``loss`` takes ``np.log`` of the probabilities unclipped (``-inf``/``nan`` on a probability of 0);
* ``sigmoid(A1)`` computed twice more in the backward pass instead of reusing ``Z1``;
* a full shuffled copy of the training set every epoch;
* ``batch_size = int(n / batches)`` and a batch ends at ``min(begin + batch_size, n - 1)``: the
  last image of every epoch is never used (the last of 10 batches of 8,000 images holds 799), and
  with ``n`` not divisible by ``batches`` the remainder is never used either;
* the loss on the whole training set after every 10th epoch (``e % 10 == 0``: epochs 0, 10, ...,
  90 of 100), through the same per-column softmax.

Its settings: ``network_sgd(X_train, y_train, epochs=100, batches = 10, eta=.1)``, 64 sigmoid hidden
units (hard-coded), ``digits = 10`` a global, float64 (``X/255`` of OpenML's float data).

Changed, only so the benchmark can call it as a function on its data:

1. ``seed`` argument: ``np.random.seed(seed)`` before the first draw (the tutorial draws from the
   unseeded global generator, so no two runs agree). ``seed=None`` keeps that behaviour.
2. The losses are returned, ``network_sgd`` returning ``(weights, losses)`` with ``losses`` a list of
   ``(epoch, loss)``, where the tutorial printed ``'Epoch', e, 'loss:', ...`` and returned the
   weights alone.
3. ``record_loss=False`` skips that every-10th-epoch loss (the benchmark's "training only" row);
   the default, ``True``, is the tutorial as written.
4. The data: the benchmark passes its own split (``X`` already in [0, 1], float64, transposed to
   (784, n); one-hot rows), where the tutorial downloaded MNIST from OpenML and called
   ``train_test_split(X, y, test_size = int(6e4))`` -- 60,000 *test* and 10,000 training images,
   despite its comment "create 10,000 observation test set".

Not copied: the tutorial's full-batch ``network()`` (it read the global ``X_train`` for ``W1``'s
shape) and ``network_val()`` (500 epochs at ``eta=.99``, losses on both sets every 10th epoch):
the benchmark runs neither. The tutorial has no momentum, no learning-rate schedule, no weight
decay, no early stopping and no max-shifted or clipped softmax or log; neither does this file.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit as sigmoid

# K
digits = 10


def softmax(x):
    return np.exp(x) / np.exp(x).sum()


def loss(true, predicted):
    L_sum = np.sum(np.multiply(true, np.log(predicted)))
    L = -1 * (L_sum / true.shape[0])
    return L


def feed_forward(X, weights):
    A1 = np.matmul(weights["W1"], X) + weights["b1"]
    Z1 = sigmoid(A1)
    A2 = np.matmul(weights["W2"], Z1) + weights["b2"]
    Z2 = np.apply_along_axis(softmax, 0, A2)
    return Z2


def network_sgd(X, y, epochs, batches, eta, seed=None, record_loss=True):
    if seed is not None:  # change 1: the tutorial never seeds
        np.random.seed(seed)
    losses = []  # change 2: returned, where the tutorial printed them

    # calculate batch size
    batch_size = int(X.shape[1] / batches)

    # intialize weights and biases
    # The tutorial's initialisation, unscaled: "W1 = np.random.randn(64, X.shape[0])"
    W1 = np.random.randn(64, X.shape[0])
    b1 = np.zeros((64, 1))
    W2 = np.random.randn(digits, 64)
    b2 = np.zeros((digits, 1))

    # iterate through epochs
    for e in range(epochs):
        # shuffle observations
        permutation = np.random.permutation(X.shape[1])
        X_shuffled = X[:, permutation]
        y_shuffled = y[permutation, :]

        # iterate through batches
        for i in range(batches):
            # subset batch i
            begin = i * batch_size
            # The tutorial's slice, which never reaches the last image: "end = min(begin + batch_size, X.shape[1] - 1)"
            end = min(begin + batch_size, X.shape[1] - 1)
            X_batch = X_shuffled[:, begin:end]
            y_batch = y_shuffled[begin:end, :]

            # calculate feed forward predictions
            A1 = np.matmul(W1, X_batch) + b1
            Z1 = sigmoid(A1)
            A2 = np.matmul(W2, Z1) + b2
            # The tutorial's per-column softmax: "Z2 = np.apply_along_axis(softmax, 0, A2)"
            Z2 = np.apply_along_axis(softmax, 0, A2)

            # calculate derivatives for second weight layer
            dA2 = Z2 - y_batch.T
            dW2 = np.matmul(dA2, Z1.T) / X_batch.shape[1]
            db2 = np.sum(dA2, axis=1, keepdims=True) / X_batch.shape[1]

            # calculate derivatives for first weight layer
            dZ1 = np.matmul(W2.T, dA2)
            # The tutorial recomputes the sigmoid: "dA1 = dZ1 * sigmoid(A1) * (1 - sigmoid(A1))"
            dA1 = dZ1 * sigmoid(A1) * (1 - sigmoid(A1))
            dW1 = np.matmul(dA1, X_batch.T) / X_batch.shape[1]
            db1 = np.sum(dA1, axis=1, keepdims=True) / X_batch.shape[1]

            # gradient update to weights
            W2 -= eta * dW2
            b2 -= eta * db2
            W1 -= eta * dW1
            b1 -= eta * db1

        # print loss for entire dataset every 10th epoch
        if record_loss and (e % 10 == 0):  # change 3: record_loss=False times training alone
            y_pred = feed_forward(X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}).T
            losses.append((e, loss(y, y_pred)))  # change 2: was print('Epoch', e, 'loss:', loss(y, y_pred))

    # return weights in dictionary
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, losses
