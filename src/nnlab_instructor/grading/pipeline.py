"""Grading a class: every submission of an assignment through the steps of the grading path.

For every student with a submission (nbgrader's ``submitted/<student>/<assignment>/``, after
``nbgrader zip_collect`` when LMS downloads are waiting in ``downloaded/<assignment>/archive/``):

1. :mod:`~nnlab_instructor.grading.submissions` finds and repairs the notebook or says why it cannot be graded;
2. a worker process runs it in the :mod:`~nnlab_instructor.grading.sandbox` while
   :mod:`~nnlab_instructor.grading.decide` decides each test outside the kernel;
3. :mod:`~nnlab_instructor.grading.record` has nbgrader record the executed notebooks in its gradebook (one
   writer: no "database is locked", whatever the number of workers) and write the feedback;
4. :mod:`~nnlab_instructor.grading.table` writes ``grades/<assignment>.csv``: score, max_score, status, detail.

A student whose grading failed for a reason of the grader's own keeps their previous results.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import traceback
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_solution

from ..authoring.course_files import (
    SANITIZE_CONFIG,
    CourseError,
    assignments,
    open_gradebook,
    released_files,
    run_nbgrader,
    sanitize_outputs,
    source_notebook,
)
from .record import record_class, register_assignment
from .table import GradeRow, Status, read_grade_table, read_grades, write_grade_table


@dataclass
class Outcome:
    """What a worker found for one student (the notebook is JSON text, to cross processes cheaply)."""

    student_id: str
    status: str  # a Status value
    detail: str
    notebook: str | None = None
    timestamp: str | None = None  # the checked timestamp.txt, for late penalties


def grade(
    root: Path,
    assignment: str,
    *,
    workers: int | None = None,
    students: list[str] | None = None,
    limits=None,
    progress: bool = False,
) -> list[GradeRow]:
    """Grade every submission of ``assignment`` (or only ``students``); returns the whole grade table."""
    if assignment not in assignments(root):
        raise CourseError(f"no assignment {assignment!r} in {root / 'source'} (have: {', '.join(assignments(root))})")
    if (root / "downloaded" / assignment / "archive").is_dir():
        run_nbgrader(root, "zip_collect", assignment, "--force")
    everyone = sorted(p.parent.name for p in (root / "submitted").glob(f"*/{assignment}") if p.is_dir())
    chosen = [s for s in everyone if students is None or s in students]
    if students:
        unknown = sorted(set(students) - set(everyone))
        if unknown:
            raise CourseError(f"no submission of {assignment} from {', '.join(unknown)}")
    register_assignment(root, assignment)  # before any work: a course nbgrader cannot record is said at once

    outcomes = _run_workers(root, assignment, chosen, workers or os.cpu_count() or 1, limits, progress)
    # A grader error keeps the student's previous results: nothing of theirs is recorded.
    to_record = {s: (o.notebook, o.timestamp) for s, o in outcomes.items() if o.status != Status.GRADER_ERROR}
    if to_record:
        recorded = record_class(root, assignment, to_record, whole_class=students is None)
        for student in to_record:
            outcome = outcomes[student]
            if student in recorded.failures:
                outcome.status, outcome.detail = Status.GRADER_ERROR.value, recorded.failures[student]
            elif recorded.feedback_failure is not None:
                outcome.detail = "; ".join(d for d in (outcome.detail, recorded.feedback_failure) if d)
    rows = _merge_rows(root, assignment, outcomes)
    write_grade_table(root / "grades" / f"{assignment}.csv", rows)
    return rows


def _run_workers(
    root: Path, assignment: str, students: list[str], workers: int, limits, progress: bool
) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(students), desc=f"grading {assignment}", unit="student", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(students) or 1))) as pool:
        futures = {pool.submit(grade_student, str(root), assignment, student, limits): student for student in students}
        for future in as_completed(futures):
            student = futures[future]
            outcome = outcomes[student] = _worker_outcome(future, student)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{student}: {outcome.status}")
    if bar is not None:
        bar.close()
    return outcomes


def grade_in_worker(root: Path, assignment: str, student: str, folder: Path, limits=None) -> Outcome:
    """One student's submission in ``folder`` graded as :func:`grade` grades each of a class: by
    :func:`grade_student` in a worker process of its own (nbgrader's own autograde, through
    :mod:`~nnlab_instructor.grading.nbgrader_steps`, grades a class one student at a time)."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(grade_student, str(root), assignment, student, limits, str(folder))
        return _worker_outcome(future, student)


