"""What nbgrader's feedback page needs to be read by a student: offline maths, whole messages, the demos.

nbgrader's GenerateFeedback turns each autograded notebook into HTML; ``nbgrader_config.py`` (its last
block) adds what is here:

- :func:`local_mathjax_url` and ``feedback_template/feedback/mathjax.html.j2``: the page loads MathJax 2.7 from
  the copy the ``jupyter-server-mathjax`` package installs with the course, not from a CDN, so the
  maths is typeset with no network;
- :class:`FeedbackStyle`: ``feedback_template/feedback/feedback.css``, which lets a failed test's
  message wrap instead of hiding behind a scrollbar;
- :class:`DemoOutputs`: the outputs of the locked demo cells that the grader did not run (they do not
  feed the student's code, see :mod:`nnlab_instructor.grading.decide`), taken from the course's executed
  notebook when the demo does not depend on the student's code, each with a note saying so.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jupyter_server_mathjax
import nbformat
import nbgrader
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

from .decide import _free_names, _names

# Template folders named like nbgrader's ("feedback", which nbgrader's API always asks for): what is in
# ours is found before nbgrader's own files.
TEMPLATE_DIRECTORY = Path(__file__).with_name("feedback_template")
STYLE_SHEET = TEMPLATE_DIRECTORY / "feedback" / "feedback.css"

FROM_THE_COURSE = (
    "Output of the course's own run of this notebook, not of yours: this demo does not use your code, "
    "so it was not run again when your notebook was graded."
)
USES_YOUR_CODE = "Not run when your notebook was graded: this demo uses your code. Run your notebook to see its output."


def nbgrader_template_directory() -> str:
    """nbgrader's own template folder, where the feedback page the course's template extends lives."""
    return str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")


def mathjax_file() -> Path:
    """MathJax.js of the MathJax 2.7 that ``jupyter-server-mathjax`` installs (Apache-2.0, its LICENSE beside it)."""
    return Path(jupyter_server_mathjax.__file__).parent / "static" / "MathJax.js"


def local_mathjax_url(config: str) -> str:
    """The ``file:`` URL of the installed MathJax, loading the MathJax configuration named ``config``.

    A Jinja filter (registered by ``nbgrader_config.py``): the feedback template's ``mathjax()`` takes
    its default URL from here.
    """
    return f"{mathjax_file().as_uri()}?config={config}"


class FeedbackPreprocessor(NbGraderPreprocessor):
    """A step of nbgrader's feedback that takes the configuration nbconvert's HTML export gives every step.

    nbgrader's base class declares ``display_data_priority`` without ``config=True``, so each of its
    subclasses in the feedback's list warned, on every call, that the exporter's setting of it was not
    recognized (nbgrader's own ``GetGrades`` declares it configurable, as here).
    """

    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default_value).tag(config=True)


class FeedbackStyle(FeedbackPreprocessor):
    """Adds the course's feedback style sheet to the CSS the page inlines (after nbgrader's, to override it)."""

    def preprocess(self, nb, resources):
        resources.setdefault("inlining", {}).setdefault("css", []).append(STYLE_SHEET.read_text())
        return nb, resources


class DemoOutputs(FeedbackPreprocessor):
    """Shows, in the feedback, the demos the grader skipped: the course's outputs, or why there are none.

    A locked cell the grader skipped has no outputs and no execution count. If no cell before it that
    the student wrote (or that uses what the student wrote) defines a name it reads, its output is the
    same for every student: the one of the course's executed notebook is shown, with a note. Otherwise
    no output is shown, and a note says why.
    """

    executed_directory = Unicode(
        "", help="Folder of the course's executed notebooks, <notebook>/<notebook>.ipynb (notebooks/ in the course)"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        executed = self._executed_cells(resources["nbgrader"]["notebook"])
        from_student: set[str] = set()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            nbgrader = cell.metadata.get("nbgrader", {})
            reads_student = bool(_free_names(cell.source) & from_student)
            if nbgrader.get("solution") or reads_student:
                from_student |= _names(cell.source)[0]
            if not _skipped_demo(cell):
                continue
            course = executed.get(cell.get("id"))
            if course is None or course.source != cell.source or not course.get("outputs"):
                continue
            if reads_student:
                cell.outputs = [_note(USES_YOUR_CODE)]
            else:
                cell.outputs = [_note(FROM_THE_COURSE), *copy.deepcopy(course.outputs)]
        return nb, resources

    def _executed_cells(self, notebook: str) -> dict[str, nbformat.NotebookNode]:
        path = Path(self.executed_directory) / notebook / f"{notebook}.ipynb"
        if not self.executed_directory or not path.is_file():
            return {}
        return {cell.get("id"): cell for cell in nbformat.read(path, as_version=4).cells}


def _skipped_demo(cell: nbformat.NotebookNode) -> bool:
    nbgrader = cell.metadata.get("nbgrader", {})
    return (
        nbgrader.get("locked", False)
        and not nbgrader.get("grade", False)
        and not nbgrader.get("solution", False)
        and not cell.get("outputs")
        and cell.get("execution_count") is None
    )


def _note(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data", data={"text/html": f'<div class="nnlab-demo-note">{text}</div>', "text/plain": text}
    )
