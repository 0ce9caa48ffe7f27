"""The recording step at scale: nbgrader's autograde of already executed notebooks, then its feedback pages.

`nnlab grade` runs this on the coordinator (`nnlab_instructor.grading.record.record_class`), in batches while
the workers grade the rest of the class; here a whole class is recorded at once. The class is synthetic and
cheap: N students, each handed the already graded notebook of one of the sample submissions (solution,
partial, blank in turn), so that nothing is executed and only the recording is timed. Each size is
recorded in one process and in several (`record_class(processes=...)`), side by side in this process, each
in a fresh copy of the course; the gradebook's scores and every feedback page must come out the same.

    .venv/bin/python benchmarks/recording.py                         # 16 and 48 students, SQLite
    .venv/bin/python benchmarks/recording.py --students 50 200 1000  # hours on a 2-core machine
    .venv/bin/python benchmarks/recording.py --postgres              # a private PostgreSQL server instead

Results go to `benchmarks/results-recording.json`; the README's "Recording a class" section reads them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01-data"
SAMPLES = ("sample-solution", "sample-partial", "sample-blank")


def course_copy(root: Path) -> Path:
    """The course's authored files and committed release in ``root`` (a fresh clone's; no build needed)."""
    for folder in ("source", "release", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "nbgrader_config.py", root)
    return root


def synthetic_class(size: int) -> dict[str, tuple[str | None, str | None]]:
    """``size`` students, each with the committed autograded notebook of one sample submission."""
    graded = [(REPO / "autograded" / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text() for s in SAMPLES]
    return {f"student-{i:05d}": (graded[i % len(graded)], None) for i in range(size)}


# Seconds of record_class's two nbgrader steps in the last run, by phase (see time_phases).
PHASES: dict[str, float] = {}


def time_phases() -> None:
    """Time record_class's two nbgrader steps (autograde, feedback) as it calls them."""
    from nnlab_instructor.grading import record

    for name, phase in (("_autograde_class", "autograde"), ("_write_feedback", "feedback")):
        original = getattr(record, name)

        def timed(*args, _original=original, _phase=phase, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                PHASES[_phase] = time.perf_counter() - start

        setattr(record, name, timed)


def what_was_recorded(root: Path) -> dict:
    """Every grade in the gradebook and a digest of every feedback page: what must not depend on processes."""
    from nnlab_instructor.authoring.course_files import open_gradebook

    with open_gradebook(root) as gradebook:
        grades = sorted(
            (submission.student_id, grade.name, grade.auto_score, grade.manual_score, grade.needs_manual_grade)
            for submission in gradebook.assignment_submissions(ASSIGNMENT)
            for notebook in submission.notebooks
            for grade in notebook.grades
        )
    pages = hashlib.sha256()
    for page in sorted((root / "feedback").glob(f"*/{ASSIGNMENT}/*.html")):
        pages.update(page.relative_to(root).as_posix().encode() + page.read_bytes())
    return {
        "grades": grades,
        "feedback_pages": len(list((root / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))),
        "feedback_digest": pages.hexdigest(),
    }


def record_once(size: int, processes: int, database) -> dict:
    from nnlab_instructor.grading import record

    scratch = Path(tempfile.mkdtemp(prefix="nnlab-recording-"))
    try:
        root = course_copy(scratch / "course")
        if database is not None:
            os.environ["NNLAB_DB_URL"] = database.create_database(f"recording_{size}_{processes}")
        else:
            os.environ.pop("NNLAB_DB_URL", None)
        record.register_assignment(root, ASSIGNMENT)  # what `nnlab grade` does before its workers: not timed
        notebooks = synthetic_class(size)
        PHASES.clear()
        start = time.perf_counter()
        recorded = record.record_class(root, ASSIGNMENT, notebooks, processes=processes)
        total = time.perf_counter() - start
        if recorded.failures or recorded.feedback_failure:
            raise SystemExit(f"recording failed: {recorded.failures or recorded.feedback_failure}")
        return {
            "students": size,
            "processes": processes,
            "seconds": round(total, 2),
            "seconds_per_student": round(total / size, 4),
            "autograde_seconds_per_student": round(PHASES["autograde"] / size, 4),
            "feedback_seconds_per_student": round(PHASES["feedback"] / size, 4),
            "other_seconds_per_student": round((total - PHASES["autograde"] - PHASES["feedback"]) / size, 4),
            "recorded": what_was_recorded(root),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[16, 48], help="class sizes (default: 16 48)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1, help="parallel run (default: cores)")
    parser.add_argument("--postgres", action="store_true", help="record in a private PostgreSQL server, not SQLite")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results-recording.json")
    args = parser.parse_args(argv)

    database = None
    stack = None
    if args.postgres:
        import contextlib

        sys.path.insert(0, str(REPO / "tests"))
        from postgres_server import throwaway_server  # the tests' private server

        stack = contextlib.ExitStack()
        database = stack.enter_context(throwaway_server())
    time_phases()
    runs = []
    try:
        for size in args.students:
            serial = record_once(size, 1, database)
            parallel = record_once(size, args.processes, database)
            same = serial.pop("recorded") == parallel.pop("recorded")
            print(
                f"{size:5d} students: {serial['seconds_per_student']:.3f} s/student in 1 process, "
                f"{parallel['seconds_per_student']:.3f} in {args.processes} "
                f"(x{serial['seconds'] / parallel['seconds']:.2f}); same gradebook and feedback: {same}",
                flush=True,
            )
            if not same:
                raise SystemExit("the parallel recording differs from the serial one")
            runs.append(
                {"serial": serial, "parallel": parallel, "speedup": round(serial["seconds"] / parallel["seconds"], 2)}
            )
    finally:
        if stack is not None:
            stack.close()
    result = {
        "database": "postgresql" if args.postgres else "sqlite",
        "assignment": ASSIGNMENT,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load_average": os.getloadavg()},
        "runs": runs,
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