def _worker_outcome(future: Future, student: str) -> Outcome:
    try:
        return future.result()
    except Exception as error:
        return Outcome(
            student, Status.GRADER_ERROR.value, f"the grading worker failed: {type(error).__name__}: {error}"
        )


def grade_student(root: str, assignment: str, student: str, limits=None, folder: str | None = None) -> Outcome:
    """Worker: everything for one student that does not touch the gradebook.

    ``folder`` holds the submission (default: nbgrader's ``submitted/<student>/<assignment>/`` of ``root``).
    """
    from . import decide, submissions
    from .sandbox import Limits

    try:
        root_path = Path(root)
        source = nbformat.read(source_notebook(root_path, assignment), as_version=4)
        release = nbformat.read(root_path / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        submission = Path(folder) if folder else root_path / "submitted" / student / assignment
        prepared = submissions.prepare(submission, assignment, source, release)
        if prepared.status != submissions.READY:
            detail = "; ".join([prepared.detail, *prepared.notes]).strip("; ")
            # Recorded as the untouched release that failed every test: the student has a row in the
            # gradebook too (0 points), so `nbgrader export` and the table list the same students.
            return Outcome(student, prepared.status, detail, nbformat.writes(_not_graded(release, prepared.status)))
        # The course folder (source notebooks with hidden tests, submissions, gradebook) is invisible to
        # the kernel; what it must import from there (src/, on its sys.path) is mounted back read-only.
        limits = dataclasses.replace(limits or Limits(), hide_paths=(*(limits or Limits()).hide_paths, str(root_path)))
        assert prepared.notebook is not None  # a ready submission always carries its notebook
        graded = decide.grade_notebook(source, prepared.notebook, limits, released_files(root_path, assignment))
        execution = graded.execution
        notes = list(prepared.notes)
        if execution.status == "completed":
            status = (Status.TAMPERING_DETECTED if prepared.tampering else Status.GRADED).value
            detail = "; ".join(prepared.tampering + notes)
        elif execution.status == "failed to start":
            return Outcome(student, Status.GRADER_ERROR.value, execution.detail)
        else:
            status, detail = execution.status, "; ".join([execution.detail, *prepared.tampering, *notes])
        if (root_path / SANITIZE_CONFIG).is_file():
            # The grading machine's folders and addresses are not the student's business, and a regrade
            # elsewhere should record the same notebook.
            sanitize_outputs(graded.notebook, root_path / SANITIZE_CONFIG)
        return Outcome(student, status, detail, nbformat.writes(graded.notebook), prepared.timestamp)
    except Exception as error:
        return Outcome(
            student,
            Status.GRADER_ERROR.value,
            f"{type(error).__name__}: {error} ({_last_line(traceback.format_exc())})",
        )


def _not_graded(release: nbformat.NotebookNode, status: str) -> nbformat.NotebookNode:
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


def _merge_rows(root: Path, assignment: str, outcomes: dict[str, Outcome]) -> list[GradeRow]:
    previous = {row.student_id: row for row in read_grade_table(root / "grades" / f"{assignment}.csv")}
    scores = {row.student_id: row for row in read_grades(root, assignment)}
    rows = dict(previous)
    for student, outcome in outcomes.items():
        if outcome.status == Status.GRADER_ERROR:
            kept = previous.get(student)
            note = f"grading failed, previous result kept: {outcome.detail}" if kept else outcome.detail
            rows[student] = GradeRow(
                student,
                kept.score if kept else 0.0,
                kept.max_score if kept else _max_score(root, assignment),
                Status.GRADER_ERROR.value,
                note,
            )
            continue
        score = scores.get(student)
        detail = "; ".join(d for d in (outcome.detail, score.detail if score else "") if d)
        rows[student] = GradeRow(
            student,
            score.score if score else 0.0,
            score.max_score if score else _max_score(root, assignment),
            outcome.status,
            detail,
        )
    return [rows[s] for s in sorted(rows)]


def _max_score(root: Path, assignment: str) -> float:
    with open_gradebook(root) as gradebook:
        return gradebook.find_assignment(assignment).max_score


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
