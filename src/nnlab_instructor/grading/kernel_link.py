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

import sys
import traceback
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


def serve_call(namespace: dict, function_name: str, request: str, reply: str) -> None:
    """Kernel side of a graded call: run the student's function on the grader's inputs, send back the result.

    Reads ``(args, kwargs)`` from ``request`` and writes ``{"output" or "raised", "after"}`` to ``reply``,
    both in :mod:`~nnlab_instructor.grading.wire_format`.
    """
    args, kwargs = wire_format.load(Path(request))
    out_of_memory = None
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
    result["after"] = [list(args), kwargs]
    wire_format.save(Path(reply), result)
    if out_of_memory is not None:
        # also fail the kernel's cell with it, so the sandbox records the submission as "out of memory"
        raise out_of_memory from None


def apply_changes(args: tuple, kwargs: dict, args_after: list, kwargs_after: dict) -> None:
    """Give the grader's arguments the state the student's function left the kernel's copies in."""
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
