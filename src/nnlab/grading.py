"""`nnlab grade`: grade a whole class on top of nbgrader, safely and in parallel.

For every student with a submission of the assignment (nbgrader's ``submitted/<student>/<assignment>/``,
after ``nbgrader zip_collect`` when LMS downloads are waiting in ``downloaded/<assignment>/archive/``):

1. :mod:`nnlab.preflight` finds and repairs the notebook or says why it cannot be graded;
2. a worker process executes it in a sandboxed kernel while :mod:`nnlab.trusted` decides each test;
3. nbgrader's own autograde records the results in its gradebook (one writer: no "database is
   locked", whatever the number of workers) from the executed notebooks, and writes the feedback;
4. ``grades/<assignment>.csv`` gets one row per student: score, max_score, status, detail.

A student whose grading failed for a reason of the grader's own keeps their previous results.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import shutil
import sys
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .course import (
    SANITIZE_CONFIG,
    assignments,
    call_nbgrader,
    find_root,
    nbgrader_config,
    nbgrader_failure,
    run_nbgrader,
    sanitize_outputs,
    source_notebook,
)
from .nbgrader_plugins import recording_config

GRADE_COLUMNS = ("student_id", "score", "max_score", "status", "detail")
STATUSES = (
    "graded",
    "timed out",
    "out of memory",
    "kernel died",
    "invalid notebook",
    "notebook missing",
    "tampering detected",
    "grader error",
)


@dataclass(frozen=True)
class GradeRow:
    """One student's result for one assignment, as in ``grades/<assignment>.csv``."""

    student_id: str
    score: float
    max_score: float
    status: str
    detail: str


