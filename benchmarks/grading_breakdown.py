"""Where one submission's grading time goes, step by step, for each assignment (perf_counter around the
grading path's functions, in this process).

Run from the repository::

    python benchmarks/grading_breakdown.py 01-data 02-softmax   # the sample class of each, as a worker grades
    python benchmarks/grading_breakdown.py 01-data --every-time # nothing kept between students: as before
    python benchmarks/grading_breakdown.py --json breakdown.json

Grades the sample class (``submitted/sample-*``) of each assignment one student after another in this
process, on a copy of the course in ``out/``, then has nbgrader record the class (``record_class``).
Seconds are per student. ``--every-time`` empties the per-process caches before each student and starts
no kernel ahead (the grading worker before these were added).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from nnlab_instructor.grading import decide, record, submissions, worker
from nnlab_instructor.grading.sandbox import client, kernel

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECONDS: collections.defaultdict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()


def _count(label: str, start: float) -> None:
    SECONDS[label] += time.perf_counter() - start
    CALLS[label] += 1


def _wrap(owner, name: str, label: str) -> None:
    function = getattr(owner, name)
    if hasattr(function, "__wrapped__"):
        return
    if asyncio_function(function):

        @functools.wraps(function)
        async def timed_async(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                _count(label, start)

        setattr(owner, name, timed_async)
    else:

        @functools.wraps(function)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                _count(label, start)

        setattr(owner, name, timed)


def asyncio_function(function) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)


STEPS = [
    (nbformat, "reads", "parse notebooks (nbformat.reads)"),
    (nbformat, "writes", "write the executed notebook (nbformat.writes)"),
    (submissions, "prepare", "submissions.prepare"),
    (client.SandboxNotebookClient, "async_start_new_kernel", "sandbox set-up and kernel process launch"),
    (client.SandboxNotebookClient, "async_start_new_kernel_client", "waiting for the kernel (ipykernel start)"),
    (kernel.SandboxKernelManager, "finish", "sandbox teardown"),
    (decide.Grader, "_trusted_namespace", "grader: set-up cells (trusted namespace; inside tests)"),
    (decide.Grader, "_answer", "grader: callbacks (course's functions; inside tests)"),
    (decide.Grader, "_call_in_kernel", "kernel: student's functions called by tests (inside tests)"),
    (decide.Grader, "_run_test", "tests (in the grader, all of the above 'inside tests')"),
    (worker, "sanitize_rules", "sanitize (nbval's rules)"),
    (worker, "grade_submission", "whole grade_submission"),
]


def _instrument() -> None:
    for owner, name, label in STEPS:
        _wrap(owner, name, label)
    execute = client.SandboxNotebookClient.execute_in_kernel

    async def execute_in_kernel(self, cell, index, report=None):
        start = time.perf_counter()
        try:
            return await execute(self, cell, index, report)
        finally:
            if report is not None:  # a cell of the notebook (not a test's call)
                meta = cell.get("metadata", {}).get("nbgrader", {})
                locked = "kernel: set-up cell (imports, data)" if meta.get("locked") else "kernel: student cells"
                _count(locked, start)

    client.SandboxNotebookClient.execute_in_kernel = execute_in_kernel


def breakdown(root: Path, assignment: str, every_time: bool) -> dict:
    SECONDS.clear()
    CALLS.clear()
    record.register_assignment(root, assignment)
    files = worker.AssignmentFiles.from_course(root, assignment)
    students = sorted(p.parent.name for p in (root / "submitted").glob(f"*/{assignment}"))
    staged, statuses = {}, {}
    for student in students:
        if every_time:
            worker._PARSED.clear()
            decide._SET_UP_NAMESPACES.clear()
        outcome = worker.grade_submission(files, student, root / "submitted" / student / assignment, hide=(str(root),))
        staged[student] = (outcome.notebook, outcome.timestamp)
        statuses[student] = outcome.status
    start = time.perf_counter()
    record.record_class(root, assignment, staged, whole_class=True)
    _count("nbgrader's recording step (record_class, the class)", start)
    per_student = {label: round(seconds / len(students), 3) for label, seconds in SECONDS.items()}
    return {"students": statuses, "seconds_per_student": per_student, "calls": dict(CALLS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignments (default: every one with a sample class)")
    parser.add_argument("--every-time", action="store_true", help="keep nothing between students, no kernel ahead")
    parser.add_argument("--json", type=Path, help="write the breakdown here too")
    args = parser.parse_args(argv)
    chosen = args.assignments or sorted(p.name for p in (REPO / "submitted" / "sample-solution").iterdir())
    if not args.every_time:
        worker.grade_many()
    _instrument()
    (REPO / "out").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="grading-breakdown-", dir=REPO / "out"))
    results = {}
    try:
        for name in ("nbgrader_config.py", "nbval_sanitize.cfg", "source", "release", "submitted", "notebooks"):
            part = REPO / name
            if part.is_dir():
                shutil.copytree(part, root / name)
            elif part.is_file():
                shutil.copy2(part, root / name)
        for assignment in chosen:
            results[assignment] = breakdown(root, assignment, args.every_time)
            print(f"{assignment} ({', '.join(f'{s}: {v}' for s, v in results[assignment]['students'].items())})")
            for label, seconds in sorted(results[assignment]["seconds_per_student"].items(), key=lambda kv: -kv[1]):
                print(f"  {label:<66} {seconds:7.2f} s per student")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
