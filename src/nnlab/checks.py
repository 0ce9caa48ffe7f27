"""Assertions for the notebooks' test cells: each failure says what is wrong and where.

A test cell compares a student's function with the course's result on the same inputs::

    Z = checks.random_scores((10, 4), seed=0)
    P_expected = checks.expected("softmax", Z)      # before the call: the function may change Z
    P = checks.call_own(softmax, Z)
    checks.assert_columns_sum_to_one(P, name="softmax(Z)")
    checks.assert_close(P, P_expected, name="softmax(Z)", rtol=checks.RTOL, atol=checks.ATOL)

Students never have the course's solutions: :func:`expected` reads the values released with the
notebook (``expected_values.json`` beside it, recorded by ``nnlab build`` from the instructor's answer
key for exactly the visible tests' inputs). Where the answer key is installed (the instructor's
environment, the grader) it computes them instead, hidden tests included.

While grading, the test cells run in the grader, never in the student's kernel: :func:`call_own` goes
through the link that :mod:`nnlab_instructor.grading.kernel_link` installs, which runs the student's
function in the kernel and brings back what it returned, so the assertions that decide the points run
where a student cannot reach.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .network import init_params

# Tolerances test cells use for values computed the same way as the reference: loose enough for a
# correct float32 implementation (about 7 significant digits), tight enough to catch any real mistake.
RTOL = 1e-5
ATOL = 1e-7


class CheckFailure(AssertionError):
    """A test cell's check failed; the message says what is wrong and where.

    ``public`` is the message without reference values, for feedback on hidden tests.
    """

    def __init__(self, message: str, public: str | None = None):
        super().__init__(message)
        self.public = public or message


class StudentError(Exception):
    """The student's function raised an exception in the kernel (type name and message, as text)."""


# --------------------------------------------------------------------------- test inputs


def random_scores(shape: tuple[int, ...], seed: int, scale: float = 3.0) -> np.ndarray:
    """Seeded normal scores of the given shape, for softmax and friends."""
    return np.random.default_rng(seed).normal(scale=scale, size=shape)


def random_labels(n_samples: int, seed: int, n_classes: int = 10) -> np.ndarray:
    """Seeded integer labels of shape (n_samples,) in 0..n_classes-1."""
    return np.random.default_rng(seed).integers(0, n_classes, n_samples)


