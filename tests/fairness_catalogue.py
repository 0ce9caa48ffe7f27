"""Plausible student code for every graded function: common mistakes and correct but different answers.

Plain data for ``tests/test_fairness.py``, which hands each variant in as its own student (the model
solution with one cell replaced) and grades it through the real grading path. A mistake must lose
points, only in its own function's test cells, and where the notebook's text states the rule it
breaks (``stated``), a *visible* test must catch it, so that a student running the tests sees it.
A correct alternative must earn every point the model solution earns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    assignment: str
    cell: str  # grade_id of the graded cell replaced
    kind: str  # "mistake" or "correct"
    name: str  # what it does, in a few words
    source: str  # the cell as the student hands it in
    stated: bool = False  # a mistake against a rule the notebook's text states: a visible test must catch it

    @property
    def student(self) -> str:
        """A student id: lower case, digits and dashes (nbgrader's folder names)."""
        slug = "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")
        while "--" in slug:
            slug = slug.replace("--", "-")
        return f"{self.kind}-{self.cell.replace('_', '-')}-{slug}"[:80]


def mistake(assignment: str, cell: str, name: str, source: str, *, stated: bool) -> Variant:
    return Variant(assignment, cell, "mistake", name, source, stated)


def correct(assignment: str, cell: str, name: str, source: str) -> Variant:
    return Variant(assignment, cell, "correct", name, source)


D, S, L, B, G, M, V = "01-data", "02-softmax", "03-loss", "04-backprop", "05-batch-gd", "06-sgd", "07-overfitting"
INIT = "08-initialisation"
WD = "09-weight-decay"
C = "10-capstone"

