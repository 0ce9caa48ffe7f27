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

from .client import SandboxNotebookClient, drop_warning_streams, execute_notebook
from .kernel import SandboxKernelManager
from .limits import MB, TRUNCATION_MARKER, CellReport, ExecutionReport, GiB, Isolation, Limits

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
