"""Fair grading: every variant of ``tests/fairness_catalogue.py`` graded through the real grading path.

One course is built (release and sample class, no notebook executed), each variant is handed in as its
own student (the model solution with one graded cell replaced), and each assignment is graded ONCE by
:func:`nnlab_instructor.grading.pipeline.grade` (sandboxed kernels, tests decided in the grader,
nbgrader's gradebook), with the sample solution in the same run as the yardstick. Then, per variant:

- a correct alternative earns exactly what the model solution earns, cell by cell;
- a mistake earns less, and loses points only in the test cells of its own function: every other
  function is graded on its own (with the course's versions of the functions it calls), so its tests
  give their full points;
- a mistake against a rule the notebook's text states fails at least one test cell with a visible
  message (not "a hidden test failed"), which the student could have seen before handing in.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, build_course_copy
from fairness_catalogue import VARIANTS, Variant
from nbgrader.api import Gradebook

from nnlab_instructor.authoring.course_files import assignments
from nnlab_instructor.grading.pipeline import grade
from nnlab_instructor.grading.sandbox import MB, GiB, Limits
from nnlab_instructor.grading.table import db_url

HIDDEN_PREFIX = "a hidden test failed"
SOLUTION = "sample-solution"

pytestmark = [pytest.mark.slow, pytest.mark.catalogue]

# Small limits, as in tests/test_grading.py: a correct notebook's tests run well within them, and a
# variant that hangs is stopped quickly. Files up to 40 MB: 10-capstone's accuracy test sends the 8,000
# training images (float32, 25 MB) to the kernel, which writes them back with its reply.
LIMITS = Limits(
    cell_timeout=60,
    notebook_timeout=180,
    interrupt_grace=1.5,
    startup_timeout=60,
    memory_bytes=1 * GiB,
    file_size_bytes=40 * MB,
    max_output_bytes=100_000,
)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def tests_of_functions(source) -> dict[str, list[str]]:
    """Graded cell -> its test cells: those that call it through ``checks.call_own`` (a test cell that calls
    exactly one graded function tests that one, wherever it stands), else those that follow it, up to the
    next graded cell, in notebook order."""
    code = [cell for cell in source.cells if cell.cell_type == "code"]
    functions = [_meta(cell)["grade_id"] for cell in code if _meta(cell).get("solution")]
    owner, tests = None, {name: [] for name in functions}
    for cell in code:
        meta = _meta(cell)
        if meta.get("solution"):
            owner = meta["grade_id"]
        elif meta.get("grade"):
            called = [name for name in functions if re.search(rf"call_own\(\s*{re.escape(name)}\b", cell.source)]
            tested = called[0] if len(called) == 1 else owner
            if tested is not None:
                tests[tested].append(meta["grade_id"])
    return tests


tests_of_functions.__test__ = False  # a helper, not a test


@dataclass
class Graded:
    """What grading left: points per test cell and the message of every failed test cell, per student."""

    points: dict[str, dict[str, float]]
    failures: dict[str, dict[str, str]]
    owners: dict[str, dict[str, list[str]]]  # assignment -> graded cell -> its test cells
    statuses: dict[str, str]
    seconds: float


def _submit(root: Path, variant: Variant) -> None:
    solution = root / "submitted" / SOLUTION / variant.assignment / f"{variant.assignment}.ipynb"
    notebook = nbformat.read(solution, as_version=4)
    cells = [c for c in notebook.cells if _meta(c).get("grade_id") == variant.cell]
    assert len(cells) == 1, f"{variant.assignment} has no graded cell {variant.cell}"
    cells[0].source = variant.source
    folder = root / "submitted" / variant.student / variant.assignment
    folder.mkdir(parents=True)
    (folder / f"{variant.assignment}.ipynb").write_text(json.dumps(notebook, indent=1))


def _scores(root: Path, assignment: str, student: str) -> dict[str, float]:
    with Gradebook(db_url(root)) as gradebook:
        notebook = gradebook.find_submission_notebook(assignment, assignment, student)
        return {g.name: g.auto_score for g in notebook.grades if g.auto_score is not None and g.cell_type == "code"}


def _failures(root: Path, assignment: str, student: str) -> dict[str, str]:
    notebook = nbformat.read(root / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)
    return {
        _meta(cell)["grade_id"]: output.evalue
        for cell in notebook.cells
        if cell.cell_type == "code" and _meta(cell).get("grade")
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Graded:
    root = build_course_copy(tmp_path_factory.mktemp("fairness"))
    for variant in VARIANTS:
        _submit(root, variant)
    result = Graded({}, {}, {}, {}, 0.0)
    started = time.monotonic()
    for assignment in assignments(root):
        students = [SOLUTION, *(v.student for v in VARIANTS if v.assignment == assignment)]
        rows = grade(root, assignment, workers=2, students=students, limits=LIMITS)
        for row in rows:
            if row.student_id in students:
                result.statuses[f"{assignment}/{row.student_id}"] = f"{row.status} {row.detail}".strip()
        for student in students:
            key = f"{assignment}/{student}"
            result.points[key] = _scores(root, assignment, student)
            result.failures[key] = _failures(root, assignment, student)
        result.owners[assignment] = tests_of_functions(
            nbformat.read(root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        )
    result.seconds = time.monotonic() - started
    print(f"\n{len(VARIANTS)} variants and {len(assignments(root))} sample solutions graded in {result.seconds:.0f} s")
    return result


def test_the_catalogue_covers_every_graded_function():
    for assignment in assignments(REPO):
        source = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)
        for function in tests_of_functions(source):
            kinds = [v.kind for v in VARIANTS if (v.assignment, v.cell) == (assignment, function)]
            assert kinds.count("mistake") >= 2, f"{assignment} {function}: fewer than 2 mistakes in the catalogue"
            assert kinds.count("correct") >= 1, f"{assignment} {function}: no correct alternative in the catalogue"
    assert len({v.student for v in VARIANTS}) == len(VARIANTS), "two variants share a student id"


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v.assignment}-{v.cell}-{v.kind}-{v.student}")
def test_variant_is_graded_fairly(graded: Graded, variant: Variant):
    who = f"{variant.assignment} {variant.cell} {variant.kind} {variant.name!r}"
    key = f"{variant.assignment}/{variant.student}"
    model = graded.points[f"{variant.assignment}/{SOLUTION}"]
    got = graded.points[key]
    assert "graded" in graded.statuses[key], f"{who}: {graded.statuses[key]}"
    full, earned = sum(model.values()), sum(got.values())
    if variant.kind == "correct":
        lost = {cell: (got.get(cell), points) for cell, points in model.items() if got.get(cell) != points}
        assert not lost, (
            f"{who}: earned {earned:g}/{full:g}, expected every point; lost (got, of) {lost}; "
            f"messages {graded.failures[key]}"
        )
        return
    assert earned < full, f"{who}: earned {earned:g}/{full:g}, expected less"
    own = set(graded.owners[variant.assignment][variant.cell])
    elsewhere = {
        cell: (got.get(cell), points) for cell, points in model.items() if cell not in own and got.get(cell) != points
    }
    assert not elsewhere, (
        f"{who}: lost points in the tests of other functions {elsewhere} (got, of); "
        f"messages {{ {', '.join(f'{c}: {graded.failures[key].get(c)}' for c in elsewhere)} }}"
    )
    if variant.stated:
        messages = {cell: graded.failures[key][cell] for cell in own if cell in graded.failures[key]}
        visible = [m for m in messages.values() if not m.startswith(HIDDEN_PREFIX)]
        assert visible, (
            f"{who}: the notebook states the rule, but no visible test catches it (earned {earned:g}/{full:g}; "
            f"failed only in hidden tests: {messages})"
        )