VARIANTS: list[Variant] = [
    # ------------------------------------------------------------------ 01 scale_pixels
    mistake(
        D,
        "scale_pixels",
        "divides by images.max()",
        """\
def scale_pixels(images, max_pixel=255):
    images = np.asarray(images)
    return images.reshape(images.shape[0], -1).astype(np.float64) / images.max()
""",
        stated=True,
    ),
    mistake(
        D,
        "scale_pixels",
        "ignores max_pixel",
        """\
def scale_pixels(images, max_pixel=255):
    images = np.asarray(images)
    return images.reshape(images.shape[0], -1).astype(np.float64) / 255
""",
        stated=True,
    ),
    mistake(
        D,
        "scale_pixels",
        "returns float32",
        """\
def scale_pixels(images, max_pixel=255):
    images = np.asarray(images)
    return images.reshape(images.shape[0], -1).astype(np.float32) / max_pixel
""",
        stated=True,
    ),
    mistake(
        D,
        "scale_pixels",
        "scales a float array in place",
        """\
def scale_pixels(images, max_pixel=255):
    X = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    X /= max_pixel
    return X
""",
        stated=True,
    ),
    correct(
        D,
        "scale_pixels",
        "loops over the pixels",
        """\
def scale_pixels(images, max_pixel=255):
    n = len(images)
    flat = np.asarray(images).reshape(n, -1)
    X = np.zeros(flat.shape)
    for i in range(n):
        for j in range(flat.shape[1]):
            X[i, j] = float(flat[i, j]) / max_pixel
    return X
""",
    ),
    correct(
        D,
        "scale_pixels",
        "divides then flattens",
        """\
def scale_pixels(images, max_pixel=255):
    return (np.asarray(images) / max_pixel).reshape(len(images), -1)
""",
    ),
    # ------------------------------------------------------------------ 01 one_hot
    mistake(
        D,
        "one_hot",
        "columns from the labels seen",
        """\
def one_hot(y, n_classes=10):
    y = np.asarray(y)
    return np.eye(y.max() + 1)[y]
""",
        stated=True,
    ),
    mistake(
        D,
        "one_hot",
        "one column per sample",
        """\
def one_hot(y, n_classes=10):
    y = np.asarray(y)
    Y = np.zeros((n_classes, y.size))
    Y[y, np.arange(y.size)] = 1.0
    return Y
""",
        stated=True,
    ),
    correct(
        D,
        "one_hot",
        "OneHotEncoder with fixed categories",
        """\
def one_hot(y, n_classes=10):
    encoder = OneHotEncoder(sparse_output=False, categories=[range(n_classes)])
    return encoder.fit_transform(np.asarray(y).reshape(-1, 1))
""",
    ),
    correct(
        D,
        "one_hot",
        "a loop over the samples",
        """\
def one_hot(y, n_classes=10):
    Y = np.zeros((len(y), n_classes))
    for i, label in enumerate(y):
        Y[i, label] = 1
    return Y
""",
    ),
    # ------------------------------------------------------------------ 01 split_train_test
    mistake(
        D,
        "split_train_test",
        "drops the last training sample",
        """\
def split_train_test(X, y, n_train):
    return X[:n_train - 1], X[n_train:], y[:n_train - 1], y[n_train:]
""",
        stated=True,
    ),
    mistake(
        D,
        "split_train_test",
        "shuffles before splitting",
        """\
def split_train_test(X, y, n_train):
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order], y[order]
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]
""",
        stated=True,
    ),
    mistake(
        D,
        "split_train_test",
        "returns X_train, y_train, X_test, y_test",
        """\
def split_train_test(X, y, n_train):
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
""",
        stated=True,
    ),
    correct(
        D,
        "split_train_test",
        "np.split",
        """\
def split_train_test(X, y, n_train):
    X_train, X_test = np.split(X, [n_train])
    y_train, y_test = np.split(y, [n_train])
    return X_train, X_test, y_train, y_test
""",
    ),
    # ------------------------------------------------------------------ 02 softmax
    mistake(
        S,
        "softmax",
        "one maximum for the whole matrix",
        """\
def softmax(Z):
    E = np.exp(Z - Z.max())
    return E / E.sum(axis=0, keepdims=True)
""",
        stated=True,
    ),
    mistake(
        S,
        "softmax",
        "along the rows (axis=1)",
        """\
def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)
""",
        stated=True,
    ),
    mistake(
        S,
        "softmax",
        "without the max shift",
        """\
def softmax(Z):
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)
""",
        stated=True,
    ),
    mistake(
        S,
        "softmax",
        "shifts Z in place",
        """\
def softmax(Z):
    Z -= Z.max(axis=0, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)
""",
        stated=True,
    ),
    mistake(
        S,
        "softmax",
        "returns all zeros",
        """\
def softmax(Z):
    return np.zeros_like(Z)
""",
        stated=True,
    ),
    correct(
        S,
        "softmax",
        "float32",
        """\
def softmax(Z):
    Z = Z.astype(np.float32)
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)
""",
    ),
    correct(
        S,
        "softmax",
        "logsumexp",
        """\
def softmax(Z):
    m = Z.max(axis=0, keepdims=True)
    log_sum = m + np.log(np.exp(Z - m).sum(axis=0, keepdims=True))
    return np.exp(Z - log_sum)
""",
    ),
    correct(
        S,
        "softmax",
        "in place on a copy",
        """\
def softmax(Z):
    E = Z.copy()
    E -= E.max(axis=0, keepdims=True)
    np.exp(E, out=E)
    E /= E.sum(axis=0, keepdims=True)
    return E
""",
    ),
    # ------------------------------------------------------------------ 03 cross_entropy
    mistake(
        L,
        "cross_entropy",
        "clips at 1e-12",
        """\
def cross_entropy(Y, P):
    return float(-np.sum(Y * np.log(np.clip(P, 1e-12, 1.0))) / Y.shape[1])
""",
        stated=True,
    ),
    mistake(
        L,
        "cross_entropy",
        "a sum over the samples",
        """\
def cross_entropy(Y, P):
    eps = np.finfo(np.float64).eps
    return float(-np.sum(Y * np.log(np.clip(P, eps, 1.0))))
""",
        stated=True,
    ),
    mistake(
        L,
        "cross_entropy",
        "no clipping",
        """\
def cross_entropy(Y, P):
    return float(-np.sum(Y * np.log(P)) / Y.shape[1])
""",
        stated=True,
    ),
    mistake(
        L,
        "cross_entropy",
        "binary cross-entropy",
        """\
def cross_entropy(Y, P):
    eps = np.finfo(np.float64).eps
    P = np.clip(P, eps, 1 - eps)
    return float(-np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P)) / Y.shape[1])
""",
        stated=True,
    ),
    correct(
        L,
        "cross_entropy",
        "picks the true class's probability",
        """\
def cross_entropy(Y, P):
    n = Y.shape[1]
    p_true = P[np.argmax(Y, axis=0), np.arange(n)]
    return float(-np.mean(np.log(np.maximum(p_true, np.finfo(np.float64).eps))))
""",
    ),
    correct(
        L,
        "cross_entropy",
        "a loop over the samples",
        """\
import math
def cross_entropy(Y, P):
    eps = np.finfo(np.float64).eps
    total = 0.0
    for j in range(Y.shape[1]):
        for k in range(Y.shape[0]):
            if Y[k, j]:
                total -= Y[k, j] * math.log(max(P[k, j], eps))
    return total / Y.shape[1]
""",
    ),
    # ------------------------------------------------------------------ 04 forward
    mistake(
        B,
        "forward",
        "no sigmoid on the hidden layer",
        """\
def forward(X, params):
    Z1 = params["W1"] @ X + params["b1"]
    A1 = Z1
    Z2 = params["W2"] @ A1 + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": softmax(Z2)}
""",
        stated=True,
    ),
    mistake(
        B,
        "forward",
        "softmax along the rows",
        """\
def forward(X, params):
    Z1 = params["W1"] @ X + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": E / E.sum(axis=1, keepdims=True)}
""",
        stated=True,
    ),
    mistake(
        B,
        "forward",
        "its own softmax without the shift",
        """\
def forward(X, params):
    Z1 = params["W1"] @ X + params["b1"]
    A1 = sigmoid(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    E = np.exp(Z2)
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": E / E.sum(axis=0, keepdims=True)}
""",
        stated=True,
    ),
    correct(
        B,
        "forward",
        "tanh sigmoid and logsumexp softmax",
        """\
def forward(X, params):
    Z1 = np.dot(params["W1"], X) + params["b1"]
    A1 = 0.5 * (1.0 + np.tanh(0.5 * Z1))
    Z2 = np.einsum("kh,hn->kn", params["W2"], A1) + params["b2"]
    m = Z2.max(axis=0, keepdims=True)
    A2 = np.exp(Z2 - m - np.log(np.exp(Z2 - m).sum(axis=0, keepdims=True)))
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
""",
    ),
    # ------------------------------------------------------------------ 04 backward
    mistake(
        B,
        "backward",
        "forgets the 1/n",
        """\
def backward(X, Y, params, cache):
    A1 = cache["A1"]
    dZ2 = cache["A2"] - Y
    dZ1 = (params["W2"].T @ dZ2) * A1 * (1 - A1)
    return {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
            "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True)}
""",
        stated=True,
    ),
    mistake(
        B,
        "backward",
        "bias gradients as means",
        """\
def backward(X, Y, params, cache):
    A1 = cache["A1"]
    dZ2 = (cache["A2"] - Y) / X.shape[1]
    dZ1 = (params["W2"].T @ dZ2) * A1 * (1 - A1)
    return {"dW1": dZ1 @ X.T, "db1": dZ1.mean(axis=1, keepdims=True),
            "dW2": dZ2 @ A1.T, "db2": dZ2.mean(axis=1, keepdims=True)}
""",
        stated=True,
    ),
    mistake(
        B,
        "backward",
        "bias gradients without keepdims",
        """\
def backward(X, Y, params, cache):
    A1 = cache["A1"]
    dZ2 = (cache["A2"] - Y) / X.shape[1]
    dZ1 = (params["W2"].T @ dZ2) * A1 * (1 - A1)
    return {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1), "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1)}
""",
        stated=True,
    ),
    correct(
        B,
        "backward",
        "a loop over the samples",
        """\
def backward(X, Y, params, cache):
    n = X.shape[1]
    grads = {"dW1": np.zeros_like(params["W1"]), "db1": np.zeros_like(params["b1"]),
             "dW2": np.zeros_like(params["W2"]), "db2": np.zeros_like(params["b2"])}
    for j in range(n):
        a1 = cache["A1"][:, [j]]
        dz2 = (cache["A2"][:, [j]] - Y[:, [j]]) / n
        dz1 = (params["W2"].T @ dz2) * a1 * (1 - a1)
        grads["dW2"] += dz2 @ a1.T
        grads["db2"] += dz2
        grads["dW1"] += dz1 @ X[:, [j]].T
        grads["db1"] += dz1
    return grads
""",
    ),
    # ------------------------------------------------------------------ 04 numerical_gradient
    mistake(
        B,
        "numerical_gradient",
        "forward difference",
        """\
def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros(x.shape)
    here = f(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        grad[index] = (f(x) - here) / eps
        x[index] = saved
    return grad
""",
        stated=True,
    ),
    mistake(
        B,
        "numerical_gradient",
        "divides by eps instead of 2 eps",
        """\
def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        up = f(x)
        x[index] = saved - eps
        down = f(x)
        x[index] = saved
        grad[index] = (up - down) / eps
    return grad
""",
        stated=True,
    ),
    mistake(
        B,
        "numerical_gradient",
        "forgets to put each entry back",
        """\
def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        x[index] += eps
        up = f(x)
        x[index] -= 2 * eps
        down = f(x)
        grad[index] = (up - down) / (2 * eps)
    return grad
""",
        stated=True,
    ),
    mistake(
        B,
        "numerical_gradient",
        "perturbs the caller's x and leaves it shifted",
        """\
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    flat = x.reshape(-1)
    for i in range(flat.size):
        flat[i] += eps
        up = f(x)
        flat[i] -= 2 * eps
        down = f(x)
        grad.reshape(-1)[i] = (up - down) / (2 * eps)
    return grad
""",
        stated=True,
    ),
    mistake(
        B,
        "numerical_gradient",
        "ignores eps and always steps 1e-6",
        """\
def numerical_gradient(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + 1e-6
        up = f(x)
        x[index] = saved - 1e-6
        down = f(x)
        x[index] = saved
        grad[index] = (up - down) / 2e-6
    return grad
""",
        stated=True,
    ),
    correct(
        B,
        "numerical_gradient",
        "new arrays x + step from the rows of an identity matrix",
        """\
def numerical_gradient(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    steps = eps * np.eye(x.size)
    grad = [(f(x + step.reshape(x.shape)) - f(x - step.reshape(x.shape))) / (2 * eps) for step in steps]
    return np.array(grad).reshape(x.shape)
""",
    ),
    correct(
        B,
        "numerical_gradient",
        "np.nditer over a copy, in place",
        """\
def numerical_gradient(f, x, eps=1e-6):
    x = x.copy()
    grad = np.empty(x.shape)
    with np.nditer(x, flags=["multi_index"], op_flags=["readwrite"]) as it:
        for entry in it:
            saved = float(entry)
            entry[...] = saved + eps
            up = f(x)
            entry[...] = saved - eps
            down = f(x)
            entry[...] = saved
            grad[it.multi_index] = (up - down) / (2 * eps)
    return grad
""",
    ),
    # ------------------------------------------------------------------ 05 gradient_step
    mistake(
        G,
        "gradient_step",
        "updates in place",
        """\
def gradient_step(params, grads, learning_rate):
    for name in ("W1", "b1", "W2", "b2"):
        params[name] -= learning_rate * grads["d" + name]
    return params
""",
        stated=True,
    ),
    mistake(
        G,
        "gradient_step",
        "adds the gradient",
        """\
def gradient_step(params, grads, learning_rate):
    return {name: params[name] + learning_rate * grads["d" + name] for name in ("W1", "b1", "W2", "b2")}
""",
        stated=True,
    ),
    correct(
        G,
        "gradient_step",
        "in place on copies",
        """\
def gradient_step(params, grads, learning_rate):
    new_params = {name: value.copy() for name, value in params.items()}
    for name in new_params:
        new_params[name] -= learning_rate * grads["d" + name]
    return new_params
""",
    ),
    # ------------------------------------------------------------------ 05 train_batch_gd
    mistake(
        G,
        "train_batch_gd",
        "trains on the global X and Y",
        """\
def train_batch_gd(X_data, Y_data, params, learning_rate, epochs):
    for epoch in range(epochs):
        params = gradient_step(params, backward(X, Y, params, forward(X, params)), learning_rate)
    return params
""",
        stated=True,
    ),
    mistake(
        G,
        "train_batch_gd",
        "steps the caller's arrays in place",
        """\
def train_batch_gd(X, Y, params, learning_rate, epochs):
    for epoch in range(epochs):
        grads = backward(X, Y, params, forward(X, params))
        for name in ("W1", "b1", "W2", "b2"):
            params[name] -= learning_rate * grads["d" + name]
    return params
""",
        stated=True,
    ),
    mistake(
        G,
        "train_batch_gd",
        "computes the gradients once",
        """\
def train_batch_gd(X, Y, params, learning_rate, epochs):
    grads = backward(X, Y, params, forward(X, params))
    for epoch in range(epochs):
        params = gradient_step(params, grads, learning_rate)
    return params
""",
        stated=True,
    ),
    correct(
        G,
        "train_batch_gd",
        "in place on copies",
        """\
def train_batch_gd(X, Y, params, learning_rate, epochs):
    params = {name: np.array(value) for name, value in params.items()}
    for epoch in range(epochs):
        grads = backward(X, Y, params, forward(X, params))
        for name in params:
            params[name] -= learning_rate * grads["d" + name]
    return params
""",
    ),
    correct(
        G,
        "train_batch_gd",
        "a while loop with gradient_step",
        """\
def train_batch_gd(X, Y, params, learning_rate, epochs):
    done = 0
    while done < epochs:
        params = gradient_step(params, backward(X, Y, params, forward(X, params)), learning_rate)
        done += 1
    return {name: value.copy() for name, value in params.items()}
""",
    ),
    # ------------------------------------------------------------------ 05 predict
    mistake(
        G,
        "predict",
        "argmax along the samples (axis=1)",
        """\
def predict(X, params):
    return np.argmax(forward(X, params)["A2"], axis=1)
""",
        stated=True,
    ),
    mistake(
        G,
        "predict",
        "returns the largest probability",
        """\
def predict(X, params):
    return np.max(forward(X, params)["A2"], axis=0)
""",
        stated=True,
    ),
    correct(
        G,
        "predict",
        "argmax of the scores",
        """\
def predict(X, params):
    Z2 = params["W2"] @ (1 / (1 + np.exp(-(params["W1"] @ X + params["b1"])))) + params["b2"]
    return Z2.argmax(axis=0)
""",
    ),
    # ------------------------------------------------------------------ 06 make_minibatches
    mistake(
        M,
        "make_minibatches",
        "the tutorial's slice drops a sample",
        """\
def make_minibatches(n_samples, batch_size, rng):
    order = rng.permutation(n_samples)
    return [order[begin:min(begin + batch_size, n_samples - 1)] for begin in range(0, n_samples, batch_size)]
""",
        stated=True,
    ),
    mistake(
        M,
        "make_minibatches",
        "np.random.shuffle",
        """\
def make_minibatches(n_samples, batch_size, rng):
    order = np.arange(n_samples)
    np.random.shuffle(order)
    return [order[begin:begin + batch_size] for begin in range(0, n_samples, batch_size)]
""",
        stated=True,
    ),
    mistake(
        M,
        "make_minibatches",
        "a new generator inside",
        """\
def make_minibatches(n_samples, batch_size, rng):
    order = np.random.default_rng(0).permutation(n_samples)
    return [order[begin:begin + batch_size] for begin in range(0, n_samples, batch_size)]
""",
        stated=True,
    ),
    correct(
        M,
        "make_minibatches",
        "rng.shuffle and np.split",
        """\
def make_minibatches(n_samples, batch_size, rng):
    order = np.arange(n_samples)
    rng.shuffle(order)
    return np.split(order, np.arange(batch_size, n_samples, batch_size))
""",
    ),
    # ------------------------------------------------------------------ 06 sgd_epoch
    mistake(
        M,
        "sgd_epoch",
        "changes the caller's params",
        """\
def sgd_epoch(X, Y, params, learning_rate, batches):
    for batch in batches:
        Xb, Yb = X[:, batch], Y[:, batch]
        grads = backward(Xb, Yb, params, forward(Xb, params))
        for name in ("W1", "b1", "W2", "b2"):
            params[name] -= learning_rate * grads["d" + name]
    return params
""",
        stated=True,
    ),
    mistake(
        M,
        "sgd_epoch",
        "every gradient at the starting parameters",
        """\
def sgd_epoch(X, Y, params, learning_rate, batches):
    start = params
    params = {name: value.copy() for name, value in params.items()}
    for batch in batches:
        Xb, Yb = X[:, batch], Y[:, batch]
        grads = backward(Xb, Yb, start, forward(Xb, start))
        for name in ("W1", "b1", "W2", "b2"):
            params[name] = params[name] - learning_rate * grads["d" + name]
    return params
""",
        stated=True,
    ),
    correct(
        M,
        "sgd_epoch",
        "in place on a deep copy",
        """\
import copy
def sgd_epoch(X, Y, params, learning_rate, batches):
    params = copy.deepcopy(params)
    for batch in batches:
        cache = forward(X[:, batch], params)
        grads = backward(X[:, batch], Y[:, batch], params, cache)
        for name, value in params.items():
            value -= learning_rate * grads["d" + name]
    return params
""",
    ),
    # ------------------------------------------------------------------ 06 train_sgd
    mistake(
        M,
        "train_sgd",
        "draws the minibatches once",
        """\
def train_sgd(X, Y, params, learning_rate, epochs, batch_size, rng):
    params = {name: value.copy() for name, value in params.items()}
    batches = make_minibatches(X.shape[1], batch_size, rng)
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, batches)
    return params
""",
        stated=True,
    ),
    mistake(
        M,
        "train_sgd",
        "a new generator every epoch",
        """\
def train_sgd(X, Y, params, learning_rate, epochs, batch_size, rng):
    params = {name: value.copy() for name, value in params.items()}
    for epoch in range(epochs):
        batches = make_minibatches(X.shape[1], batch_size, np.random.default_rng(epoch))
        params = sgd_epoch(X, Y, params, learning_rate, batches)
    return params
""",
        stated=True,
    ),
    mistake(
        M,
        "train_sgd",
        "one epoch too many",
        """\
def train_sgd(X, Y, params, learning_rate, epochs, batch_size, rng):
    params = {name: value.copy() for name, value in params.items()}
    for _ in range(epochs + 1):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
    return params
""",
        stated=True,
    ),
    correct(
        M,
        "train_sgd",
        "its own shuffle, every epoch",
        """\
def train_sgd(X, Y, params, learning_rate, epochs, batch_size, rng):
    params = {name: value.copy() for name, value in params.items()}
    n = X.shape[1]
    for _ in range(epochs):
        order = rng.choice(n, size=n, replace=False)
        for begin in range(0, n, batch_size):
            batch = order[begin:begin + batch_size]
            grads = backward(X[:, batch], Y[:, batch], params, forward(X[:, batch], params))
            params = {name: params[name] - learning_rate * grads["d" + name] for name in params}
    return params
""",
    ),
    correct(
        M,
        "train_sgd",
        "all the epochs' batches drawn first",
        """\
def train_sgd(X, Y, params, learning_rate, epochs, batch_size, rng):
    schedule = [make_minibatches(X.shape[1], batch_size, rng) for _ in range(epochs)]
    params = {name: value.copy() for name, value in params.items()}
    for batches in schedule:
        params = sgd_epoch(X, Y, params, learning_rate, batches)
    return params
""",
    ),
    # ------------------------------------------------------------------ 07 best_epoch
    mistake(
        V,
        "best_epoch",
        "the last one on ties",
        """\
def best_epoch(val_losses):
    v = np.asarray(val_losses, dtype=float)
    return int(len(v) - 1 - np.argmin(v[::-1]))
""",
        stated=True,
    ),
    mistake(
        V,
        "best_epoch",
        "returns the lowest loss",
        """\
def best_epoch(val_losses):
    return min(val_losses)
""",
        stated=True,
    ),
    correct(
        V,
        "best_epoch",
        "list.index of the minimum",
        """\
def best_epoch(val_losses):
    values = [float(v) for v in val_losses]
    return values.index(min(values))
""",
    ),
    correct(
        V,
        "best_epoch",
        "a loop with a strict <",
        """\
def best_epoch(val_losses):
    best = 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best = epoch
    return best
""",
    ),
    # ------------------------------------------------------------------ 07 should_stop
    mistake(
        V,
        "should_stop",
        "an equal loss counts as an improvement",
        """\
def should_stop(val_losses, patience):
    v = np.asarray(val_losses, dtype=float)
    if len(v) <= patience:
        return False
    return bool(v[-patience:].min() > v[:-patience].min())
""",
        stated=True,
    ),
    mistake(
        V,
        "should_stop",
        "waits one epoch too many",
        """\
def should_stop(val_losses, patience):
    v = np.asarray(val_losses, dtype=float)
    return bool(len(v) > patience and len(v) - 1 - int(np.argmin(v)) > patience)
""",
        stated=True,
    ),
    mistake(
        V,
        "should_stop",
        "no check of the number of losses",
        """\
def should_stop(val_losses, patience):
    v = np.asarray(val_losses, dtype=float)
    return bool(v[-patience:].min() >= v[:-patience].min())
""",
        stated=True,
    ),
    correct(
        V,
        "should_stop",
        "the best epoch is patience epochs old",
        """\
def should_stop(val_losses, patience):
    v = list(val_losses)
    return len(v) > patience and len(v) - 1 - v.index(min(v)) >= patience
""",
    ),
    # ------------------------------------------------------------------ 07 early_stopping
    mistake(
        V,
        "early_stopping",
        "returns the last parameters",
        """\
def early_stopping(X, Y, X_val, Y_val, params, learning_rate, epochs, batch_size, patience, rng):
    val_losses = [loss(X_val, Y_val, params)]
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
        val_losses.append(loss(X_val, Y_val, params))
        if should_stop(val_losses, patience):
            break
    return params, val_losses
""",
        stated=True,
    ),
    mistake(
        V,
        "early_stopping",
        "never stops early",
        """\
def early_stopping(X, Y, X_val, Y_val, params, learning_rate, epochs, batch_size, patience, rng):
    best_params = params
    val_losses = [loss(X_val, Y_val, params)]
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
        val_losses.append(loss(X_val, Y_val, params))
        if best_epoch(val_losses) == len(val_losses) - 1:
            best_params = params
    return best_params, val_losses
""",
        stated=True,
    ),
    mistake(
        V,
        "early_stopping",
        "no loss before training",
        """\
def early_stopping(X, Y, X_val, Y_val, params, learning_rate, epochs, batch_size, patience, rng):
    best_params, val_losses = params, []
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
        val_losses.append(loss(X_val, Y_val, params))
        if best_epoch(val_losses) == len(val_losses) - 1:
            best_params = params
        if should_stop(val_losses, patience):
            break
    return best_params, val_losses
""",
        stated=True,
    ),
    correct(
        V,
        "early_stopping",
        "a counter of epochs without improvement",
        """\
def early_stopping(X, Y, X_val, Y_val, params, learning_rate, epochs, batch_size, patience, rng):
    best_params = {name: value.copy() for name, value in params.items()}
    best_loss = loss(X_val, Y_val, params)
    val_losses, waited = [best_loss], 0
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
        val_losses.append(loss(X_val, Y_val, params))
        if val_losses[-1] < best_loss:
            best_loss, waited = val_losses[-1], 0
            best_params = {name: value.copy() for name, value in params.items()}
        else:
            waited += 1
            if waited >= patience:
                break
    return best_params, val_losses
""",
    ),
    # ------------------------------------------------------------------ 10 fit
    mistake(
        C,
        "fit",
        "returns the last epoch's parameters",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(X.shape[0], hidden, Y.shape[0], seed=rng)
    val_losses = [loss(X_val, Y_val, params)]
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
        val_losses.append(loss(X_val, Y_val, params))
        if should_stop(val_losses, patience):
            break
    return params
""",
        stated=True,
    ),
    mistake(
        C,
        "fit",
        "keeps the epoch of the lowest training loss",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(X.shape[0], hidden, Y.shape[0], seed=rng)
    best, best_train = {k: v.copy() for k, v in params.items()}, loss(X, Y, params)
    val_losses = [loss(X_val, Y_val, params)]
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, rng))
        val_losses.append(loss(X_val, Y_val, params))
        if loss(X, Y, params) < best_train:
            best, best_train = {k: v.copy() for k, v in params.items()}, loss(X, Y, params)
        if should_stop(val_losses, patience):
            break
    return best
""",
        stated=True,
    ),
    mistake(
        C,
        "fit",
        "an unseeded generator",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng()
    start = init_params(X.shape[0], hidden, Y.shape[0], seed=rng)
    return early_stopping(X, Y, X_val, Y_val, start, learning_rate, epochs, batch_size, patience, rng)[0]
""",
        stated=True,
    ),
    mistake(
        C,
        "fit",
        "never stops early",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng(seed)
    start = init_params(X.shape[0], hidden, Y.shape[0], seed=rng)
    return early_stopping(X, Y, X_val, Y_val, start, learning_rate, epochs, batch_size, epochs + 1, rng)[0]
""",
        stated=True,
    ),
    mistake(
        C,
        "fit",
        "64 hidden units whatever hidden says",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng(seed)
    start = init_params(X.shape[0], 64, Y.shape[0], seed=rng)
    return early_stopping(X, Y, X_val, Y_val, start, learning_rate, epochs, batch_size, patience, rng)[0]
""",
        stated=True,
    ),
    mistake(
        C,
        "fit",
        "shuffles the caller's arrays in place",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(X.shape[0], hidden, Y.shape[0], seed=rng)
    n = X.shape[1]
    in_order = [np.arange(begin, min(begin + batch_size, n)) for begin in range(0, n, batch_size)]
    best, val_losses = params, [loss(X_val, Y_val, params)]
    for _ in range(epochs):
        order = rng.permutation(n)
        X[...], Y[...] = X[:, order], Y[:, order]
        params = sgd_epoch(X, Y, params, learning_rate, in_order)
        val_losses.append(loss(X_val, Y_val, params))
        if best_epoch(val_losses) == len(val_losses) - 1:
            best = params
        if should_stop(val_losses, patience):
            break
    return best
""",
        stated=True,
    ),
    correct(
        C,
        "fit",
        "its own loop, one generator for the weights and another for the shuffles",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    params = init_params(X.shape[0], hidden, Y.shape[0], seed=seed)
    shuffles = np.random.default_rng([seed, 1])
    best_loss = loss(X_val, Y_val, params)
    best, waited = {name: value.copy() for name, value in params.items()}, 0
    for _ in range(epochs):
        params = sgd_epoch(X, Y, params, learning_rate, make_minibatches(X.shape[1], batch_size, shuffles))
        current = loss(X_val, Y_val, params)
        if current < best_loss:
            best_loss, waited = current, 0
            best = {name: value.copy() for name, value in params.items()}
        else:
            waited += 1
            if waited >= patience:
                break
    return best
""",
    ),
    correct(
        C,
        "fit",
        "trains in float32",
        """\
def fit(X, Y, X_val, Y_val, *, hidden=64, learning_rate=0.5, batch_size=8, epochs=15, patience=3, seed=0):
    rng = np.random.default_rng(seed)
    start = init_params(X.shape[0], hidden, Y.shape[0], seed=rng, dtype=np.float32)
    X, Y, X_val, Y_val = (np.asarray(a, dtype=np.float32) for a in (X, Y, X_val, Y_val))
    return early_stopping(X, Y, X_val, Y_val, start, np.float32(learning_rate), epochs, batch_size, patience, rng)[0]
""",
    ),
    # ------------------------------------------------------------------ 09 loss_with_weight_decay
    mistake(
        WD,
        "loss_with_weight_decay",
        "penalises the biases too",
        """\
def loss_with_weight_decay(X, Y, params, weight_decay):
    penalty = sum(np.sum(value ** 2) for value in params.values())
    return float(loss(X, Y, params) + weight_decay / 2 * penalty)
""",
        stated=True,
    ),
    mistake(
        WD,
        "loss_with_weight_decay",
        "forgets the 1/2",
        """\
def loss_with_weight_decay(X, Y, params, weight_decay):
    return float(loss(X, Y, params) + weight_decay * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)))
