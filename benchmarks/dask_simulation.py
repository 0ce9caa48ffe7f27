"""The coordinator of ``nnlab grade --scheduler`` at MOOC scale, without the sandbox.

    python benchmarks/dask_simulation.py [--submissions 5000] [--workers 2] [--seconds-per-submission S]

5,000 submission folders (copies of 01-data's sample submissions, each made distinct) go through the
coordinator's own path (``grading.pipeline``: each folder hashed for the journal, read and sent to a
``LocalCluster`` when its task is sent, every outcome journaled as it arrives), with a
stand-in for ``grade_submission`` on the workers: it checks the environment, finds the assignment's files
(the worker plugin), writes the bytes into a private folder and returns a realistic outcome (the executed
notebook of ``notebooks/01-data/``, about 100 kB) at once. So this measures the coordinator, the journal and
the transfer, not the sandbox. nbgrader's recording step (the gradebook and the feedback) is not run.

The projection for 35,000 notebooks on N machines like this one takes the grading time of one submission on
one core (``--seconds-per-submission``, from ``benchmarks/grading_throughput.py``) and the coordinator's
measured rate as the ceiling: hours = 35,000 / min(N * cores / seconds, coordinator's tasks per second).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle
from distributed import LocalCluster

from nnlab_instructor.grading import pipeline
from nnlab_instructor.grading.distributed.cluster import Cluster
from nnlab_instructor.grading.distributed.journal import Journal
from nnlab_instructor.grading.distributed.task import received
from nnlab_instructor.grading.table import Status
from nnlab_instructor.grading.worker import AssignmentFiles, Outcome

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01-data"
NOTEBOOKS_PER_COURSE = 35_000
# The stand-in travels to the workers by value: they cannot import this script.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def stand_in(notebook: str):
    """A task with grade_task's arguments and every step of it but the grading itself."""

    def task(digest, submission, limits, hide, expected):
        with received(digest, submission, expected):
            pass
        return Outcome(submission.student, Status.GRADED.value, "", notebook, None)

    return task


def make_class(root: Path, count: int) -> list[str]:
    samples = sorted((REPO / "submitted").glob(f"sample-*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    students = [f"student-{i:05d}" for i in range(count)]
    for i, student in enumerate(students):
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        text = samples[i % len(samples)].read_text(encoding="utf-8")
        # distinct bytes per student, as real submissions are (a trailing newline count)
        (folder / f"{ASSIGNMENT}.ipynb").write_text(text + "\n" * (i % 97), encoding="utf-8")
    return students


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="LocalCluster worker processes")
    parser.add_argument(
        "--seconds-per-submission",
        type=float,
        default=5.3,
        help="grading time of one submission on one core, for the projection (default: this machine's, from "
        "grading_throughput.py: 2 cores over 0.377 submissions per second, 5.3 s)",
    )
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results-dask-simulation.json")
    args = parser.parse_args()

    files = AssignmentFiles.from_course(REPO, ASSIGNMENT)
    notebook = (REPO / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8")
    with (
        tempfile.TemporaryDirectory(prefix="nnlab-simulation-") as tmp,
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as local,
    ):
        root = Path(tmp)
        students = make_class(root, args.submissions)
        cluster = Cluster(local.scheduler_address, task=stand_in(notebook))
        wall, cpu = time.perf_counter(), time.process_time()
        bases = {s: pipeline._basis(root, ASSIGNMENT, s, files) for s in students}
        hashing = time.perf_counter() - wall
        with Journal(root / "grades" / f"{ASSIGNMENT}.journal.jsonl", resume=False) as journal:
            appends = _timed(journal)
            arriving = pipeline._run_on_cluster(cluster, root, files, students, None)
            outcomes = pipeline._collect(arriving, ASSIGNMENT, len(students), journal, bases, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        journal_bytes = (root / "grades" / f"{ASSIGNMENT}.journal.jsonl").stat().st_size
    assert len(outcomes) == len(students) and all(o.status == Status.GRADED for o in outcomes.values())

    rate = len(students) / wall
    machine_rate = (os.cpu_count() or 1) / args.seconds_per_submission
    projection = {
        str(n): round(NOTEBOOKS_PER_COURSE / min(n * machine_rate, rate) / 3600, 2) for n in (1, 2, 5, 10, 20, 50, 100)
    }
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "submissions": len(students),
        "workers": args.workers,
        "wall_seconds": round(wall, 2),
        "throughput_per_second": round(rate, 1),
        "coordinator_cpu_ms_per_task": round(1000 * cpu / len(students), 2),
        "coordinator_wall_ms_per_task": round(1000 * wall / len(students), 2),
        "hashing_ms_per_submission": round(1000 * hashing / len(students), 2),
        "journal_append_fsync_ms_per_outcome": round(1000 * sum(appends) / len(appends), 2),
        "journal_mb": round(journal_bytes / 1000**2, 1),
        "seconds_per_submission_one_core": args.seconds_per_submission,
        "projected_hours_35000_notebooks_by_machines": projection,
    }
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def _timed(journal: Journal) -> list[float]:
    """Time every append of the journal (write, flush, and the fsync when one is due)."""
    times: list[float] = []
    append = journal.append

    def timed_append(*args):
        start = time.perf_counter()
        append(*args)
        times.append(time.perf_counter() - start)

    journal.append = timed_append  # type: ignore[method-assign]
    return times


if __name__ == "__main__":
    sys.exit(main())