def one_hot_columns(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """One-hot labels as columns: ndarray of shape (n_classes, n_samples)."""
    labels = np.asarray(labels)
    Y = np.zeros((n_classes, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y


def random_probabilities(n_classes: int, n_samples: int, seed: int) -> np.ndarray:
    """Seeded probabilities of shape (n_classes, n_samples), each column summing to 1 (Dirichlet draws)."""
    return np.random.default_rng(seed).dirichlet(np.ones(n_classes), size=n_samples).T


def random_problem(
    n_features: int, n_hidden: int, n_classes: int, n_samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A small seeded network and data: ``X`` (n_features, n_samples), one-hot ``Y`` (n_classes,
    n_samples) and parameters with non-zero biases, so every gradient term is exercised."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_features, n_samples))
    Y = one_hot_columns(rng.integers(0, n_classes, n_samples), n_classes)
    params = init_params(n_features, n_hidden, n_classes, seed=rng)
    params["b1"] += rng.normal(scale=0.5, size=params["b1"].shape)
    params["b2"] += rng.normal(scale=0.5, size=params["b2"].shape)
    return X, Y, params


# Functions whose gradient is known, for testing a finite-difference gradient. They cross to a grading
# kernel as their numbers (nnlab_instructor.grading.wire_format), never as code.


@dataclass(frozen=True, eq=False)
class Quadratic:
    """``f(x) = 1/2 v.(A v) + b.v`` with ``v = x.ravel()``: its gradient is ``A v + b`` (``A`` symmetric).

    A centred difference is exact for it, whatever the step: only rounding separates the two.
    """

    A: np.ndarray  # (size, size), symmetric
    b: np.ndarray  # (size,)

    def __call__(self, x: np.ndarray) -> float:
        v = np.asarray(x, dtype=np.float64).reshape(-1)
        return float(0.5 * v @ (self.A @ v) + self.b @ v)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        v = np.asarray(x, dtype=np.float64).reshape(-1)
        return (self.A @ v + self.b).reshape(np.shape(x))


@dataclass(frozen=True, eq=False)
class Cubic:
    """``f(x) = sum(c * x**3)`` entry by entry: its gradient is ``3 c x**2``.

    The centred difference with step ``eps`` is exactly ``3 c x**2 + c eps**2``: its known error.
    """

    c: np.ndarray  # the shape of x

    def __call__(self, x: np.ndarray) -> float:
        return float(np.sum(self.c * np.asarray(x, dtype=np.float64) ** 3))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return 3 * self.c * np.asarray(x, dtype=np.float64) ** 2


KNOWN_FUNCTIONS = (Quadratic, Cubic)


def random_quadratic(size: int, seed: int) -> Quadratic:
    """A seeded :class:`Quadratic` of ``size`` entries, coupling every entry with the others."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(size, size))
    return Quadratic(A=(M + M.T) / 2, b=rng.normal(size=size))


def random_cubic(shape: tuple[int, ...], seed: int) -> Cubic:
    """A seeded :class:`Cubic` for an ``x`` of the given shape."""
    return Cubic(c=np.random.default_rng(seed).normal(size=shape))


# --------------------------------------------------------------------------- the student's own code


# While grading, the link to the student's kernel (nnlab_instructor.grading.kernel_link): ``remote(function_name,
# reference_names, args, kwargs)`` returns what the function returned, with the arguments changed as the
# function changed them, or raises. None: call the function here.
_remote: Callable | None = None


def set_remote(caller: Callable | None) -> None:
    """Route :func:`call_own` through ``caller`` (the grader's link to a student's kernel); None undoes it."""
    global _remote
    _remote = caller


def call_own(function: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the student's ``function`` (while grading: in the student's kernel, from the grader).

    Raises
    ------
    CheckFailure
        If ``function`` is not the student's own (imported from a library), or an assertion inside it fails.
    """
    if _remote is not None:
        return _remote(getattr(function, "__name__", str(function)), args, kwargs)
    module = getattr(function, "__module__", "") or ""
    if module.split(".")[0] in ("nnlab", "nnlab_instructor", "earlier_steps", "scipy", "sklearn"):
        raise CheckFailure(
            f"{getattr(function, '__name__', function)!s} comes from {module}: write your own implementation "
            f"in the cell above (imported functions earn no points)"
        )
    try:
        return function(*args, **kwargs)
    except AssertionError as error:
        raise CheckFailure(str(error)) from None


# --------------------------------------------------------------------------- the course's expected values

EXPECTED_FILE = "expected_values.json"
RECORD_ENV = "NNLAB_RECORD_EXPECTED"
ANSWER_KEY = "nnlab_instructor.reference"

_answer_key: ModuleType | None = None


def use_answer_key(module: ModuleType | None) -> None:
    """Compute :func:`expected` values with ``module`` (the grader's answer key); None: the default rules."""
    global _answer_key
    _answer_key = module


def _digest(value: Any, sink: Any) -> None:
    """Feed a canonical encoding of a test input to ``sink`` (a hashlib object)."""
    if isinstance(value, np.ndarray | np.generic):
        array = np.ascontiguousarray(value)
        sink.update(f"nd|{array.dtype.str}|{array.shape}|".encode())
        if np.issubdtype(array.dtype, np.floating):
            # Inputs computed with exp or a matrix product can differ in the last bit from one CPU to
            # another: the key keeps 24 bits of each mantissa, far above that noise.
            mantissa, exponent = np.frexp(array.astype(np.float64))
            array = np.stack([np.round(mantissa * 2**24), exponent.astype(np.float64)])
        sink.update(array.tobytes())
    elif isinstance(value, dict):
        sink.update(f"dict|{len(value)}|".encode())
        for key in sorted(value, key=str):
            _digest(str(key), sink)
            _digest(value[key], sink)
    elif isinstance(value, list | tuple):
        sink.update(f"{type(value).__name__}|{len(value)}|".encode())
        for item in value:
            _digest(item, sink)
    elif isinstance(value, float):
        _digest(np.float64(value), sink)
    elif value is None or isinstance(value, bool | int | str):
        sink.update(f"{type(value).__name__}|{value!r}|".encode())
    elif isinstance(value, np.random.Generator):
        sink.update(f"rng|{value.bit_generator.state!r}|".encode())
    else:
        raise TypeError(f"checks.expected cannot key an argument of type {type(value).__name__}")


def expected_key(function_name: str, args: tuple, kwargs: dict) -> str:
    """The name under which the course's result of ``function_name(*args, **kwargs)`` is released."""
    sink = hashlib.sha256()
    _digest([list(args), kwargs], sink)
    return f"{function_name}:{sink.hexdigest()[:24]}"


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        return {"ndarray": array.dtype.str, "shape": list(array.shape), "data": array.reshape(-1).tolist()}
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {type(value).__name__: [_encode(v) for v in value]}
    if value is None or isinstance(value, bool | int | float | str):
        return {"value": value}
    raise TypeError(f"checks.expected cannot release a result of type {type(value).__name__}")


def _decode(encoded: dict) -> Any:
    if "ndarray" in encoded:
        return np.array(encoded["data"], dtype=np.dtype(encoded["ndarray"])).reshape(encoded["shape"])
    if "dict" in encoded:
        return {k: _decode(v) for k, v in encoded["dict"].items()}
    if "list" in encoded:
        return [_decode(v) for v in encoded["list"]]
    if "tuple" in encoded:
        return tuple(_decode(v) for v in encoded["tuple"])
    return encoded["value"]


def _installed_answer_key() -> ModuleType | None:
    try:
        return importlib.import_module(ANSWER_KEY)
    except ImportError:
        return None


def expected(function_name: str, *args: Any, **kwargs: Any) -> Any:
    """The course's result of ``function_name(*args, **kwargs)``: what a test compares the student's with.

    In a student's environment the value comes from ``expected_values.json`` beside the notebook,
    released with it; where the instructor's answer key is installed it is computed (and, while
    ``nnlab build`` records a release, written to that file). Call it before the student's function,
    which may change its arguments.

    Raises
    ------
    LookupError
        In a student's environment, for inputs whose value was not released (the file is missing,
        or the test cell's inputs were changed).
    """
    key = expected_key(function_name, args, kwargs)
    answer_key = _answer_key or _installed_answer_key()
    if answer_key is not None:
        value = getattr(answer_key, function_name)(*args, **kwargs)
        record = os.environ.get(RECORD_ENV)
        if record and _answer_key is None:
            _record(Path(record), key, value)
        return value
    released = _released_values(Path(EXPECTED_FILE))
    if key not in released:
        raise LookupError(
            f"no released value of {function_name} for these inputs: {EXPECTED_FILE}, which comes with this "
            f"notebook, must be in the notebook's folder, and the test cell's inputs must be the ones it was "
            f"released with (fetch the assignment again to restore both)"
        )
    return _decode(released[key])


_cache: dict[Path, tuple[float, dict]] = {}


def _released_values(path: Path) -> dict:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return {}
    if path not in _cache or _cache[path][0] != stamp:
        _cache[path] = (stamp, json.loads(path.read_text()).get("values", {}))
    return _cache[path][1]


def _record(path: Path, key: str, value: Any) -> None:
    """Add one value to the file ``nnlab build`` releases (kept sorted, so rebuilds do not reorder it)."""
    values = json.loads(path.read_text())["values"] if path.exists() else {}
    values[key] = _encode(value)
    document = {"about": "the course's results for this notebook's visible tests (nnlab build)", "values": values}
    path.write_text(json.dumps(document, sort_keys=True, indent=1) + "\n")


# --------------------------------------------------------------------------- assertions


def _index(flat_index: int, shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in np.unravel_index(flat_index, shape)) + "]" if shape else ""


def assert_array(value: Any, *, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Check that ``value`` is a float numpy array of the expected shape; return it."""
    if not isinstance(value, np.ndarray):
        raise CheckFailure(f"{name} is a {type(value).__name__}, expected a numpy array")
    if shape is not None and value.shape != tuple(shape):
        hint = ""
        if value.shape == tuple(reversed(shape)) and len(shape) == 2:
            hint = ": rows and columns are swapped (which axis holds the samples here?)"
        elif value.size == int(np.prod(shape)):
            hint = ": right number of entries, wrong shape (keepdims? reshape?)"
        raise CheckFailure(f"{name} has shape {value.shape}, expected {tuple(shape)}{hint}")
    if not np.issubdtype(value.dtype, np.number):
        raise CheckFailure(f"{name} has dtype {value.dtype}, expected numbers")
    return value


def assert_close(
    actual: Any,
    expected: np.ndarray,
    *,
    name: str,
    rtol: float = 1e-7,
    atol: float = 1e-10,
) -> None:
    """Check ``actual`` against ``expected`` entry by entry, naming the worst entry when they differ.

    The tolerance is ``|actual - expected| <= atol + rtol * |expected|``, as in ``np.allclose``.
    """
    expected = np.asarray(expected)
    actual = assert_array(actual, name=name, shape=expected.shape)
    finite = np.isfinite(actual)
    if not finite.all():
        where = int(np.flatnonzero(~finite.reshape(-1))[0])
        place = f"{name}{_index(where, expected.shape)} is {actual.reshape(-1)[where]}"
        count = f"{int((~finite).sum())} of {actual.size} entries are not finite"
        raise CheckFailure(
            f"{place}, expected {expected.reshape(-1)[where]:.6g} ({count})", public=f"{place} ({count})"
        )
    error = np.abs(actual.astype(np.float64) - expected) - (atol + rtol * np.abs(expected))
    bad = error > 0
    if bad.any():
        worst = int(np.argmax(error.reshape(-1)))
        place = f"{name}{_index(worst, expected.shape)} is {actual.reshape(-1)[worst]:.6g}"
        count = f"{int(bad.sum())} of {actual.size} entries differ by more than rtol={rtol:g}, atol={atol:g}"
        raise CheckFailure(
            f"{place}, expected {expected.reshape(-1)[worst]:.6g} ({count})",
            public=f"{place}, which is wrong ({count})",
        )


def assert_scalar_close(actual: Any, expected: float, *, name: str, rtol: float = 1e-7, atol: float = 1e-10) -> None:
    """Check a single number, e.g. a loss."""
    if isinstance(actual, np.ndarray) and actual.size == 1:
        actual = actual.item()
    if not isinstance(actual, (int, float, np.number)):
        raise CheckFailure(f"{name} is a {type(actual).__name__}, expected a single number")
    if not np.isfinite(actual):
        raise CheckFailure(
            f"{name} is {actual}, expected the finite value {expected:.6g}",
            public=f"{name} is {actual}, expected a finite value",
        )
    if abs(actual - expected) > atol + rtol * abs(expected):
        ratio = f" ({actual / expected:.4g} times the expected value)" if expected else ""
        raise CheckFailure(
            f"{name} is {actual:.6g}, expected {expected:.6g}{ratio}; tolerance rtol={rtol:g}, atol={atol:g}",
            public=f"{name} is {actual:.6g}, which is wrong{ratio}; tolerance rtol={rtol:g}, atol={atol:g}",
        )


def assert_columns_sum_to_one(P: Any, *, name: str, atol: float = RTOL) -> None:
    """Check that every column of ``P`` is a probability distribution.

    The default tolerance is the course's float32-friendly :data:`RTOL` (the sums are taken in float64).
    """
    P = assert_array(P, name=name)
    if P.ndim != 2:
        raise CheckFailure(f"{name} has shape {P.shape}, expected a matrix (n_classes, n_samples)")
    sums = P.astype(np.float64).sum(axis=0)
    bad = ~(np.abs(sums - 1) <= atol)
    if bad.any():
        column = int(np.flatnonzero(bad)[0])
        raise CheckFailure(
            f"column {column} of {name} sums to {sums[column]:.6g}, "
            f"expected 1 ({int(bad.sum())} of {P.shape[1]} columns are off)"
        )
    negative = P < 0
    if negative.any():
        where = int(np.flatnonzero(negative.reshape(-1))[0])
        raise CheckFailure(
            f"{name}{_index(where, P.shape)} is {P.reshape(-1)[where]:.6g}: probabilities cannot be negative"
        )
