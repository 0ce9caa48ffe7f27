"""Grading throughput: submissions per second of plain `nbgrader autograde` and of `nnlab grade` at 1 and 2
workers, side by side in one run, on a class made of copies of the sample class.

Run from the repository::

    python benchmarks/grading_throughput.py                                      # every assignment, 40 each
    python benchmarks/grading_throughput.py --assignments 01-data --per-assignment 10   # a quick run
    python benchmarks/grading_throughput.py --json benchmarks/grading_throughput.json

For each assignment a class of ``--per-assignment`` students is made from ``submitted/sample-*`` (the
sample solution, the partial and the blank submission in turn) in three copies of the course, one per
grader, so that each grader starts from the same empty gradebook:

- plain nbgrader: ``nbgrader autograde ASSIGNMENT --create --force`` with nbgrader's default
  preprocessors (its own Execute, no sandbox, every cell run), from an ``nbgrader_config.py`` that sets
  only the course's folders (and the course's cell time budget);
- ``nnlab grade ASSIGNMENT --workers 1`` and ``--workers 2``.

Each copy's gradebook learns the assignment first, untimed (``nbgrader generate_assignment``, as a course
has done before its first grading run). The three commands of an assignment run one after the other
before the next assignment's, so they see the same load; each is timed as a whole (recording in the
gradebook, and for ``nnlab grade`` the feedback, included, as a user waits for it), with the CPU seconds of
all its processes (kernels included) and so how many cores it kept busy. The load average is recorded
before and after each command. The grade tables of the two
``nnlab grade`` runs must be equal: the report says whether they are.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from run import load_average, machine, nnlab_command, table  # noqa: E402  (benchmarks/run.py)

SAMPLES = ("sample-solution", "sample-partial", "sample-blank")
#: what each grader must reach against the one before it, in submissions per second
TARGETS = {"nnlab_1_worker / nbgrader_autograde": 3.0, "nnlab_2_workers / nnlab_1_worker": 1.8}
#: ``--one-core``: 2 workers on every core against 1 worker held, with all its processes, to one core
PER_CORE = "nnlab_2_workers / nnlab_1_worker_one_core"
COURSE_PARTS = ("source", "release", "notebooks", "nbval_sanitize.cfg")

PLAIN_NBGRADER_CONFIG = '''"""Plain nbgrader: the course's folders, nbgrader's own preprocessors (Execute)."""
import os

c = get_config()
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "nnlab"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
c.Execute.timeout = {timeout}
'''


def make_class(course: Path, source: Path, assignment: str, n: int) -> list[str]:
    """``n`` students' submissions of ``assignment`` in ``course/submitted``, copies of the sample class in turn."""
    students = []
    for i in range(n):
        sample = source / "submitted" / SAMPLES[i % len(SAMPLES)] / assignment
        student = f"student-{i + 1:03d}"
        shutil.copytree(sample, course / "submitted" / student / assignment)
        students.append(student)
    return students


