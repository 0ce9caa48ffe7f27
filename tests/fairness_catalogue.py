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
]