""",
        stated=True,
    ),
    mistake(
        WD,
        "loss_with_weight_decay",
        "divides the penalty by n",
        """\
def loss_with_weight_decay(X, Y, params, weight_decay):
    penalty = np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2)
    return float(loss(X, Y, params) + weight_decay / (2 * X.shape[1]) * penalty)
""",
        stated=True,
    ),
    correct(
        WD,
        "loss_with_weight_decay",
        "squared Frobenius norms and a loop",
        """\
def loss_with_weight_decay(X, Y, params, weight_decay):
    total = loss(X, Y, params)
    for name in ("W1", "W2"):
        total += 0.5 * weight_decay * np.linalg.norm(params[name]) ** 2
    return total
""",
    ),
    correct(
        WD,
        "loss_with_weight_decay",
        "dot products of the flattened weights",
        """\
def loss_with_weight_decay(X, Y, params, weight_decay):
    W1, W2 = params["W1"].ravel(), params["W2"].ravel()
    return loss(X, Y, params) + weight_decay * (W1 @ W1 + W2 @ W2) / 2
""",
    ),
    # ------------------------------------------------------------------ 09 backward_with_weight_decay
    mistake(
        WD,
        "backward_with_weight_decay",
        "decays the biases too",
        """\
def backward_with_weight_decay(X, Y, params, cache, weight_decay):
    grads = backward(X, Y, params, cache)
    return {"d" + name: grads["d" + name] + weight_decay * params[name] for name in params}
