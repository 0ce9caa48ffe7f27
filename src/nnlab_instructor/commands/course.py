"""`nnlab course`: the course's main job, from source to grades in one command."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, help="course root (default: the folder with nbgrader_config.py)")
    parser.add_argument("--skip-train", action="store_true", help="skip training the reference network")
    parser.add_argument("--no-execute", action="store_true", help="skip executing the notebooks into notebooks/")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel notebook executions and grading workers (default: cores)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    # Imported here: `nnlab --help` should not wait seconds for nbformat and nbgrader.
    from ..authoring.build import build
    from ..authoring.course_files import assignments, find_root
    from ..grading.pipeline import grade
    from ..grading.table import format_table
    from ..training_report import train_and_report

    root = find_root(args.root)
    if not args.skip_train:
        print("== 1. the reference network ==")
        train_and_report(plots_dir=root / "out" / "plots", progress=False)
    names = assignments(root)
    print("\n== 2. release, sample class and executed notebooks ==")
    build(root, names, execute=not args.no_execute, workers=args.workers)
    print("\n== 3. grading the sample class ==")
    results = {}
    for name in names:
        results[name] = grade(root, name, workers=args.workers, progress=not args.no_progress)
        statuses = ", ".join(sorted({row.status for row in results[name]}))
        print(f"{name}: graded {len(results[name])} submissions ({statuses})")
    print("\n" + format_table(results))
    print(f"\ngrade tables: {root / 'grades'}/<assignment>.csv; autograded notebooks: {root / 'autograded'}/")
    return 0
