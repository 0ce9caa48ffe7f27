"""The autograde round trip through nbgrader's real gradebook, on the sample class."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from nbgrader.api import Gradebook

from nnlab_instructor.authoring.course_files import SAMPLE_STUDENTS, assignments, grade_id
from nnlab_instructor.grading import pipeline, record
from nnlab_instructor.grading.pipeline import grade
from nnlab_instructor.grading.record import record_class, register_assignment
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


def clone_at(root):
    """The course as a fresh clone has it in ``root``: committed release/ and sample class, no gradebook.db."""
    for folder in ("source", "release", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(
        REPO / "submitted" / "sample-solution" / "03-loss", root / "submitted" / "sample-solution" / "03-loss"
    )
    shutil.copytree(REPO / "submitted" / "sample-blank" / "03-loss", root / "submitted" / "sample-blank" / "03-loss")
    shutil.copy(REPO / "nbgrader_config.py", root)
    assert not (root / "gradebook.db").exists()
    return root


@pytest.fixture
def fresh_clone(tmp_path):
    return clone_at(tmp_path / "clone")


def test_a_fresh_clone_grades_without_a_build(fresh_clone):
    release_before = (fresh_clone / "release" / "03-loss" / "03-loss.ipynb").read_bytes()
    rows = {row.student_id: row for row in grade(fresh_clone, "03-loss", workers=2)}
    assert (rows["sample-solution"].status, rows["sample-solution"].score) == ("graded", 8.0), rows
    assert (rows["sample-blank"].status, rows["sample-blank"].score) == ("graded", 0.0), rows
    assert rows["sample-solution"].max_score == 10.0
    assert (fresh_clone / "feedback" / "sample-solution" / "03-loss" / "03-loss.html").is_file()
    # registering the assignment in the new gradebook left the committed release as it was
    assert (fresh_clone / "release" / "03-loss" / "03-loss.ipynb").read_bytes() == release_before


def test_the_grading_command_says_only_what_the_instructor_needs(fresh_clone):
    # nbgrader's own lines (the exchange it does not use, each folder it writes again, nbconvert's setting
    # its base class does not declare) and the set-up cell's "loaded MNIST" came from every recording
    # process and worker, in the middle of the progress bar
    nnlab = Path(sys.executable).with_name("nnlab")
    command = [str(nnlab), "grade", "03-loss", "--root", str(fresh_clone), "--workers", "2", "--no-progress"]
    for run in ("first", "again"):  # again: every autograded and feedback folder is written over
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", f"{run} run: {result.stderr}"
        assert result.stdout.startswith("03-loss: 2 students\n"), result.stdout
        assert "sample-solution       8 / 10    graded" in result.stdout, result.stdout


def test_when_nbgrader_cannot_record_every_student_still_gets_a_row(fresh_clone, monkeypatch):
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


def feedback_page(root, student):
    return root / "feedback" / student / "03-loss" / "03-loss.html"


def arriving_one_by_one(monkeypatch, before_the_next):
    """Make the workers' outcomes reach the coordinator one by one: before each outcome after the first,
    ``before_the_next(students_handed_over)`` is called. Returns the students in the order handed over."""
    run_workers = pipeline._run_workers
    order: list[str] = []

    def one_by_one(*args, **kwargs):
        for student, outcome in run_workers(*args, **kwargs):
            if order:
                before_the_next(list(order))
            order.append(student)
            yield student, outcome

    monkeypatch.setattr(pipeline, "_run_workers", one_by_one)
    return order


def wait_for(condition, what, seconds=180):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


def test_students_are_recorded_while_the_rest_of_the_class_is_graded(fresh_clone, monkeypatch):
    root = fresh_clone
    seen_before_the_next = {}

    def first_one_recorded(handed_over):
        # The second student's outcome is held back until the first one's feedback page exists: had
        # recording waited for the whole class, this would wait forever (and fail).
        first = handed_over[0]
        wait_for(lambda: feedback_page(root, first).is_file(), f"{first}'s feedback while grading")
        seen_before_the_next[first] = auto_points(root, "03-loss", first)

    order = arriving_one_by_one(monkeypatch, first_one_recorded)
    rows = {row.student_id: row for row in grade(root, "03-loss", workers=2)}
    assert sorted(order) == ["sample-blank", "sample-solution"]
    first = order[0]
    # what the gradebook held for the first student before the second arrived is their final record
    assert seen_before_the_next == {first: auto_points(root, "03-loss", first)}
    assert sum(seen_before_the_next[first].values()) == rows[first].score
    assert (rows["sample-solution"].status, rows["sample-solution"].score) == ("graded", 8.0), rows
    assert (rows["sample-blank"].status, rows["sample-blank"].score) == ("graded", 0.0), rows
    assert all(feedback_page(root, student).is_file() for student in order)


def test_students_recorded_while_grading_get_what_recording_the_class_at_once_gives(tmp_path, monkeypatch):
    executed = {}
    run_workers = pipeline._run_workers

    def keep_outcomes(*args, **kwargs):
        for student, outcome in run_workers(*args, **kwargs):
            executed[student] = (outcome.notebook, outcome.timestamp)
            yield student, outcome

    monkeypatch.setattr(pipeline, "_run_workers", keep_outcomes)
    while_grading = clone_at(tmp_path / "while-grading")
    grade(while_grading, "03-loss", workers=2)
    at_once = clone_at(tmp_path / "at-once")
    register_assignment(at_once, "03-loss")
    recorded = record_class(at_once, "03-loss", executed, whole_class=True)
    assert recorded.failures == {} and recorded.feedback_failure is None, recorded

    def scores(root):
        with Gradebook(db_url(root)) as gradebook:
            return {
                (s.student_id, g.name): (g.auto_score, g.manual_score, g.needs_manual_grade)
                for s in gradebook.assignment_submissions("03-loss")
                for n in s.notebooks
                for g in n.grades
            }

    assert scores(while_grading) == scores(at_once)
    assert len(scores(at_once)) > 2
    for student in executed:
        page = feedback_page(while_grading, student).read_text()
        assert page == feedback_page(at_once, student).read_text(), f"{student}'s feedback differs"


def test_a_recording_process_that_dies_costs_only_the_students_it_was_recording(fresh_clone, monkeypatch):
    root = fresh_clone
    died = root.parent / "the recording process died"
    real = record.call_nbgrader

    def dies_once(course, step, assignment, **kwargs):
        if step == "autograde" and not died.exists():
            died.touch()
            os._exit(9)  # as the kernel's out-of-memory killer would end it
        return real(course, step, assignment, **kwargs)

    monkeypatch.setattr(record, "call_nbgrader", dies_once)
    order = arriving_one_by_one(monkeypatch, lambda handed_over: wait_for(died.exists, "the recording to die"))
    rows = {row.student_id: row for row in grade(root, "03-loss", workers=2)}
    first, second = order
    assert rows[first].status == "grader error", rows
    assert rows[first].detail.startswith(
        "recording in nbgrader failed: the recording process failed: BrokenProcessPool: "
    ), rows[first]
    assert not feedback_page(root, first).exists()
    # the next student was recorded by a new recording process, with their feedback
    expected = {"sample-solution": 8.0, "sample-blank": 0.0}[second]
    assert (rows[second].status, rows[second].score) == ("graded", expected), rows
    assert feedback_page(root, second).is_file()
    assert "grader error" in (root / "grades" / "03-loss.csv").read_text()


def state_and_parent(stat: Path) -> tuple[str, int] | None:
    """A process's state and parent's id from its /proc/<pid>/stat; None once it ended."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    found = state_and_parent(Path(f"/proc/{pid}/stat"))
    return found is not None and found[0] != "Z"


def family_of(pid: int) -> set[int]:
    """``pid``'s living descendants."""
    found = {int(stat.parent.name): state_and_parent(stat) for stat in Path("/proc").glob("[0-9]*/stat")}
    parents = {child: info[1] for child, info in found.items() if info is not None and info[0] != "Z"}
    family, grew = set(), True
    while grew:
        grown = {child for child, parent in parents.items() if parent == pid or parent in family}
        grew, family = grown != family, grown
    return family


def test_a_coordinator_killed_mid_run_leaves_no_process_behind(fresh_clone):
    nnlab = Path(sys.executable).with_name("nnlab")
    coordinator = subprocess.Popen(
        [str(nnlab), "grade", "03-loss", "--root", str(fresh_clone), "--workers", "2", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # the recording process, both grading workers and what they started (fork servers, kernels)
        wait_for(lambda: len(family_of(coordinator.pid)) >= 5, "the run's processes")
        family = family_of(coordinator.pid)
    finally:
        coordinator.kill()
        coordinator.wait()
    wait_for(lambda: not any(alive(pid) for pid in family), "the run's processes to end with it", seconds=60)