""",
        stated=True,
    ),
    mistake(
        WD,
        "backward_with_weight_decay",
        "twice the penalty's derivative",
        """\
def backward_with_weight_decay(X, Y, params, cache, weight_decay):
    grads = backward(X, Y, params, cache)
    grads["dW1"] = grads["dW1"] + 2 * weight_decay * params["W1"]
    grads["dW2"] = grads["dW2"] + 2 * weight_decay * params["W2"]
    return grads
""",
        stated=True,
    ),
    mistake(
        WD,
        "backward_with_weight_decay",
        "divides the decay by n",
        """\
def backward_with_weight_decay(X, Y, params, cache, weight_decay):
    grads = backward(X, Y, params, cache)
    n = X.shape[1]
    grads["dW1"] = grads["dW1"] + weight_decay * params["W1"] / n
    grads["dW2"] = grads["dW2"] + weight_decay * params["W2"] / n
    return grads
""",
        stated=True,
    ),
    mistake(
        WD,
        "backward_with_weight_decay",
        "shrinks the caller's weights",
        """\
def backward_with_weight_decay(X, Y, params, cache, weight_decay):
    grads = backward(X, Y, params, cache)
    for name in ("W1", "W2"):
        params[name] *= 1 + weight_decay
        grads["d" + name] = grads["d" + name] + weight_decay * params[name] / (1 + weight_decay)
    return grads
