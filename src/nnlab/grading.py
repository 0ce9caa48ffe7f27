"""`nnlab grade`: autograde an assignment with nbgrader and write the grade table."""

from __future__ import annotations

import argparse
import csv
from dataclasses import asdict, dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course import assignments, find_root, run_nbgrader

GRADE_COLUMNS = ("student_id", "score", "max_score", "status", "detail")


@dataclass(frozen=True)
class GradeRow:
    """One student's result for one assignment, as in ``grades/<assignment>.csv``."""

    student_id: str
    score: float
    max_score: float
    status: str
    detail: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="assignment to grade, e.g. 02-softmax")
    parser.add_argument("--root", type=Path, help="course root (default: the folder with nbgrader_config.py)")


def run(args: argparse.Namespace) -> int:
    root = find_root(args.root)
    rows = grade(root, args.assignment)
    print(format_table({args.assignment: rows}))
    print(f"\ngrade table: {root / 'grades' / (args.assignment + '.csv')}")
    return 0


def grade(root: Path, assignment: str) -> list[GradeRow]:
    """Autograde every submission of ``assignment`` in ``submitted/`` and write ``grades/<assignment>.csv``."""
    if assignment not in assignments(root):
        raise SystemExit(f"nnlab grade: no assignment {assignment!r} in {root / 'source'} (have: {', '.join(assignments(root))})")
    run_nbgrader(root, "autograde", assignment, "--force")
    rows = read_grades(root, assignment)
    write_grade_table(root / "grades" / f"{assignment}.csv", rows)
    return rows


def db_url(root: Path) -> str:
    """The gradebook nbgrader_config.py points at."""
    from traitlets.config import Config, PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    assert isinstance(config, Config)
    return config.CourseDirectory.db_url


def read_grades(root: Path, assignment: str) -> list[GradeRow]:
    """The grade of every student with a submission of ``assignment``, from nbgrader's gradebook."""
    rows = []
    with Gradebook(db_url(root)) as gradebook:
        for student in sorted(s.id for s in gradebook.students):
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            pending = sum(
                g.max_score for nb in submission.notebooks for g in nb.grades if g.needs_manual_grade
            )
            detail = f"{pending:g} points await manual grading" if pending else ""
            rows.append(GradeRow(student, submission.score, submission.max_score, "graded", detail))
    return rows


def write_grade_table(path: Path, rows: list[GradeRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GRADE_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))


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
            text = "-" if row is None else f"{row.score:g} / {row.max_score:g}" + (" *" if row.detail else "  ")
            cells.append(text.rjust(width))
        lines.append(assignment.ljust(16) + "".join(cells))
    if any(row.detail for rows in results.values() for row in rows):
        lines.append("* written answers await manual grading (nbgrader formgrader), not counted in the score yet")
    return "\n".join(lines)
