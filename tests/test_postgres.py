"""Grading with nbgrader's gradebook in PostgreSQL (``NNLAB_DB_URL``), against a real server.

The server is private to these tests (:mod:`postgres_server`: Debian's ``postgresql`` programs, started in a
temporary folder, on a unix socket only); without its programs the tests fail and say how to install them.
"""

import copy
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO
from nbgrader.api import Gradebook
from postgres_server import throwaway_server
from test_autograde import auto_points, test_points

from nnlab_instructor.authoring.course_files import SAMPLE_STUDENTS, GradebookError, open_gradebook
from nnlab_instructor.cli import main
from nnlab_instructor.grading import pipeline, record
from nnlab_instructor.grading.table import db_url, read_grade_table

# Every test here starts a database server, Jupyter kernels or nbgrader.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres():
    try:
        with throwaway_server() as server:
            yield server
    except RuntimeError as error:  # no server programs, or they would not start: say how to get them
        pytest.fail(str(error), pytrace=False)


def sample_class(root, names):
    """The course with its committed release and sample class of ``names`` (graded as a fresh clone is:
    no build), and no gradebook.db."""
    for folder in ("source", "release", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    for name in names:
        for student in SAMPLE_STUDENTS:
            shutil.copytree(REPO / "submitted" / student / name, root / "submitted" / student / name)
    shutil.copy(REPO / "nbgrader_config.py", root)
    return root


def gradebook_scores(root, name):
    """Every grade of every submission of ``name`` in the gradebook: (student, cell) -> scores and flag."""
    with Gradebook(db_url(root)) as gradebook:
        return {
            (submission.student_id, grade.name): (grade.auto_score, grade.manual_score, grade.needs_manual_grade)
            for submission in gradebook.assignment_submissions(name)
            for notebook in submission.notebooks
            for grade in notebook.grades
        }


@pytest.mark.scale
def test_a_class_recorded_in_postgres_gets_the_table_and_scores_it_gets_in_sqlite(tmp_path, postgres, monkeypatch):
    monkeypatch.delenv("NNLAB_DB_URL", raising=False)
    in_sqlite = sample_class(tmp_path / "sqlite", ["01-data"])
    # The workers never touch the gradebook: the class is executed once, and what the workers found is
    # recorded once in SQLite and once in PostgreSQL.
    executed = {}
    run_workers = pipeline._run_workers

    def keep_outcomes(*args, **kwargs):
        for student, outcome in run_workers(*args, **kwargs):  # outcomes as they arrive
            executed[student] = copy.deepcopy(outcome)
            yield student, outcome

    monkeypatch.setattr(pipeline, "_run_workers", keep_outcomes)
    sqlite_rows = pipeline.grade(in_sqlite, "01-data", workers=2)
    assert sorted(executed) == sorted(SAMPLE_STUDENTS)

    in_postgres = sample_class(tmp_path / "postgres", ["01-data"])
    monkeypatch.setenv("NNLAB_DB_URL", postgres.create_database("same_as_sqlite"))
    monkeypatch.setattr(pipeline, "_run_workers", lambda *args, **kwargs: iter(copy.deepcopy(executed).items()))
    # As a large class is recorded: nbgrader's autograde and feedback in two processes at once, each on
    # its part of the class (SQLite recorded it in one).
    monkeypatch.setattr(record, "STUDENTS_PER_PROCESS", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    postgres_rows = pipeline.grade(in_postgres, "01-data", workers=2)

    assert db_url(in_postgres).startswith("postgresql+psycopg://")
    assert not (in_postgres / "gradebook.db").exists(), "the PostgreSQL run wrote a SQLite gradebook"
    assert postgres_rows == sqlite_rows
    scores = gradebook_scores(in_postgres, "01-data")
    assert scores == gradebook_scores(in_sqlite, "01-data")
    assert {student for student, _ in scores} == set(SAMPLE_STUDENTS)
    for student in SAMPLE_STUDENTS:
        sqlite_feedback = in_sqlite / "feedback" / student / "01-data" / "01-data.html"
        postgres_feedback = in_postgres / "feedback" / student / "01-data" / "01-data.html"
        assert postgres_feedback.read_text() == sqlite_feedback.read_text(), f"{student}'s feedback differs"


@pytest.mark.scale
def test_two_grading_runs_at_once_on_one_postgres_database(tmp_path, postgres, monkeypatch):
    names = ("01-data", "02-softmax")
    root = sample_class(tmp_path / "course", names)
    url = postgres.create_database("two_runs")
    monkeypatch.setenv("NNLAB_DB_URL", url)  # for both runs, and for reading their gradebook here
    students = ("sample-solution", "sample-partial")
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "nnlab_instructor.cli", "grade", name, "--workers", "1", "--no-progress"]
            + [option for student in students for option in ("--student", student)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in names
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for name, run, output in zip(names, runs, outputs):
        assert run.returncode == 0, f"nnlab grade {name} failed next to another run:\n{output}"

    for name in names:
        rows = {row.student_id: row for row in read_grade_table(root / "grades" / f"{name}.csv")}
        assert sorted(rows) == sorted(students), f"{name}: {rows}"
        assert {row.status for row in rows.values()} == {"graded"}, f"{name}: {rows}"
        assert auto_points(root, name, "sample-solution") == test_points(name), f"{name}: the solution lost points"
        partial = (REPO / "samples" / "partial" / f"{name}.json").read_text()
        assert auto_points(root, name, "sample-partial") == json.loads(partial)["expected_points"]
        with Gradebook(url) as gradebook:
            for student in students:
                assert rows[student].score == gradebook.find_submission(name, student).score, (name, student)


def test_an_unreachable_database_is_named_with_its_problem(tmp_path, postgres, monkeypatch, capsys):
    root = sample_class(tmp_path / "course", [])
    # A server that is not running, with a password that no message may show.
    stopped = f"postgresql+psycopg://nnlab:secret@/nowhere?host={tmp_path}"
    cases = {
        stopped: "No such file or directory",
        postgres.url("no_such_database"): 'database "no_such_database" does not exist',
        "not a url": "is not a database URL",
    }
    for url, problem in cases.items():
        monkeypatch.setenv("NNLAB_DB_URL", url)
        with pytest.raises(GradebookError) as raised, open_gradebook(root):
            pass
        message = str(raised.value)
        assert problem in message and "(NNLAB_DB_URL)" in message, message
        assert "secret" not in message, f"the password is shown: {message}"

    # From the command: the problem on one line, no traceback.
    monkeypatch.setenv("NNLAB_DB_URL", stopped)
    assert main(["grade", "01-data", "--root", str(root)]) == 1
    printed = capsys.readouterr().err
    assert printed.startswith("nnlab grade: nbgrader's gradebook database ") and printed.count("\n") == 1, printed
    assert "Is the server running" in printed and "Traceback" not in printed, printed