""",
        stated=True,
    ),
    correct(
        WD,
        "backward_with_weight_decay",
        "adds in place to backward's new arrays",
        """\
def backward_with_weight_decay(X, Y, params, cache, weight_decay):
    grads = backward(X, Y, params, cache)
    grads["dW1"] += weight_decay * params["W1"]
    grads["dW2"] += weight_decay * params["W2"]
    return grads
""",
    ),
    correct(
        WD,
        "backward_with_weight_decay",
        "backpropagation written out again",
        """\
def backward_with_weight_decay(X, Y, params, cache, weight_decay):
    n = X.shape[1]
    dZ2 = (cache["A2"] - Y) / n
    dZ1 = (params["W2"].T @ dZ2) * cache["A1"] * (1 - cache["A1"])
    return {
        "dW1": dZ1 @ X.T + weight_decay * params["W1"],
        "db1": dZ1.sum(axis=1, keepdims=True),
        "dW2": dZ2 @ cache["A1"].T + weight_decay * params["W2"],
        "db2": dZ2.sum(axis=1, keepdims=True),
    }
""",
    ),
    # ------------------------------------------------------------------ 09 best_setting
    mistake(
        WD,
        "best_setting",
        "argmax ignores the hidden units",
        """\
def best_setting(results):
    return int(np.argmax([result["val_accuracy"] for result in results]))