def make_course(where: Path, source: Path, assignment: str, n: int, plain: bool) -> Path:
    """A copy of the course with a class of ``n`` for ``assignment``; ``plain``: nbgrader's own configuration."""
    course = Path(tempfile.mkdtemp(prefix=f"{'nbgrader' if plain else 'nnlab'}-{assignment}-", dir=where))
    for name in COURSE_PARTS:
        part = source / name
        if part.is_dir():
            shutil.copytree(part, course / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        elif part.is_file():
            shutil.copy2(part, course / name)
    if plain:
        from nnlab_instructor.grading.sandbox import Limits

        config = PLAIN_NBGRADER_CONFIG.format(timeout=int(Limits().cell_timeout))
        (course / "nbgrader_config.py").write_text(config)
    else:
        shutil.copy2(source / "nbgrader_config.py", course / "nbgrader_config.py")
    make_class(course, source, assignment, n)
    return course


def environment(course: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["NNLAB_DB_URL"] = f"sqlite:///{course / 'gradebook.db'}"
    return env


def children_cpu() -> float:
    """CPU seconds of every finished child process so far (a command's workers and kernels included:
    each is waited for by its parent, so its time reaches the command, then this process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_command(command: list[str], course: Path, n: int, cores: set[int] | None = None) -> dict:
    """Run ``command`` in ``course`` (held to ``cores``, with every process it starts, when given); seconds,
    submissions per second, CPU seconds, the load around it."""
    before = load_average()
    cpu = children_cpu()
    start = time.perf_counter()
    hold = None if cores is None else lambda: os.sched_setaffinity(0, cores)
    result = subprocess.run(
        command, cwd=course, env=environment(course), capture_output=True, text=True, preexec_fn=hold
    )
    seconds = time.perf_counter() - start
    cpu = children_cpu() - cpu
    out = {
        "command": " ".join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command)),
        "seconds": round(seconds, 2),
        "submissions": n,
        "per_second": round(n / seconds, 4),
        "cpu_seconds": round(cpu, 1),
        "cpu_seconds_per_submission": round(cpu / n, 2),
        "cores_busy": round(cpu / seconds, 2),
        "load_before": before,
        "load_after": load_average(),
        "status": "ok" if result.returncode == 0 else f"failed (exit {result.returncode})",
    }
    if cores is not None:
        out["cores"] = sorted(cores)
    if result.returncode:
        out["error"] = (result.stderr or result.stdout).strip()[-600:]
    return out


def read_table(course: Path, assignment: str) -> list[dict[str, str]]:
    path = course / "grades" / f"{assignment}.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return [{k: row[k] for k in ("student_id", "score", "max_score", "status")} for row in csv.DictReader(f)]


def plain_nbgrader_scores(course: Path, assignment: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {s.student.id: round(s.score, 4) for s in gradebook.find_assignment(assignment).submissions if s.student}


def register(course: Path, assignment: str, nbgrader: list[str]) -> None:
    """nbgrader learns the assignment from generate_assignment (untimed, as a course would have done it
    before its first grading run; release/ is left as it is)."""
    release = tempfile.mkdtemp(prefix="release-", dir=course)
    prepared = subprocess.run(
        [*nbgrader, "generate_assignment", assignment, "--force", f"--CourseDirectory.release_directory={release}"],
        cwd=course,
        env=environment(course),
        capture_output=True,
        text=True,
    )
    shutil.rmtree(release, ignore_errors=True)
    if prepared.returncode:
        raise SystemExit(f"nbgrader generate_assignment {assignment} failed: {prepared.stderr.strip()[-600:]}")


def bench_assignment(
    assignment: str, n: int, where: Path, source: Path, plain_nbgrader: bool = True, one_core: bool = False
) -> dict:
    nbgrader = [sys.executable, "-m", "nbgrader"]
    nnlab = nnlab_command()
    if nnlab is None:
        raise SystemExit("no `nnlab` command next to this interpreter: install the project (pip install -e .)")
    out: dict = {"submissions": n}

    print(f"{assignment}: {n} submissions", flush=True)
    if plain_nbgrader:
        plain = make_course(where, source, assignment, n, plain=True)
        register(plain, assignment, nbgrader)
        out["nbgrader_autograde"] = timed_command([*nbgrader, "autograde", assignment, "--create", "--force"], plain, n)
        if out["nbgrader_autograde"]["status"] == "ok":
            out["nbgrader_autograde"]["scores"] = plain_nbgrader_scores(plain, assignment)
        print(f"  nbgrader autograde        {_rate(out['nbgrader_autograde'])}", flush=True)
    tables = {}
    runs: list[tuple[int, set[int] | None]] = [(1, None), (2, None)]
    if one_core:  # one worker with one core, every process of the run included (the others are idle)
        runs.insert(0, (1, {min(os.sched_getaffinity(0))}))
    for workers, cores in runs:
        key = f"nnlab_{workers}_worker" + ("s" if workers > 1 else "") + ("_one_core" if cores else "")
        course = make_course(where, source, assignment, n, plain=False)
        register(course, assignment, nbgrader)
        command = [*nnlab, "grade", assignment, "--root", str(course), "--workers", str(workers), "--no-progress"]
        out[key] = timed_command(command, course, n, cores)
        tables[key] = read_table(course, assignment)
        out[key]["grade_table"] = tables[key]
        held = " on one core" if cores else ""
        print(f"  nnlab grade --workers {workers}{held}   {_rate(out[key])}", flush=True)
    first = tables["nnlab_1_worker"]
    out["nnlab_tables_equal"] = bool(first) and all(other == first for other in tables.values())
    out["ratios"] = ratios(out)
    return out


def _rate(run: dict) -> str:
    if run["status"] != "ok":
        return run["status"]
    return (
        f"{run['per_second']:.4f} submissions/s, {run['cpu_seconds_per_submission']:.2f} CPU s each "
        f"({run['cores_busy']:.2f} cores busy)"
    )


def ratios(section: dict) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    names = [*TARGETS, *([PER_CORE] if "nnlab_1_worker_one_core" in section else [])]
    for name in names:
        faster, slower = name.split(" / ")
        a, b = section.get(faster, {}), section.get(slower, {})
        ok = a.get("status") == "ok" and b.get("status") == "ok"
        found[name] = round(a["per_second"] / b["per_second"], 2) if ok else None
    return found


def summarise(results: dict) -> dict:
    """All assignments together: submissions over seconds of each grader, and the ratios."""
    total: dict = {}
    keys = ["nbgrader_autograde", "nnlab_1_worker", "nnlab_2_workers"]
    if all("nnlab_1_worker_one_core" in r for r in results.values()):
        keys.append("nnlab_1_worker_one_core")
    for key in keys:
        runs = [r[key] for r in results.values() if r.get(key, {}).get("status") == "ok"]
        if len(runs) == len(results):
            n, seconds = sum(r["submissions"] for r in runs), sum(r["seconds"] for r in runs)
            cpu = sum(r["cpu_seconds"] for r in runs)
            total[key] = {
                "status": "ok",
                "submissions": n,
                "seconds": round(seconds, 2),
                "per_second": round(n / seconds, 4),
                "cpu_seconds": round(cpu, 1),
                "cpu_seconds_per_submission": round(cpu / n, 2),
                "cores_busy": round(cpu / seconds, 2),
            }
        else:
            total[key] = {"status": "not every assignment ran"}
    total["ratios"] = ratios(total)
    total["targets_met"] = {
        name: (None if value is None else value >= TARGETS[name])
        for name, value in total["ratios"].items()
        if name in TARGETS
    }
    total["nnlab_tables_equal"] = all(r["nnlab_tables_equal"] for r in results.values())
    return total


def report_table(results: dict, total: dict) -> str:
    rows = []
    for name, section in [*results.items(), ("all", total)]:
        submissions = section.get("submissions") or section.get("nnlab_1_worker", {}).get("submissions", "")
        cells = [name, str(submissions)]
        for key in ("nbgrader_autograde", "nnlab_1_worker", "nnlab_2_workers"):
            run = section.get(key, {})
            ok = run.get("status") == "ok"
            cells.append(f"{run['per_second']:.3f} ({run['cpu_seconds_per_submission']:.1f})" if ok else "-")
        for value in section["ratios"].values():
            cells.append("-" if value is None else f"{value:.2f}x")
        rows.append(cells)
    header = ["assignment", "submissions", "nbgrader /s (CPU s each)", "nnlab 1 worker", "nnlab 2 workers"]
    header += ["1 worker vs nbgrader", "2 workers vs 1"]
    if any(PER_CORE in section["ratios"] for section in [*results.values(), total]):
        header.append("2 workers vs 1 on one core")
    return table(rows, header)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignments", nargs="+", help="assignments to grade (default: every one with samples)")
    parser.add_argument("--per-assignment", type=int, default=40, help="students per assignment (default: %(default)s)")
    parser.add_argument(
        "--json", type=Path, default=HERE / "grading_throughput.json", help="results file (default: %(default)s)"
    )
    parser.add_argument("--source", type=Path, default=REPO, help="the course to copy (default: this repository)")
    parser.add_argument(
        "--one-core",
        action="store_true",
        help="also run nnlab grade --workers 1 held to one core (a worker per core: what 2 workers add per core)",
    )
    parser.add_argument(
        "--no-plain-nbgrader", action="store_true", help="leave out plain nbgrader autograde (its ratio unmeasured)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the course copies (in out/ under the course) to look at them"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    source = args.source.resolve()
    available = sorted(p.name for p in (source / "submitted" / SAMPLES[0]).iterdir() if p.is_dir())
    chosen = args.assignments or available
    missing = [a for a in chosen if not all((source / "submitted" / s / a).is_dir() for s in SAMPLES)]
    if missing:
        print(f"no sample class for {', '.join(missing)} in {source / 'submitted'} (`nnlab build` makes it)")
        return 1
    if args.per_assignment < 1:
        print("--per-assignment must be at least 1")
        return 1
    # Not under /tmp: the kernel has a private /tmp, so the grader's hiding of the course would prove nothing.
    (source / "out").mkdir(exist_ok=True)
    where = Path(tempfile.mkdtemp(prefix="grading-throughput-", dir=source / "out"))
    started = datetime.datetime.now(datetime.timezone.utc)
    results: dict = {}
    try:
        for assignment in chosen:
            results[assignment] = bench_assignment(
                assignment, args.per_assignment, where, source, not args.no_plain_nbgrader, args.one_core
            )
    finally:
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)
    total = summarise(results)
    report = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds(), 1),
        "machine": machine(),
        "per_assignment": args.per_assignment,
        "assignments": results,
        "total": total,
    }
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print()
    print(report_table(results, total))
    for name, met in total["targets_met"].items():
        verdict = "not measured" if met is None else "met" if met else "not met"
        print(f"target {name} >= {TARGETS[name]}x: {verdict}")
    if PER_CORE in total["ratios"]:
        print(f"{PER_CORE}: {total['ratios'][PER_CORE]}x (2 workers on {os.cpu_count()} cores, 1 worker on one)")
    print(f"nnlab grade tables equal in every nnlab run: {total['nnlab_tables_equal']}")
    print(f"results in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
