"""Assertions for the notebooks' test cells: each failure says what is wrong and where.

A test cell compares a student's function with :mod:`nnlab_instructor.reference`::

    Z = checks.random_scores((10, 4), seed=0)
    P = checks.call_own(softmax, Z, reference="softmax")
    checks.assert_columns_sum_to_one(P, name="softmax(Z)")
    checks.assert_close(P, reference.softmax(Z), name="softmax(Z)", rtol=1e-5, atol=1e-12)

:func:`call_own` runs the student's function with the reference implementation of the same name
switched off, so a function that only calls ``nnlab_instructor.reference`` earns nothing.

While grading, the test cells run in the grader, never in the student's kernel: :func:`call_own` goes
through the link that :mod:`nnlab_instructor.grading.kernel_link` installs, which runs the student's function in
the kernel and brings back what it returned, so the assertions that decide the points run where a
student cannot reach.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from nnlab_instructor import reference  # noqa: I001  (temporary, replaced by recorded values)

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
    """Seeded probabilities of shape (n_classes, n_samples), each column summing to 1."""
    return reference.softmax(random_scores((n_classes, n_samples), seed))


def random_problem(
    n_features: int, n_hidden: int, n_classes: int, n_samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A small seeded network and data: ``X`` (n_features, n_samples), one-hot ``Y`` (n_classes,
    n_samples) and parameters with non-zero biases, so every gradient term is exercised."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_features, n_samples))
    Y = one_hot_columns(rng.integers(0, n_classes, n_samples), n_classes)
    params = reference.init_params(n_features, n_hidden, n_classes, seed=rng)
    params["b1"] += rng.normal(scale=0.5, size=params["b1"].shape)
    params["b2"] += rng.normal(scale=0.5, size=params["b2"].shape)
    return X, Y, params


# --------------------------------------------------------------------------- the student's own code


@contextlib.contextmanager
def reference_disabled(*names: str) -> Iterator[None]:
    """Inside the block, calling ``nnlab_instructor.reference.<name>`` under any alias fails with a clear message.

    The function's code object is swapped, so ``from nnlab_instructor.reference import softmax as s`` done
    earlier is caught as well as ``nnlab_instructor.reference.softmax``.
    """
    saved: dict[str, types.CodeType] = {}
    try:
        for name in names:
            function = getattr(reference, name, None)
            if function is None:  # a graded function with no counterpart of that name in nnlab
                continue
            message = (
                f"your function called nnlab_instructor.reference.{name}: the graded function must be your own "
                f"implementation (nnlab's copy earns no points)"
            )
            namespace: dict[str, Any] = {}
            exec(f"def {name}(*args, **kwargs):\n    raise AssertionError({message!r})", namespace)
            saved[name] = function.__code__
            function.__code__ = namespace[name].__code__
        yield
    finally:
        for name, code in saved.items():
            getattr(reference, name).__code__ = code


# While grading, the link to the student's kernel (nnlab_instructor.grading.kernel_link): ``remote(function_name,
# reference_names, args, kwargs)`` returns what the function returned, with the arguments changed as the
# function changed them, or raises. None: call the function here.
_remote: Callable | None = None


def set_remote(caller: Callable | None) -> None:
    """Route :func:`call_own` through ``caller`` (the grader's link to a student's kernel); None undoes it."""
    global _remote
    _remote = caller


def call_own(function: Callable, *args: Any, reference: str | tuple[str, ...], **kwargs: Any) -> Any:
    """Call the student's ``function`` with nnlab's implementation(s) named ``reference`` disabled.

    Raises
    ------
    CheckFailure
        If ``function`` is nnlab's own, or calls it.
    """
    names = (reference,) if isinstance(reference, str) else tuple(reference)
    if _remote is not None:
        return _remote(getattr(function, "__name__", str(function)), names, args, kwargs)
    module = getattr(function, "__module__", "") or ""
    if module.startswith("nnlab") or module.startswith("scipy.special"):
        raise CheckFailure(
            f"{getattr(function, '__name__', function)!s} comes from {module}: write your own implementation "
            f"in the cell above (imported functions earn no points)"
        )
    with reference_disabled(*names):
        try:
            return function(*args, **kwargs)
        except AssertionError as error:
            raise CheckFailure(str(error)) from None


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
            hint = ": rows and columns are swapped (samples are columns here)"
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
