"""`nnlab build`: regenerate release/, the sample class and the executed notebooks from source/."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", help="assignments to build (default: all in source/)")
    parser.add_argument("--root", type=Path, help="course root (default: the folder with nbgrader_config.py)")
    parser.add_argument("--no-execute", action="store_true", help="skip executing the notebooks into notebooks/")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="notebooks executed at once (default: cores)"
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: `nnlab --help` should not wait seconds for nbformat and nbgrader.
    from ..authoring.build import build
    from ..authoring.course_files import assignments, find_root

    root = find_root(args.root)
    names = args.assignments or assignments(root)
    build(root, names, execute=not args.no_execute, workers=args.workers)
    return 0
