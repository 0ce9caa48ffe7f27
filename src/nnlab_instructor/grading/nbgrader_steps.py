"""The course's grader inside nbgrader's own converters, for every way nbgrader is run.

``nbgrader_config.py`` sets nbgrader's preprocessor lists to the ones below, so that ``nbgrader
autograde``, ``nbgrader generate_feedback``, Formgrader's buttons (``NbGraderAPI.autograde`` and
``NbGraderAPI.generate_feedback``) and ``nnlab grade``'s recording all grade and show feedback the
same way:

- :class:`GradeSubmission` takes the place of nbgrader's ``Execute`` in ``Autograde``: the
  submission is graded as ``nnlab grade`` grades it (:func:`~nnlab_instructor.grading.pipeline.grade_student`
  in a worker process: sandboxed kernel, every test decided outside it), or, inside ``nnlab grade``,
  the notebook it already graded is handed on, so nothing runs twice;
- :class:`WithholdFromFeedback` comes first in ``GenerateFeedback``: whichever path wrote the
  autograded notebook, the feedback shows test cells as the student got them, the grader's verdicts
  instead of tracebacks, and no folder of the grading machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Instance, Unicode

from .decide import HIDDEN_REGION
from .feedback import FeedbackPreprocessor
from .sandbox import Limits
from .table import Status

#: Autograde's first pass, over the student's file: nbgrader's own restoring of test cells
#: (OverwriteCells) is left out because GradeSubmission rebuilds every graded cell from the trusted
#: copies itself, and OverwriteCells would warn "checksum has changed" for every test cell with hidden
#: tests. Cleared outputs: what the student saved never sits in autograded/, even for a moment.
SANITIZE_PREPROCESSORS = ["nbgrader.preprocessors.ClearOutput"]

#: Autograde's second pass: nbgrader's defaults with GradeSubmission in place of Execute (and no
#: IgnorePattern, which only filters what Execute printed).
AUTOGRADE_PREPROCESSORS = [
    "nnlab_instructor.grading.nbgrader_steps.GradeSubmission",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

#: GenerateFeedback: nbgrader's defaults after WithholdFromFeedback.
FEEDBACK_PREPROCESSORS = [
    "nnlab_instructor.grading.nbgrader_steps.WithholdFromFeedback",
    # the outputs of demos the grader skipped, from the course's executed notebooks, marked as such
    "nnlab_instructor.grading.feedback.DemoOutputs",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    # messages wrap instead of hiding behind scrollbars
    "nnlab_instructor.grading.feedback.FeedbackStyle",
]

#: Error outputs the course's grader writes in test cells; their messages never hold a hidden case's
#: values (:func:`~nnlab_instructor.grading.decide.explain`).
VERDICT_ERRORS = frozenset({"TestFailed", "NotGraded", "NotRun", "CellTimeoutError", "DeadKernelError"})

WITHHELD = (
    "a test failed (this notebook was not graded by the course's grader: the details are withheld; "
    "ask your instructor to grade it again)"
)

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The folders of an absolute path (at least one), followed by its last part, which is kept: tracebacks
# keep "checks.py:199" and lose where the grading machine keeps it.
_PATH_PART = r"[^\s/:'\"<>()\[\],;=]+"
MACHINE_FOLDERS = re.compile(rf"(?<![\w.~/-])/(?:{_PATH_PART}/)+(?={_PATH_PART})")


class GradingError(Exception):
    """The course's grader could not grade a submission (nbgrader reports it for that student only)."""


def nbgrader_settings() -> dict:
    """The configuration ``nbgrader_config.py`` gives nbgrader, as a traitlets config dictionary."""
    return {
        "Autograde": {
            "sanitize_preprocessors": list(SANITIZE_PREPROCESSORS),
            "autograde_preprocessors": list(AUTOGRADE_PREPROCESSORS),
        },
        "GenerateFeedback": {"preprocessors": list(FEEDBACK_PREPROCESSORS)},
    }


def _coursedir(preprocessor: NbGraderPreprocessor):
    """The CourseDirectory of the converter running ``preprocessor`` (its exporter's parent)."""
    owner = preprocessor.parent
    while owner is not None and not hasattr(owner, "coursedir"):
        owner = owner.parent
    if owner is None:
        raise GradingError(
            f"{type(preprocessor).__name__} runs inside nbgrader's converters (autograde, generate_feedback), "
            "which tell it the course folder; it was run without one"
        )
    return owner.coursedir