""",
        stated=True,
    ),
    mistake(
        WD,
        "best_setting",
        "more hidden units win a tie",
        """\
def best_setting(results):
    return max(range(len(results)), key=lambda i: (results[i]["val_accuracy"], results[i]["n_hidden"], -i))
""",
        stated=True,
    ),
    mistake(
        WD,
        "best_setting",
        "the last one on a full tie",
        """\
def best_setting(results):
    best = 0
    for i, result in enumerate(results):
        if (result["val_accuracy"], -result["n_hidden"]) >= (results[best]["val_accuracy"], -results[best]["n_hidden"]):
            best = i
    return best
""",
        stated=True,
    ),
    mistake(
        WD,
        "best_setting",
        "returns the setting itself",
        """\
def best_setting(results):
    return sorted(results, key=lambda result: (-result["val_accuracy"], result["n_hidden"]))[0]
""",
        stated=True,
    ),
    correct(
        WD,
        "best_setting",
        "a stable sort of the indices",
        """\
def best_setting(results):
    order = sorted(range(len(results)), key=lambda i: (-results[i]["val_accuracy"], results[i]["n_hidden"]))
    return order[0]
""",
    ),
    correct(
        WD,
        "best_setting",
        "numpy lexsort",
        """\
def best_setting(results):
    accuracy = np.array([r["val_accuracy"] for r in results], dtype=float)
    hidden = np.array([r["n_hidden"] for r in results])
    return int(np.lexsort((np.arange(len(results)), hidden, -accuracy))[0])
