"""`nnlab grade`: grade every submission of an assignment and print the table."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..grading.sandbox.limits import GiB, Limits
from .worker import add_tls_arguments, cluster_module, tls_files

DEFAULT_LIMITS = Limits()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="assignment to grade, e.g. 02-softmax")
    parser.add_argument("--root", type=Path, help="course root (default: the folder with nbgrader_config.py)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="students graded at once (default: cores)"
    )
    parser.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_LIMITS.cell_timeout,
        help="seconds a cell may run (default: %(default)s)",
    )
    parser.add_argument(
        "--notebook-timeout",
        type=float,
        default=DEFAULT_LIMITS.notebook_timeout,
        help="seconds a notebook may run (default: %(default)s)",
    )
    parser.add_argument(
        "--memory-gb",
        type=float,
        default=(DEFAULT_LIMITS.memory_bytes or 0) / GiB,
        help="address space of a student's kernel (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on a Dask cluster (tls://HOST:PORT; tcp:// only on this machine); needs the extra [dask]",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the outcomes grades/ASSIGNMENT.journal.jsonl holds for unchanged submissions (an interrupted run)",
    )
    add_tls_arguments(parser)


def run(args: argparse.Namespace) -> int:
    # Imported here: `nnlab --help` should not wait seconds for nbformat and nbgrader.
    from ..authoring.course_files import find_root
    from ..grading.pipeline import grade
    from ..grading.table import format_summary

    root = find_root(args.root)
    limits = Limits(
        cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout, memory_bytes=int(args.memory_gb * GiB)
    )
    cluster = None
    if args.scheduler:
        tls = tls_files(args)
        cluster = cluster_module().Cluster(args.scheduler, tls.security("client") if tls else None)
    rows = grade(
        root,
        args.assignment,
        workers=args.workers,
        students=args.students,
        limits=limits,
        progress=not args.no_progress,
        cluster=cluster,
        resume=args.resume,
    )
    print(format_summary(args.assignment, rows))
    print(
        f"\ngrade table: {root / 'grades' / (args.assignment + '.csv')}; "
        f"feedback: {root / 'feedback'}/<student>/{args.assignment}/"
    )
    return 0
