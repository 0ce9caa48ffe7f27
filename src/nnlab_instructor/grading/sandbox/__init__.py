"""Run one student notebook in a sandboxed ipykernel: faults stay with their student and their cell.

:func:`execute_notebook` runs the code cells of a notebook in a fresh ipykernel of this interpreter and
returns an :class:`ExecutionReport`; :class:`Isolation` in it says what was enforced. What happens to a
faulty notebook, how the isolation works and what it does not cover: docs/sandbox.md.

- :mod:`.limits`: the limits asked for, the isolation enforced, the reports;
- :mod:`.kernel`: :class:`SandboxKernelManager`, which starts the kernel behind :mod:`.launcher` (a
  standard-library program run as ``python -I -S launcher.py``);
- :mod:`.client`: :class:`SandboxNotebookClient` and :func:`execute_notebook` (timeouts, output caps).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .limits import MB, TRUNCATION_MARKER, CellReport, ExecutionReport, GiB, Isolation, Limits

if TYPE_CHECKING:
    from .client import SandboxNotebookClient, drop_warning_streams, execute_notebook
    from .kernel import SandboxKernelManager

# The kernel manager and the client bring in jupyter_client and nbclient: imported when first used, so
# that reading the limits (the `nnlab` command's defaults) costs nothing.
_LAZY = {
    "SandboxNotebookClient": "client",
    "drop_warning_streams": "client",
    "execute_notebook": "client",
    "SandboxKernelManager": "kernel",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MB",
    "TRUNCATION_MARKER",
    "CellReport",
    "ExecutionReport",
    "GiB",
    "Isolation",
    "Limits",
    "SandboxKernelManager",
    "SandboxNotebookClient",
    "drop_warning_streams",
    "execute_notebook",
]
