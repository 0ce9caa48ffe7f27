"""Before a machine joins a grading cluster: does the sandbox work here?

A worker whose sandbox cannot start a kernel would turn every student it is given into a grader error;
``nnlab worker`` runs a one-cell notebook in the sandbox first and refuses to start when it fails.
"""

from __future__ import annotations

import tempfile

import nbformat

from ..sandbox import Limits, execute_notebook

PROBE = "import numpy, nnlab\nprint(int(numpy.arange(4).sum()))"


def sandbox_problem(limits: Limits | None = None) -> tuple[str | None, str]:
    """(what is wrong, or None; the isolation the sandbox enforced here, in words)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    with tempfile.TemporaryDirectory(prefix="nnlab-worker-check-") as workdir:
        report = execute_notebook(notebook, workdir, limits or Limits())
    summary = report.isolation.summary()
    if not report.completed:
        return f"the sandbox could not run a one-cell notebook: {report.status}: {report.detail}", summary
    outputs = report.notebook.cells[0].get("outputs", [])
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if text.strip() != "6":
        return f"the sandbox ran a one-cell notebook but it printed {text.strip()!r}, expected '6'", summary
    return None, summary