@dataclass
class Outcome:
    """What a worker found for one student (the notebook is JSON text, to cross processes cheaply)."""

    student_id: str
    status: str
    detail: str
    notebook: str | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="assignment to grade, e.g. 02-softmax")
    parser.add_argument("--root", type=Path, help="course root (default: the folder with nbgrader_config.py)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="students graded at once (default: cores)"
    )
    parser.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    parser.add_argument("--cell-timeout", type=float, default=120, help="seconds a cell may run (default: %(default)s)")
    parser.add_argument(
        "--notebook-timeout", type=float, default=900, help="seconds a notebook may run (default: %(default)s)"
    )
    parser.add_argument(
        "--memory-gb", type=float, default=2.0, help="address space of a student's kernel (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .sandbox import GiB, Limits

    root = find_root(args.root)
    limits = Limits(
        cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, memory_bytes=int(args.memory_gb * GiB)
    )
    rows = grade(
        root,
        args.assignment,
        workers=args.workers,
        students=args.students,
        limits=limits,
        progress=not args.no_progress,
    )
    print(format_summary(args.assignment, rows))
    print(
        f"\ngrade table: {root / 'grades' / (args.assignment + '.csv')}; "
        f"feedback: {root / 'feedback'}/<student>/{args.assignment}/"
    )
    return 0


# --------------------------------------------------------------------------- the class


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
        raise SystemExit(
            f"nnlab grade: no assignment {assignment!r} in {root / 'source'} (have: {', '.join(assignments(root))})"
        )
    if (root / "downloaded" / assignment / "archive").is_dir():
        run_nbgrader(root, "zip_collect", assignment, "--force")
    everyone = sorted(p.parent.name for p in (root / "submitted").glob(f"*/{assignment}") if p.is_dir())
    chosen = [s for s in everyone if students is None or s in students]
    if students:
        unknown = sorted(set(students) - set(everyone))
        if unknown:
            raise SystemExit(f"nnlab grade: no submission of {assignment} from {', '.join(unknown)}")

    outcomes = _run_workers(root, assignment, chosen, workers or os.cpu_count() or 1, limits, progress)
    staging = Path(tempfile.mkdtemp(prefix="nnlab-staged-"))
    try:
        staged = _stage(root, assignment, outcomes, staging)
        if staged:
            result = call_nbgrader(
                root,
                "autograde",
                assignment,
                student_id="*",
                force=True,
                create=True,
                overrides=recording_config(staging),
            )
            if not result["success"]:
                for outcome in outcomes.values():
                    if outcome.student_id in staged:
                        outcome.status, outcome.detail = "grader error", nbgrader_failure("autograde", result)
            call_nbgrader(root, "generate_feedback", assignment, force=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
            try:
                outcome = future.result()
            except Exception as error:
                outcome = Outcome(
                    student, "grader error", f"the grading worker failed: {type(error).__name__}: {error}"
                )
            outcomes[student] = outcome
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{student}: {outcome.status}")
    if bar is not None:
        bar.close()
    return outcomes


def grade_student(root: str, assignment: str, student: str, limits=None) -> Outcome:
    """Worker: everything for one student that does not touch the gradebook."""
    from . import preflight, trusted
    from .sandbox import Limits

    try:
        root_path = Path(root)
        source = nbformat.read(source_notebook(root_path, assignment), as_version=4)
        release = nbformat.read(root_path / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        prepared = preflight.prepare(root_path / "submitted" / student / assignment, assignment, source, release)
        if prepared.status != "ready":
            return Outcome(student, prepared.status, "; ".join([prepared.detail, *prepared.notes]).strip("; "))
        # The course folder (source notebooks with hidden tests, submissions, gradebook) is invisible to
        # the kernel; what it must import from there (src/, on its sys.path) is mounted back read-only.
        limits = dataclasses.replace(limits or Limits(), hide_paths=(*(limits or Limits()).hide_paths, str(root_path)))
        assert prepared.notebook is not None  # a "ready" submission always carries its notebook
        graded = trusted.grade_notebook(source, prepared.notebook, limits)
        execution = graded.execution
        notes = list(prepared.notes)
        if execution.status == "completed":
            status = "tampering detected" if prepared.tampering else "graded"
            detail = "; ".join(prepared.tampering + notes)
        elif execution.status == "failed to start":
            return Outcome(student, "grader error", execution.detail)
        else:
            status, detail = execution.status, "; ".join([execution.detail, *prepared.tampering, *notes])
        if (root_path / SANITIZE_CONFIG).is_file():
            # The grading machine's folders and addresses are not the student's business, and a regrade
            # elsewhere should record the same notebook.
            sanitize_outputs(graded.notebook, root_path / SANITIZE_CONFIG)
        return Outcome(student, status, detail, nbformat.writes(graded.notebook))
    except Exception as error:
        return Outcome(
            student, "grader error", f"{type(error).__name__}: {error} ({_last_line(traceback.format_exc())})"
        )


def _stage(root: Path, assignment: str, outcomes: dict[str, Outcome], staging: Path) -> set[str]:
    """Lay out what nbgrader should record: executed notebooks, or an empty folder (a zero) when there is none."""
    staged = set()
    for student, outcome in outcomes.items():
        if outcome.status == "grader error":
            continue  # the previous results stay as they are
        folder = staging / student / assignment
        folder.mkdir(parents=True)
        if outcome.notebook is not None:
            (folder / f"{assignment}.ipynb").write_text(outcome.notebook)
        timestamp = root / "submitted" / student / assignment / "timestamp.txt"
        if timestamp.is_file():
            shutil.copy(timestamp, folder / "timestamp.txt")
        staged.add(student)
    return staged


def _merge_rows(root: Path, assignment: str, outcomes: dict[str, Outcome]) -> list[GradeRow]:
    previous = {row.student_id: row for row in read_grade_table(root / "grades" / f"{assignment}.csv")}
    scores = {row.student_id: row for row in read_grades(root, assignment)}
    rows = dict(previous)
    for student, outcome in outcomes.items():
        if outcome.status == "grader error":
            kept = previous.get(student)
            note = f"grading failed, previous result kept: {outcome.detail}" if kept else outcome.detail
            rows[student] = GradeRow(
                student,
                kept.score if kept else 0.0,
                kept.max_score if kept else _max_score(root, assignment),
                "grader error",
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
    with Gradebook(db_url(root)) as gradebook:
        return gradebook.find_assignment(assignment).max_score


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --------------------------------------------------------------------------- the gradebook and the table


def db_url(root: Path) -> str:
    """The gradebook nbgrader_config.py points at."""
    return nbgrader_config(root).CourseDirectory.db_url


def read_grades(root: Path, assignment: str) -> list[GradeRow]:
    """The score of every student with a submission of ``assignment``, from nbgrader's gradebook."""
    rows = []
    with Gradebook(db_url(root)) as gradebook:
        for student in sorted(s.id for s in gradebook.students):
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            pending = sum(g.max_score for nb in submission.notebooks for g in nb.grades if g.needs_manual_grade)
            detail = f"{pending:g} points of written answers await manual grading" if pending else ""
            rows.append(GradeRow(student, submission.score, submission.max_score, "graded", detail))
    return rows


def read_grade_table(path: Path) -> list[GradeRow]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [
            GradeRow(r["student_id"], float(r["score"]), float(r["max_score"]), r["status"], r["detail"])
            for r in csv.DictReader(handle)
        ]


def write_grade_table(path: Path, rows: list[GradeRow]) -> None:
    """Write the table atomically: a reader sees the old table or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GRADE_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    partial.replace(path)


def format_summary(assignment: str, rows: list[GradeRow]) -> str:
    """One line per student, then how many have each status."""
    width = max([len(r.student_id) for r in rows] + [10])
    lines = [f"{assignment}: {len(rows)} students", f"{'student'.ljust(width)}  {'score':>13}  status"]
    for row in rows:
        lines.append(
            f"{row.student_id.ljust(width)}  {row.score:>6g} / {row.max_score:<4g}  {row.status}"
            + (f": {row.detail}" if row.detail else "")
        )
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)


def format_table(results: dict[str, list[GradeRow]]) -> str:
    """Assignments down, students across: "score / max", with * where written answers await grading."""
    students = sorted({row.student_id for rows in results.values() for row in rows})
    width = max([len(s) for s in students] + [9]) + 2
    lines = ["assignment".ljust(16) + "".join(s.rjust(width) for s in students)]
    for assignment, rows in results.items():
        by_student = {row.student_id: row for row in rows}
        cells = []
        for student in students:
            row = by_student.get(student)
            pending = row is not None and "await manual grading" in row.detail
            text = "-" if row is None else f"{row.score:g} / {row.max_score:g}" + (" *" if pending else "  ")
            cells.append(text.rjust(width))
        lines.append(assignment.ljust(16) + "".join(cells))
    if any("await manual grading" in row.detail for rows in results.values() for row in rows):
        lines.append("* written answers await manual grading (nbgrader formgrader); not in the score yet")
    return "\n".join(lines)
