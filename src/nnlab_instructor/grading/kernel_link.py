"""The link between the grader and a student's kernel, both sides.

While a notebook is graded, a test cell runs in the grader (:mod:`nnlab_instructor.grading.decide`) and its
``checks.call_own(softmax, Z, ...)`` is routed here: the inputs are written in the pickle-free
:mod:`~nnlab_instructor.grading.wire_format`, :func:`serve_call` runs the student's function in the kernel on them
and writes back what it returned and what it did to its arguments, and :func:`apply_changes` gives the
grader's arguments that state (in-place changes, a used random generator), as a local call would.
:func:`withhold` runs in the kernel before any student cell: the course's answer key cannot be
imported there.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.checks import CheckFailure, call_own

from . import wire_format


def restore(target: Any, after: Any) -> None:
    """Give an argument the state the student's function left it in (in-place changes, a used rng)."""
    if isinstance(target, np.ndarray) and isinstance(after, np.ndarray) and target.shape == after.shape:
        target[...] = after
    elif isinstance(target, np.random.Generator) and isinstance(after, np.random.Generator):
        target.bit_generator.state = after.bit_generator.state
    elif isinstance(target, dict) and isinstance(after, dict):
        for name in [k for k in target if k not in after]:
            del target[name]
        for name, value in after.items():
            if name in target and isinstance(value, (np.ndarray, dict, list, np.random.Generator)):
                restore(target[name], value)
            else:
                target[name] = value
    elif isinstance(target, list) and isinstance(after, list):
        target[:] = after


# Files of the calls a graded function makes to the course's versions: ``{call}`` names the graded call
# (its reply file's stem), ``{number}`` counts that call's calls.
CALLBACK = "{call}.callback-{number}.npy"
CALLBACK_REPLY = "{call}.callback-{number}.reply.npy"


def course_version(name: str, call: str, outbox: Path, inbox: Path, numbers: Iterator[int]) -> Callable:
    """Kernel side: a stand-in for the graded function ``name`` that the grader answers with the course's version.

    The answer key never enters the kernel: each call writes its arguments to ``outbox``, and waits for
    what the course's function returned (and did to its arguments: a used generator) in ``inbox``.
    """

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        number = next(numbers)
        partial = outbox / f".{CALLBACK.format(call=call, number=number)}"
        wire_format.save(partial, [name, list(args), kwargs])
        os.replace(partial, outbox / CALLBACK.format(call=call, number=number))  # whole, or not there at all
        answer = inbox / CALLBACK_REPLY.format(call=call, number=number)
        pause = 0.0002
        while not answer.exists():  # the cell's time budget bounds the wait
            time.sleep(pause)
            pause = min(2 * pause, 0.01)
        result = wire_format.load(answer)
        apply_changes(args, kwargs, *result["after"])
        if "raised" in result:
            kind, message = result["raised"]
            raise RuntimeError(f"the course's {name} raised {kind}: {message}")
        return result["output"]

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def serve_call(namespace: dict, function_name: str, request: str, reply: str, stand_ins: tuple[str, ...] = ()) -> None:
    """Kernel side of a graded call: run the student's function on the grader's inputs, send back the result.

    Reads ``(args, kwargs)`` from ``request`` and writes ``{"output" or "raised", "after"}`` to ``reply``,
    both in :mod:`~nnlab_instructor.grading.wire_format`. While the function runs, the names in
    ``stand_ins`` (the notebook's other graded functions) call the course's versions through the grader,
    so that the function is graded on its own; the student's are put back afterwards.
    """
    args, kwargs = wire_format.load(Path(request))
    before = [_snapshot(value) for value in args], {name: _snapshot(value) for name, value in kwargs.items()}
    out_of_memory = None
    numbers = itertools.count(1)
    saved = {name: namespace[name] for name in stand_ins if name in namespace}
    for name in stand_ins:
        namespace[name] = course_version(name, Path(reply).stem, Path(reply).parent, Path(request).parent, numbers)
    try:
        function = namespace[function_name]
        result = {"output": call_own(function, *args, **kwargs)}
    except KeyError:
        result = {"raised": ["NameError", f"{function_name} is not defined: run the cell that defines it"]}
    except Exception as error:
        kind = "CheckFailure" if isinstance(error, CheckFailure) else type(error).__name__
        message = str(error) or traceback.format_exception_only(type(error), error)[-1].strip()
        result = {"raised": [kind, message]}
        if isinstance(error, MemoryError):
            out_of_memory = MemoryError(message)
    finally:
        for name in stand_ins:
            namespace.pop(name, None)
        namespace.update(saved)
    result["after"] = [
        [_if_changed(value, snapshot) for value, snapshot in zip(args, before[0])],
        {name: _if_changed(value, before[1][name]) for name, value in kwargs.items()},
    ]
    wire_format.save(Path(reply), result)
    if out_of_memory is not None:
        # also fail the kernel's cell with it, so the sandbox records the submission as "out of memory"
        raise out_of_memory from None


def _snapshot(value: Any) -> np.ndarray | None:
    return value.copy() if isinstance(value, np.ndarray) else None


def _if_changed(value: Any, snapshot: np.ndarray | None) -> Any:
    """``value`` as the student's function left it, or None (nothing to restore) for an array it left alone.

    Sending the unchanged training images back cost as much as sending them to the kernel.
    """
    if (
        snapshot is not None
        and isinstance(value, np.ndarray)
        and value.dtype == snapshot.dtype
        # equal_nan is 40 times slower than a plain comparison: only for arrays that hold a NaN
        and (np.array_equal(value, snapshot) or (value.dtype.kind == "f" and np.array_equal(value, snapshot, True)))
    ):
        return None
    return value


def apply_changes(args: tuple, kwargs: dict, args_after: list, kwargs_after: dict) -> None:
    """Give the grader's arguments the state the student's function left the kernel's copies in (None: unchanged)."""
    for target, after in zip(args, args_after):
        restore(target, after)
    for name, after in kwargs_after.items():
        if name in kwargs:
            restore(kwargs[name], after)


def withhold(module_name: str) -> None:
    """Make ``module_name`` (the course's answer key) unimportable for the rest of this process (a grading kernel).

    Where the sandbox has mount namespaces the file itself is replaced as well; this covers the kernels
    that run without them.
    """
    sys.modules[module_name] = None  # type: ignore[assignment]  # None in sys.modules: import raises ImportError