class GradeSubmission(NbGraderPreprocessor):
    """Stands in for nbgrader's Execute: the course's grading of one submitted notebook.

    nbgrader gives it the sanitized copy of the student's notebook; that copy is set aside and the
    submission folder graded exactly as ``nnlab grade`` grades it (rebuilt from the trusted cells,
    executed in the sandbox, every test decided in the grader's process), in a worker process.
    SaveAutoGrades, AssignLatePenalties and the rest of nbgrader's steps then record the result.

    With ``staged_directory`` set (``nnlab grade``'s recording), the notebook already graded there is
    handed on instead: nothing is executed.
    """

    staged_directory = Unicode(
        "",
        help="Folder of notebooks `nnlab grade` already graded, laid out as <student>/<assignment>/<notebook>.ipynb; "
        "empty: grade the submission now",
    ).tag(config=True)

    limits = Instance(Limits, args=(), help="Time and memory budgets of the student's kernel").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, name = info["student"], info["assignment"], info["notebook"]
        if self.staged_directory:
            staged = Path(self.staged_directory) / student / assignment / f"{name}.ipynb"
            return nbformat.read(staged, as_version=4), resources
        if name != assignment:
            raise GradingError(
                f"{assignment} has a notebook {name}.ipynb: the course grades one notebook per assignment, "
                f"named {assignment}.ipynb"
            )
        from .pipeline import grade_in_worker  # the pipeline imports nbgrader's API: only when grading

        coursedir = _coursedir(self)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        outcome = grade_in_worker(Path(coursedir.root), assignment, student, folder, self.limits)
        if outcome.status == Status.GRADER_ERROR or outcome.notebook is None:
            raise GradingError(f"{student}'s {assignment} could not be graded: {outcome.detail}")
        if outcome.status != Status.GRADED:
            self.log.warning(
                "%s's %s: %s%s", student, assignment, outcome.status, f" ({outcome.detail})" * bool(outcome.detail)
            )
        elif outcome.detail:
            self.log.info("%s's %s: %s", student, assignment, outcome.detail)
        return nbformat.reads(outcome.notebook, as_version=4), resources


class WithholdFromFeedback(FeedbackPreprocessor):
    """Makes an autograded notebook fit to show its student, whoever autograded it.

    - Test cells show the source the student was given (the release's cell; without a release, the
      source with its hidden regions cut out).
    - Test cells keep their printed output and the course grader's verdicts; any other error (a
      traceback of a test run in the student's kernel, with the expected values of a hidden case) is
      replaced by a message that says the details are withheld. Rich outputs of test cells are dropped.
    - No output names a folder of the grading machine (``/srv/course/src/nnlab/checks.py`` becomes
      ``checks.py``); tracebacks lose their colours, which would hide a path from that rule.
    """

    def preprocess(self, nb, resources):
        release = self._release_cells(resources)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if is_grade(cell) and not is_solution(cell):
                released = release.get(cell.metadata["nbgrader"].get("grade_id"))
                cell.source = released.source if released is not None else HIDDEN_REGION.sub("", cell.source)
                cell.outputs = [
                    _verdict_only(o) for o in cell.get("outputs", []) if o.output_type in ("stream", "error")
                ]
            cell.outputs = [_without_machine_paths(o) for o in cell.get("outputs", [])]
        return nb, resources

    def _release_cells(self, resources) -> dict:
        info = resources["nbgrader"]
        coursedir = _coursedir(self)
        path = Path(coursedir.format_path(coursedir.release_directory, ".", info["assignment"])) / (
            f"{info['notebook']}.ipynb"
        )
        if not path.is_file():
            self.log.warning("no release %s: hidden tests are cut out of the test cells' source instead", path)
            return {}
        release = nbformat.read(path, as_version=4)
        return {
            c.metadata["nbgrader"]["grade_id"]: c
            for c in release.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        }


def _verdict_only(output):
    if output.output_type == "error" and output.get("ename") not in VERDICT_ERRORS:
        return nbformat.v4.new_output("error", ename="TestFailed", evalue=WITHHELD, traceback=[])
    return output


def _without_machine_paths(output):
    def clean(text) -> str:
        joined = "".join(text) if isinstance(text, list) else str(text)
        return MACHINE_FOLDERS.sub("", ANSI_ESCAPE.sub("", joined))

    if output.output_type == "error":
        output.evalue = clean(output.get("evalue", ""))
        output.traceback = [clean(line) for line in output.get("traceback", [])] or [
            f"{output.get('ename', 'Error')}: {output.evalue}"
        ]
    elif output.output_type == "stream":
        output.text = clean(output.get("text", ""))
    elif "text/plain" in output.get("data", {}):
        output.data["text/plain"] = clean(output.data["text/plain"])
    return output
