"""Grading a class: every submission of an assignment through the steps of the grading path.

For every student with a submission (nbgrader's ``submitted/<student>/<assignment>/``, after
``nbgrader zip_collect`` when LMS downloads are waiting in ``downloaded/<assignment>/archive/``):

1. :mod:`~nnlab_instructor.grading.submissions` finds and repairs the notebook or says why it cannot be graded;
2. a worker process runs it in the :mod:`~nnlab_instructor.grading.sandbox` while
   :mod:`~nnlab_instructor.grading.decide` decides each test outside the kernel;
3. :mod:`~nnlab_instructor.grading.record` has nbgrader record the executed notebooks in its gradebook (one
   writer: no "database is locked", whatever the number of workers) and write the feedback, in batches
   while the rest of the class is still being graded;
4. :mod:`~nnlab_instructor.grading.table` writes ``grades/<assignment>.csv``: score, max_score, status, detail.

A student whose grading failed for a reason of the grader's own keeps their previous results.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from ..authoring.course_files import CourseError, assignments, open_gradebook, run_nbgrader
from .distributed.journal import Basis, Journal
from .distributed.travel import Submission, grader_version, read_submission
from .record import RecordWhileGrading, register_assignment
from .table import GradeRow, Status, read_grade_table, read_grades, write_grade_table
from .worker import AssignmentFiles, Outcome, grade_many, grade_submission

if TYPE_CHECKING:  # only --scheduler needs dask and distributed (the extra [dask])
    from .distributed.cluster import Cluster

__all__ = ["Outcome", "grade", "grade_in_worker", "grade_student"]


def grade(
    root: Path,
    assignment: str,
    *,
    workers: int | None = None,
    students: list[str] | None = None,
    limits=None,
    progress: bool = False,
    cluster: Cluster | None = None,
    resume: bool = False,
) -> list[GradeRow]:
    """Grade every submission of ``assignment`` (or only ``students``); returns the whole grade table.

    ``cluster``: grade on a Dask cluster instead of local worker processes (:mod:`.distributed`).
    ``resume``: take the outcomes journaled by an interrupted run that are still valid (same submission,
    assignment files and grader version) instead of grading those students again.
    """
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

    files = AssignmentFiles.from_course(root, assignment)
    bases = {s: _basis(root, assignment, s, files) for s in chosen}
    # Recording starts before the workers: its processes are forked while this one has no threads yet.
    with (
        RecordWhileGrading(root, assignment, whole_class=students is None) as recorder,
        Journal(root / "grades" / f"{assignment}.journal.jsonl", resume=resume) as journal,
    ):
        outcomes = journal.finished(bases)
        for student in sorted(outcomes):
            _record(recorder, outcomes[student])
        todo = [s for s in chosen if s not in outcomes]
        if cluster is None:
            arriving = _run_workers(root, assignment, todo, workers or os.cpu_count() or 1, limits)
        else:
            arriving = _run_on_cluster(cluster, root, files, todo, limits)
        for student, outcome in _collect(arriving, assignment, len(todo), journal, bases, progress):
            outcomes[student] = outcome
            _record(recorder, outcome)
        recorder.finish()
    for student, outcome in outcomes.items():
        if student in recorder.failures:
            outcome.status, outcome.detail = Status.GRADER_ERROR.value, recorder.failures[student]
        elif student in recorder.feedback_failures:
            outcome.detail = "; ".join(d for d in (outcome.detail, recorder.feedback_failures[student]) if d)
    rows = _merge_rows(root, assignment, outcomes)
    write_grade_table(root / "grades" / f"{assignment}.csv", rows)
    return rows


def _record(recorder: RecordWhileGrading, outcome: Outcome) -> None:
    # A grader error keeps the student's previous results: nothing of theirs is recorded.
    if outcome.status != Status.GRADER_ERROR:
        recorder.add(outcome.student_id, outcome.notebook, outcome.timestamp)


def _basis(root: Path, assignment: str, student: str, files: AssignmentFiles) -> Basis:
    submission = read_submission(root / "submitted" / student / assignment, student, max_bytes=None)
    return Basis(submission.sha256, files.digest, grader_version())


def _collect(
    arriving: Iterator[tuple[str, Outcome]],
    assignment: str,
    total: int,
    journal: Journal,
    bases: dict[str, Basis],
    progress: bool,
) -> Iterator[tuple[str, Outcome]]:
    """The outcomes as they arrive, each journaled at once (one writer: this process)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"grading {assignment}", unit="student", file=sys.stderr)
    for student, outcome in arriving:
        journal.append(bases[student], outcome)
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{student}: {outcome.status}")
        yield student, outcome
    if bar is not None:
        bar.close()


def _run_workers(
    root: Path, assignment: str, students: list[str], workers: int, limits
) -> Iterator[tuple[str, Outcome]]:
    processes = max(1, min(workers, len(students) or 1))
    with ProcessPoolExecutor(max_workers=processes, initializer=grade_many, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(grade_student, str(root), assignment, student, limits): student for student in students}
        for future in as_completed(futures):
            student = futures[future]
            yield student, _worker_outcome(future, student)


def _run_on_cluster(
    cluster: Cluster, root: Path, files: AssignmentFiles, students: list[str], limits
) -> Iterator[tuple[str, Outcome]]:
    from .distributed.cluster import grade_on_cluster

    def load(student: str) -> Submission:
        return read_submission(root / "submitted" / student / files.assignment, student)

    # The course folder is hidden from the kernel, as on the local path, where the worker's machine has it.
    return grade_on_cluster(cluster, files, students, load, limits, hide=(str(root),))


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
    try:
        root_path = Path(root)
        files = AssignmentFiles.from_course(root_path, assignment)
    except Exception as error:
        return Outcome(student, Status.GRADER_ERROR.value, f"{type(error).__name__}: {error}")
    submission = Path(folder) if folder else root_path / "submitted" / student / assignment
    # The course folder (source notebooks with hidden tests, submissions, gradebook) is invisible to
    # the kernel; what it must import from there (src/, on its sys.path) is mounted back read-only.
    return grade_submission(files, student, submission, limits, hide=(str(root_path),))


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
