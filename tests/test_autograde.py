"""The autograde round trip through nbgrader's real gradebook, on the sample class."""

import json

import nbformat
import pytest
from conftest import REPO
from nbgrader.api import Gradebook

from nnlab_instructor.authoring.course_files import SAMPLE_STUDENTS, assignments, grade_id
from nnlab_instructor.grading.pipeline import grade
from nnlab_instructor.grading.table import db_url

ASSIGNMENTS = assignments(REPO)

# Every test here starts Jupyter kernels or nbgrader.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def graded_class(rebuilt_course):
    """Every sample submission autograded once; returns the course root."""
    for name in ASSIGNMENTS:
        rows = grade(rebuilt_course, name)
        assert sorted(row.student_id for row in rows) == sorted(SAMPLE_STUDENTS), f"{name}: graded {rows}"
    return rebuilt_course


def auto_points(root, name, student) -> dict[str, float]:
    """Points of every auto-graded test cell of one submission, by grade_id."""
    with Gradebook(db_url(root)) as gradebook:
        notebook = gradebook.find_submission_notebook(name, name, student)
        return {g.name: g.score for g in notebook.grades if g.auto_score is not None and g.cell_type == "code"}


def test_points(name) -> dict[str, float]:
    source = nbformat.read(REPO / "source" / name / f"{name}.ipynb", as_version=4)
    return {
        grade_id(c): c.metadata.nbgrader["points"]
        for c in source.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    }


test_points.__test__ = False  # a helper, not a test


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_gets_full_marks_on_every_autograded_cell(graded_class, name):
    got = auto_points(graded_class, name, "sample-solution")
    expected = test_points(name)
    assert got == expected, (
        f"{name}: the model solution lost points in {[k for k in expected if got.get(k) != expected[k]]}"
    )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_untouched_release_gets_zero(graded_class, name):
    got = auto_points(graded_class, name, "sample-blank")
    assert set(got) == set(test_points(name)) and not any(got.values()), f"{name}: the blank release earned {got}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_half_right_submission_gets_exactly_the_predicted_points(graded_class, name):
    sample = json.loads((REPO / "samples" / "partial" / f"{name}.json").read_text())
    got = auto_points(graded_class, name, "sample-partial")
    assert got == sample["expected_points"], (
        f"{name} ({sample['description']}): got {got}, predicted {sample['expected_points']}"
    )
    assert 0 < sum(got.values()) < sum(test_points(name).values()), f"{name}: the partial sample is not partial"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_committed_autograded_notebooks_match_a_fresh_autograde(graded_class, name):
    # Outputs hold process ids and temporary paths, so compare what grading depends on: the cells
    # that ran and the errors they raised.
    for student in SAMPLE_STUDENTS:
        relative = f"{student}/{name}/{name}.ipynb"
        fresh = nbformat.read(graded_class / "autograded" / relative, as_version=4)
        committed = nbformat.read(REPO / "autograded" / relative, as_version=4)

        def summary(notebook):
            return [
                (c.source, [(o.ename, o.evalue) for o in c.get("outputs", []) if o.output_type == "error"])
                for c in notebook.cells
            ]

        assert summary(committed) == summary(fresh), f"autograded/{relative} is stale: run `nnlab course`"


@pytest.fixture
def fresh_clone(tmp_path):
    """The course as a fresh clone has it: committed release/ and sample class, no gradebook.db."""
    import shutil

    root = tmp_path / "clone"
    for folder in ("source", "release", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(
        REPO / "submitted" / "sample-solution" / "03-loss", root / "submitted" / "sample-solution" / "03-loss"
    )
    shutil.copytree(REPO / "submitted" / "sample-blank" / "03-loss", root / "submitted" / "sample-blank" / "03-loss")
    shutil.copy(REPO / "nbgrader_config.py", root)
    assert not (root / "gradebook.db").exists()
    return root


def test_a_fresh_clone_grades_without_a_build(fresh_clone):
    release_before = (fresh_clone / "release" / "03-loss" / "03-loss.ipynb").read_bytes()
    rows = {row.student_id: row for row in grade(fresh_clone, "03-loss", workers=2)}
    assert (rows["sample-solution"].status, rows["sample-solution"].score) == ("graded", 8.0), rows
    assert (rows["sample-blank"].status, rows["sample-blank"].score) == ("graded", 0.0), rows
    assert rows["sample-solution"].max_score == 10.0
    assert (fresh_clone / "feedback" / "sample-solution" / "03-loss" / "03-loss.html").is_file()
    # registering the assignment in the new gradebook left the committed release as it was
    assert (fresh_clone / "release" / "03-loss" / "03-loss.ipynb").read_bytes() == release_before


def test_when_nbgrader_cannot_record_every_student_still_gets_a_row(fresh_clone, monkeypatch):
    import nnlab_instructor.grading.record as record

    real = record.call_nbgrader

    def failing(root, step, assignment, **kwargs):
        if step == "autograde":
            raise RuntimeError("the gradebook is locked by another program")
        return real(root, step, assignment, **kwargs)

    monkeypatch.setattr(record, "call_nbgrader", failing)
    rows = grade(fresh_clone, "03-loss", workers=2, students=["sample-blank"])
    assert [row.student_id for row in rows] == ["sample-blank"]
    for row in rows:
        assert row.status == "grader error", row
        assert "recording in nbgrader failed: RuntimeError: the gradebook is locked by another program" in row.detail
        assert row.max_score == 10.0, row
    table = (fresh_clone / "grades" / "03-loss.csv").read_text()
    assert table.count("grader error") == 1


def test_what_nbgrader_cannot_record_for_one_student_costs_no_other_theirs(fresh_clone, monkeypatch):
    import nnlab_instructor.grading.record as record

    real = record.call_nbgrader

    def failing_for_the_blank(root, step, assignment, **kwargs):
        if step == "autograde" and kwargs.get("student_id") in ("*", "sample-blank"):
            return {"success": False, "error": "Traceback ...\nValueError: a file nbgrader cannot read"}
        return real(root, step, assignment, **kwargs)

    monkeypatch.setattr(record, "call_nbgrader", failing_for_the_blank)
    rows = {row.student_id: row for row in grade(fresh_clone, "03-loss", workers=2)}
    assert (rows["sample-solution"].status, rows["sample-solution"].score) == ("graded", 8.0), rows
    blank = rows["sample-blank"]
    assert blank.status == "grader error", blank
    assert blank.detail == "nbgrader autograde failed: ValueError: a file nbgrader cannot read", blank