""",
    ),
    # ------------------------------------------------------------------ 08 initialise
    mistake(
        INIT,
        "initialise",
        "divides by the fan-out",
        """\
def initialise(n_features, n_hidden, n_classes, rng, scheme="scaled"):
    factor = {"normal": None, "scaled": 1.0, "he": 2.0, "zeros": 0.0}[scheme]
    W1 = rng.standard_normal((n_hidden, n_features))
    W2 = rng.standard_normal((n_classes, n_hidden))
    if factor is not None:
        W1, W2 = W1 * np.sqrt(factor / n_hidden), W2 * np.sqrt(factor / n_classes)
    return {"W1": W1, "b1": np.zeros((n_hidden, 1)), "W2": W2, "b2": np.zeros((n_classes, 1))}
""",
        stated=True,
    ),
    mistake(
        INIT,
        "initialise",
        "divides by the fan-in, not its square root",
        """\
def initialise(n_features, n_hidden, n_classes, rng, scheme="scaled"):
    factor = {"normal": None, "scaled": 1.0, "he": 2.0, "zeros": 0.0}[scheme]
    W1 = rng.standard_normal((n_hidden, n_features))
    W2 = rng.standard_normal((n_classes, n_hidden))
    if factor is not None:
        W1, W2 = W1 * factor / n_features, W2 * factor / n_hidden
    return {"W1": W1, "b1": np.zeros((n_hidden, 1)), "W2": W2, "b2": np.zeros((n_classes, 1))}
""",
        stated=True,
    ),
    mistake(
        INIT,
        "initialise",
        "draws from np.random, not rng",
        """\
def initialise(n_features, n_hidden, n_classes, rng, scheme="scaled"):
    factor = {"normal": None, "scaled": 1.0, "he": 2.0, "zeros": 0.0}[scheme]
    W1 = np.random.randn(n_hidden, n_features)
    W2 = np.random.randn(n_classes, n_hidden)
    if factor is not None:
        W1, W2 = W1 * np.sqrt(factor / n_features), W2 * np.sqrt(factor / n_hidden)
    return {"W1": W1, "b1": np.zeros((n_hidden, 1)), "W2": W2, "b2": np.zeros((n_classes, 1))}
