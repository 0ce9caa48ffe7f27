"""One student's grading, from what the course gives a worker: the seam between coordinator and workers.

:class:`AssignmentFiles` is everything grading needs from the course for one assignment (the source
notebook with its hidden tests, the release, the trusted released files, nbval's sanitize rules), as plain
data: built once from the course folder by the coordinator, it can travel to a worker process or machine
that has no course folder. :func:`grade_submission` grades one submission folder with it and touches
nothing else: no gradebook, no table (the coordinator alone writes those).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_solution

from ..authoring.course_files import SANITIZE_CONFIG, released_files, sanitize_rules, source_notebook
from .table import Status


@dataclass
class Outcome:
    """What a worker found for one student (the notebook is JSON text, to cross processes cheaply)."""

    student_id: str
    status: str  # a Status value
    detail: str
    notebook: str | None = None
    timestamp: str | None = None  # the checked timestamp.txt, for late penalties


#: per process: the parsed source and release of the last assignment graded, by AssignmentFiles.digest
_PARSED: dict[str, tuple[nbformat.NotebookNode, nbformat.NotebookNode]] = {}


@dataclass(frozen=True)
class AssignmentFiles:
    """What grading needs from the course for one assignment, as text and bytes."""

    assignment: str
    source: str  # the source notebook (hidden tests included), nbformat JSON
    release: str  # the student release, nbformat JSON
    released: dict[str, bytes]  # files released beside the notebook: what the kernel and the tests trust
    sanitize: str | None  # nbval's sanitize rules (``nbval_sanitize.cfg``), if the course has them

    @classmethod
    def from_course(cls, root: Path, assignment: str) -> AssignmentFiles:
        sanitize = root / SANITIZE_CONFIG
        return cls(
            assignment=assignment,
            source=source_notebook(root, assignment).read_text(encoding="utf-8"),
            release=(root / "release" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"),
            released=released_files(root, assignment),
            sanitize=sanitize.read_text(encoding="utf-8") if sanitize.is_file() else None,
        )

    def notebooks(self) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
        """The source and the release, parsed once per process (each caller gets its own copies)."""
        parsed = _PARSED.get(self.digest)
        if parsed is None:
            _PARSED.clear()  # one assignment at a time: keep memory bounded
            parsed = _PARSED[self.digest] = (
                nbformat.reads(self.source, as_version=4),
                nbformat.reads(self.release, as_version=4),
            )
        return copy.deepcopy(parsed[0]), copy.deepcopy(parsed[1])

    @cached_property
    def digest(self) -> str:
        """SHA-256 of everything above: equal digests grade equally (with the same grader version)."""
        sha = hashlib.sha256()
        for part in (self.assignment, self.source, self.release, self.sanitize or ""):
            sha.update(part.encode("utf-8") + b"\0")
        for name, content in sorted(self.released.items()):
            sha.update(name.encode("utf-8") + b"\0" + content + b"\0")
        return sha.hexdigest()


def grade_submission(
    files: AssignmentFiles, student: str, folder: Path, limits=None, hide: tuple[str, ...] = ()
) -> Outcome:
    """Grade the submission in ``folder``: find and repair its notebook, run it in the sandbox with every
    test decided outside the kernel. ``hide`` are folders the kernel must not see (the course folder).

    Never raises: whatever goes wrong is the student's :class:`Outcome` (a grader error for the grader's
    own faults, so that the student's previous results are kept).
    """
    from . import decide, submissions
    from .sandbox import Limits

    try:
        source, release = files.notebooks()
        prepared = submissions.prepare(folder, files.assignment, source, release)
        if prepared.status != submissions.READY:
            detail = "; ".join([prepared.detail, *prepared.notes]).strip("; ")
            # Recorded as the untouched release that failed every test: the student has a row in the
            # gradebook too (0 points), so `nbgrader export` and the table list the same students.
            return Outcome(student, prepared.status, detail, nbformat.writes(not_graded(release, prepared.status)))
        base = limits or Limits()
        limits = dataclasses.replace(base, hide_paths=(*base.hide_paths, *hide))
        assert prepared.notebook is not None  # a ready submission always carries its notebook
        graded = decide.grade_notebook(source, prepared.notebook, limits, files.released)
        execution = graded.execution
        notes = list(prepared.notes)
        if execution.status == "completed":
            status = (Status.TAMPERING_DETECTED if prepared.tampering else Status.GRADED).value
            detail = "; ".join(prepared.tampering + notes)
        elif execution.status == "failed to start":
            return Outcome(student, Status.GRADER_ERROR.value, execution.detail)
        else:
            status, detail = execution.status, "; ".join([execution.detail, *prepared.tampering, *notes])
        if files.sanitize is not None:
            # The grading machine's folders and addresses are not the student's business, and a regrade
            # elsewhere should record the same notebook.
            sanitize_rules(graded.notebook, files.sanitize, SANITIZE_CONFIG)
        return Outcome(student, status, detail, nbformat.writes(graded.notebook), prepared.timestamp)
    except Exception as error:
        return Outcome(
            student,
            Status.GRADER_ERROR.value,
            f"{type(error).__name__}: {error} ({_last_line(traceback.format_exc())})",
        )


def die_with(coordinator: int) -> None:
    """This process ends when ``coordinator`` does, however it ends (even killed): a process of a pool whose
    coordinator is gone would otherwise wait forever for work, holding its memory, and a recording process
    would go on writing the gradebook under a run resumed meanwhile.

    The signal comes when the thread that started this process ends: call it only in processes started
    by the thread that waits for them (``nnlab grade``'s pools)."""
    if sys.platform == "linux":
        from .sandbox.launcher import PR_SET_PDEATHSIG, prctl

        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != coordinator:  # it ended before the line above
        os._exit(1)


def grade_many(coordinator: int | None = None) -> None:
    """This process grades one submission after another (a grading worker): from now on it starts the
    next student's sandboxed kernel while the current student is graded (:func:`decide.keep_kernels_ahead`),
    and its own numpy work (the tests' arrays, the course's functions) uses one BLAS thread; it ends with
    ``coordinator`` (:func:`die_with`) if given."""
    from threadpoolctl import threadpool_limits

    from . import decide

    # The kernels and the other workers need the cores: a BLAS library's idle threads spin, waiting for
    # work (measured on 10-capstone: 7.9 CPU s per submission at one worker, 5.6 with the run on one core).
    if coordinator is not None:
        die_with(coordinator)
    threadpool_limits(limits=1)
    decide.keep_kernels_ahead()


def not_graded(release: nbformat.NotebookNode, status: str) -> nbformat.NotebookNode:
    """The release with every test cell failed, for a submission that could not be executed."""
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if is_grade(cell) and not is_solution(cell):
            cell.outputs = [
                nbformat.v4.new_output("error", ename="NotGraded", evalue=f"not graded: {status}", traceback=[])
            ]
    return notebook


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
