"""The grade table: one row per student, its statuses, nbgrader's gradebook read back, and the printouts.

``grades/<assignment>.csv`` (``student_id, score, max_score, status, detail``) is written atomically;
:func:`read_grades` reads the scores nbgrader recorded, so the table and ``nbgrader export`` agree.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from nbgrader.api import MissingEntry

from ..authoring.course_files import nbgrader_config, open_gradebook

GRADE_COLUMNS = ("student_id", "score", "max_score", "status", "detail")


class Status(str, Enum):
    """What happened to a student's submission: every row of a grade table has one."""

    GRADED = "graded"
    TIMED_OUT = "timed out"
    OUT_OF_MEMORY = "out of memory"
    KERNEL_DIED = "kernel died"
    INVALID_NOTEBOOK = "invalid notebook"
    NOTEBOOK_MISSING = "notebook missing"
    TAMPERING_DETECTED = "tampering detected"
    GRADER_ERROR = "grader error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class GradeRow:
    """One student's result for one assignment, as in ``grades/<assignment>.csv``."""

    student_id: str
    score: float
    max_score: float
    status: str  # a Status value
    detail: str


def db_url(root: Path) -> str:
    """The gradebook nbgrader_config.py points at."""
    return nbgrader_config(root).CourseDirectory.db_url


def read_grades(root: Path, assignment: str) -> list[GradeRow]:
    """The score of every student with a submission of ``assignment``, from nbgrader's gradebook."""
    rows = []
    with open_gradebook(root) as gradebook:
        for student in sorted(s.id for s in gradebook.students):
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            pending = sum(g.max_score for nb in submission.notebooks for g in nb.grades if g.needs_manual_grade)
            detail = f"{pending:g} points of written answers await manual grading" if pending else ""
            rows.append(GradeRow(student, submission.score, submission.max_score, Status.GRADED.value, detail))
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
    counts = {s.value: sum(r.status == s.value for r in rows) for s in Status}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)


def format_table(results: dict[str, list[GradeRow]]) -> str:
    """Assignments down, students across: "score / max", with * where written answers await grading."""
    students = sorted({row.student_id for rows in results.values() for row in rows})
    width = max([len(s) for s in students] + [9]) + 2
    first = max([len(a) for a in results] + [len("assignment")]) + 2
    lines = ["assignment".ljust(first) + "".join(s.rjust(width) for s in students)]
    for assignment, rows in results.items():
        by_student = {row.student_id: row for row in rows}
        cells = []
        for student in students:
            row = by_student.get(student)
            pending = row is not None and "await manual grading" in row.detail
            text = "-" if row is None else f"{row.score:g} / {row.max_score:g}" + (" *" if pending else "  ")
            cells.append(text.rjust(width))
        lines.append(assignment.ljust(first) + "".join(cells))
    if any("await manual grading" in row.detail for rows in results.values() for row in rows):
        lines.append("* written answers await manual grading (nbgrader formgrader); not in the score yet")
    return "\n".join(lines)