""",
        stated=True,
    ),
    mistake(
        INIT,
        "initialise",
        "random biases",
        """\
def initialise(n_features, n_hidden, n_classes, rng, scheme="scaled"):
    factor = {"normal": None, "scaled": 1.0, "he": 2.0, "zeros": 0.0}[scheme]
    s1 = 1.0 if factor is None else np.sqrt(factor / n_features)
    s2 = 1.0 if factor is None else np.sqrt(factor / n_hidden)
    return {"W1": s1 * rng.standard_normal((n_hidden, n_features)), "b1": s1 * rng.standard_normal((n_hidden, 1)),
            "W2": s2 * rng.standard_normal((n_classes, n_hidden)), "b2": s2 * rng.standard_normal((n_classes, 1))}
""",
        stated=True,
    ),
    correct(
        INIT,
        "initialise",
        "rng.normal, W2 drawn first",
        """\
def initialise(n_features, n_hidden, n_classes, rng, scheme="scaled"):
    def std(fan_in):
        return {"normal": 1.0, "scaled": 1 / np.sqrt(fan_in), "he": np.sqrt(2 / fan_in), "zeros": 0.0}[scheme]
    W2 = rng.normal(0.0, std(n_hidden), size=(n_classes, n_hidden))
    W1 = rng.normal(0.0, std(n_features), size=(n_hidden, n_features))
    return {"W1": W1, "b1": np.zeros((n_hidden, 1)), "W2": W2, "b2": np.zeros((n_classes, 1))}
""",
    ),
    correct(
        INIT,
        "initialise",
        "one unit at a time, float32",
        """\
def initialise(n_features, n_hidden, n_classes, rng, scheme="scaled"):
    params = {"b1": np.zeros((n_hidden, 1), np.float32), "b2": np.zeros((n_classes, 1), np.float32)}
    for name, n_units, fan_in in (("W1", n_hidden, n_features), ("W2", n_classes, n_hidden)):
        W = np.zeros((n_units, fan_in), np.float32)
        for unit in range(n_units):
            W[unit] = rng.standard_normal(fan_in)
        if scheme == "scaled":
            W /= np.sqrt(fan_in)
        elif scheme == "he":
            W *= np.sqrt(2.0 / fan_in)
        elif scheme == "zeros":
            W *= 0.0
        params[name] = W
    return params
""",
    ),
    # ------------------------------------------------------------------ 08 collapse_linear
    mistake(
        INIT,
        "collapse_linear",
        "forgets b2",
        """\
def collapse_linear(W1, b1, W2, b2):
    return W2 @ W1, W2 @ b1
""",
        stated=True,
    ),
    mistake(
        INIT,
        "collapse_linear",
        "adds the biases",
        """\
def collapse_linear(W1, b1, W2, b2):
    return W2 @ W1, b1 + b2
""",
        stated=True,
    ),
    mistake(
        INIT,
        "collapse_linear",
        "the transpose of W",
        """\
def collapse_linear(W1, b1, W2, b2):
    return W1.T @ W2.T, W2 @ b1 + b2
""",
        stated=True,
    ),
    correct(
        INIT,
        "collapse_linear",
        "pushes the identity and zero through both layers",
        """\
def collapse_linear(W1, b1, W2, b2):
    n_in = W1.shape[1]
    b = W2 @ (W1 @ np.zeros((n_in, 1)) + b1) + b2
    W = W2 @ (W1 @ np.eye(n_in) + b1) + b2 - b
    return W, b
""",
    ),
    correct(
        INIT,
        "collapse_linear",
        "loops",
        """\
def collapse_linear(W1, b1, W2, b2):
    n_out, n_mid = W2.shape
    W = np.zeros((n_out, W1.shape[1]))
    b = np.array(b2, dtype=float)
    for i in range(n_out):
        for k in range(n_mid):
            W[i] += W2[i, k] * W1[k]
            b[i] += W2[i, k] * b1[k]
    return W, b
""",
    ),
    # ------------------------------------------------------------------ 08 relu
    mistake(
        INIT,
        "relu",
        "np.max instead of np.maximum",
        """\
def relu(Z):
    return np.max(Z, 0)
""",
        stated=True,
    ),
    mistake(
        INIT,
        "relu",
        "sets the negative scores to 0 in place",
        """\
def relu(Z):
    Z[Z < 0] = 0
    return Z
""",
        stated=True,
    ),
    mistake(
        INIT,
        "relu",
        "clips at 1 too",
        """\
def relu(Z):
    return np.clip(Z, 0, 1)
""",
        stated=True,
    ),
    correct(
        INIT,
        "relu",
        "multiplies by the mask",
        """\
def relu(Z):
    return Z * (Z > 0)
""",
    ),
    correct(
        INIT,
        "relu",
        "half of Z plus its absolute value",
        """\
def relu(Z):
    return (Z + np.abs(Z)) / 2
""",
    ),
    # ------------------------------------------------------------------ 08 relu_derivative
    mistake(
        INIT,
        "relu_derivative",
        "1 at zero",
        """\
def relu_derivative(Z):
    return (Z >= 0).astype(float)
""",
        stated=True,
    ),
    mistake(
        INIT,
        "relu_derivative",
        "np.sign",
        """\
def relu_derivative(Z):
    return np.sign(Z)
""",
        stated=True,
    ),
    mistake(
        INIT,
        "relu_derivative",
        "returns the ReLU itself",
        """\
def relu_derivative(Z):
    return np.maximum(Z, 0)
""",
        stated=True,
    ),
    correct(
        INIT,
        "relu_derivative",
        "np.heaviside with 0 at 0",
        """\
def relu_derivative(Z):
    return np.heaviside(Z, 0.0)
""",
    ),
    correct(
        INIT,
        "relu_derivative",
        "a boolean mask",
        """\
def relu_derivative(Z):
    return Z > 0
""",
    ),
]
