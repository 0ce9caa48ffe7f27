"""Every nbgrader path grades through the course's grader (issue 11).

One small course (02-softmax; the half-right sample, a cheat and a broken notebook) is graded once by
each path: ``nnlab grade``, the ``nbgrader autograde`` / ``nbgrader generate_feedback`` commands, and
``NbGraderAPI.autograde`` / ``NbGraderAPI.generate_feedback`` (what Formgrader's buttons call). Each
path starts from an empty gradebook, autograded/ and feedback/, so what is checked is its own work.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, build_course_copy
from nbgrader.api import Gradebook, MissingEntry

from nnlab_instructor.authoring.course_files import nbgrader_config
from nnlab_instructor.grading.decide import HIDDEN_REGION, MAGIC_LINE
from nnlab_instructor.grading.nbgrader_steps import (
    AUTOGRADE_PREPROCESSORS,
    FEEDBACK_PREPROCESSORS,
    SANITIZE_PREPROCESSORS,
)
from nnlab_instructor.grading.pipeline import grade
from nnlab_instructor.grading.record import recording_config, register_assignment

ASSIGNMENT = "02-softmax"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
GRADED = ("sample-partial", "cheat")
PATHS = ("nnlab grade", "nbgrader command", "nbgrader API")

# Passes every test in an unsandboxed kernel: every later cell, test cells included, becomes `pass`,
# the checks are patched in case they still run, and the notebook says so.
CHEAT = (
    "import builtins, nnlab.checks\n"
    "nnlab.checks.call_own = lambda f, *a, reference=None, **k: f(*a, **k)\n"
    "for _name in ('assert_close', 'assert_array', 'assert_columns_sum_to_one'):\n"
    "    setattr(nnlab.checks, _name, lambda *a, **k: None)\n"
    "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
    "print('tests passed')\n"
    "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell) -> bool:
    return cell.cell_type == "code" and _meta(cell).get("grade") and not _meta(cell).get("solution")


def write_class(root: Path) -> None:
    """The half-right sample `nnlab build` wrote, a cheat and a notebook that is not JSON."""
    for student in ("sample-solution", "sample-blank"):
        shutil.rmtree(root / "submitted" / student)
    release = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = [i for i, c in enumerate(release.cells) if _meta(c).get("solution") and c.cell_type == "code"]
    for index in answers:
        release.cells[index].source = "def softmax(Z):\n    return Z + 0.0\n"
    release.cells.insert(answers[-1] + 1, nbformat.v4.new_code_cell(CHEAT))
    (root / "submitted" / "cheat" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(release, root / "submitted" / "cheat" / ASSIGNMENT / NOTEBOOK)
    (root / "submitted" / "broken" / ASSIGNMENT).mkdir(parents=True)
    (root / "submitted" / "broken" / ASSIGNMENT / NOTEBOOK).write_text('{"cells": [')


def fresh_start(root: Path) -> None:
    """No grade, autograded copy or feedback left from another path (the assignment stays registered)."""
    for folder in ("autograded", "feedback"):
        shutil.rmtree(root / folder, ignore_errors=True)
    register_assignment(root, ASSIGNMENT)
    with Gradebook(nbgrader_config(root).CourseDirectory.db_url) as gradebook:
        for student in (*GRADED, "broken"):
            with contextlib.suppress(MissingEntry):
                gradebook.remove_submission(ASSIGNMENT, student)


def auto_points(root: Path, student: str) -> dict[str, float]:
    with Gradebook(nbgrader_config(root).CourseDirectory.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {g.name: g.score for g in notebook.grades if g.cell_type == "code"}


def feedback_text(root: Path, student: str) -> str:
    """The feedback page as its reader sees it: tags dropped (code is split into highlighted spans)."""
    page = (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def nbgrader_env() -> dict[str, str]:
    # nbgrader shells out to alembic: the one of this environment
    return {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}


def run_command(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--force"],
        cwd=root,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
    )


def formgrader_api(root: Path):
    """NbGraderAPI as Formgrader builds it: the course's nbgrader_config.py and nothing else."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The class graded by every path; returns (root, {path: {"points": ..., "feedback": ..., "log": ...}})."""
    root = build_course_copy(tmp_path_factory.mktemp("nbgrader-paths"), [ASSIGNMENT])
    write_class(root)
    os.environ["PATH"] = nbgrader_env()["PATH"]  # the API asks alembic too
    results = {}

    def collect(path: str, log: str, **extra) -> None:
        results[path] = {
            "points": {s: auto_points(root, s) for s in GRADED},
            "feedback": {s: feedback_text(root, s) for s in GRADED},
            "log": log,
            **extra,
        }

    fresh_start(root)
    rows = {row.student_id: row for row in grade(root, ASSIGNMENT, workers=2)}
    collect("nnlab grade", "", rows=rows)

    fresh_start(root)
    autograded = run_command(root, "autograde", ASSIGNMENT)
    feedback = run_command(root, "generate_feedback", ASSIGNMENT)
    assert feedback.returncode == 0, feedback.stderr
    collect("nbgrader command", autograded.stderr, returncode=autograded.returncode)

    fresh_start(root)
    api = formgrader_api(root)
    # Formgrader's "Autograde" button grades one submission per click
    answers = {student: api.autograde(ASSIGNMENT, student) for student in (*GRADED, "broken")}
    feedback_result = api.generate_feedback(ASSIGNMENT)
    assert feedback_result["success"], feedback_result
    collect("nbgrader API", "".join(r.get("log", "") for r in answers.values()), answers=answers)
    return root, results


# --------------------------------------------------------------------------- what must not leak


def hidden_lines(root: Path) -> list[str]:
    """Lines of the hidden tests that appear nowhere in the release: a feedback page holding one shows a hidden test."""
    source = nbformat.read(root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release = (root / "release" / ASSIGNMENT / NOTEBOOK).read_text()
    lines = {
        line.strip()
        for cell in source.cells
        if _is_test(cell)
        for region in HIDDEN_REGION.findall(cell.source)
        for line in region.splitlines()
        if len(line.strip()) > 20 and not line.strip().startswith("#")
    }
    found = sorted(line for line in lines if json.dumps(line)[1:-1] not in release)
    assert found, f"no hidden test line to look for in {ASSIGNMENT}"
    return found


@functools.lru_cache
def reference_values(root: Path, student: str) -> list[str]:
    """Numbers that the failing hidden tests of ``student`` compare against: run here, outside any
    sandbox, the source's set-up and the student's answers, then each test cell whose visible part
    passes; the numbers of the messages that are not in the student's own notebook."""
    source = nbformat.read(root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    submitted = nbformat.read(root / "submitted" / student / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {_meta(c)["grade_id"]: c.source for c in submitted.cells if _meta(c).get("solution")}
    namespace: dict = {}
    messages = []
    last_test = max(i for i, c in enumerate(source.cells) if _is_test(c))
    for cell in source.cells[: last_test + 1]:
        if cell.cell_type != "code":
            continue
        code = answers.get(_meta(cell).get("grade_id"), cell.source) if _meta(cell).get("solution") else cell.source
        if _is_test(cell):
            # A failure of the visible part may show its values (the student has that test); only what a
            # hidden part compares against must never reach the feedback.
            try:
                exec(compile(MAGIC_LINE.sub("", HIDDEN_REGION.sub("", code)), "<cell>", "exec"), namespace)
            except Exception:
                continue
        try:
            exec(compile(MAGIC_LINE.sub("", code), "<cell>", "exec"), namespace)
        except Exception as error:
            if _is_test(cell):
                messages.append(str(error))
    numbers = sorted(
        {n for m in messages for n in re.findall(r"-?\d+\.\d{3,}(?:e[-+]?\d+)?", m)}
        - set(re.findall(r"-?\d+\.\d{3,}", json.dumps(submitted)))
    )
    assert numbers, f"{student}'s failing tests show no reference value to look for: {messages}"
    return numbers


def machine_folders(root: Path) -> list[str]:
    return [str(root), str(REPO), sys.prefix, "/tmp/", "site-packages"]


# --------------------------------------------------------------------------- the tests


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS[1:])
def test_scores_are_the_ones_nnlab_grade_gives(course, path):
    root, results = course
    assert results[path]["points"] == results["nnlab grade"]["points"], results[path]["log"][-3000:]
    partial = json.loads((root / "samples" / "partial" / f"{ASSIGNMENT}.json").read_text())
    assert results[path]["points"]["sample-partial"] == partial["expected_points"]


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_a_cheat_that_passes_in_an_unsandboxed_kernel_earns_nothing(course, path):
    _, results = course
    points = results[path]["points"]["cheat"]
    assert points and not any(points.values()), f"{path}: the cheat earned {points}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_feedback_shows_no_hidden_test(course, path):
    root, results = course
    lines = hidden_lines(root)
    for student, text in results[path]["feedback"].items():
        shown = [line for line in lines if line in text]
        assert not shown and "BEGIN HIDDEN TESTS" not in text, f"{path}: {student}'s feedback shows {shown}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_feedback_shows_no_reference_value_of_a_failing_hidden_test(course, path):
    root, results = course
    text = results[path]["feedback"]["sample-partial"]
    shown = [value for value in reference_values(root, "sample-partial") if value in text]
    assert not shown, f"{path}: the feedback shows the reference values {shown}"
    assert "a hidden test failed" in text, f"{path}: the failing hidden test is not reported"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_feedback_names_no_folder_of_the_grading_machine(course, path):
    root, results = course
    for student, text in results[path]["feedback"].items():
        shown = [folder for folder in machine_folders(root) if folder in text]
        assert not shown, f"{path}: {student}'s feedback shows {shown}"


@pytest.mark.slow
def test_a_broken_notebook_fails_alone_on_the_command(course):
    root, results = course
    command = results["nbgrader command"]
    assert command["returncode"] != 0 and "for student 'broken'" in command["log"], command["log"][-2000:]
    # the others were graded all the same (their points are compared above)
    for student in GRADED:
        assert (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()


@pytest.mark.slow
def test_a_broken_notebook_fails_alone_in_formgrader(course):
    _, results = course
    answers = results["nbgrader API"]["answers"]
    assert not answers["broken"]["success"], answers["broken"]
    assert all(answers[student]["success"] for student in GRADED), answers
    assert results["nnlab grade"]["rows"]["broken"].status == "invalid notebook"


@pytest.mark.slow
def test_feedback_of_a_notebook_nbgrader_executed_itself_withholds_the_same(course):
    """An autograded notebook as plain nbgrader writes it (hidden tests put back, a traceback with the
    expected values and this machine's paths), e.g. from before nbgrader_config.py said otherwise."""
    root, _ = course
    source = nbformat.read(root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    path = root / "autograded" / "sample-partial" / ASSIGNMENT / NOTEBOOK
    notebook = nbformat.read(path, as_version=4)
    values = reference_values(root, "sample-partial")
    trusted = {_meta(c)["grade_id"]: c.source for c in source.cells if _is_test(c)}
    for cell in notebook.cells:
        if _meta(cell).get("grade_id") in trusted:
            cell.source = trusted[_meta(cell)["grade_id"]]
            frame = f"File \x1b[0;32m{REPO}/src/nnlab/checks.py:199\x1b[0m, in assert_close"
            cell.outputs = [
                nbformat.v4.new_output(
                    "error", ename="CheckFailure", evalue=f"expected {values[0]}", traceback=[frame, cell.source]
                )
            ]
    path.chmod(0o644)
    nbformat.write(notebook, path)
    result = formgrader_api(root).generate_feedback(ASSIGNMENT, "sample-partial")
    assert result["success"], result
    text = feedback_text(root, "sample-partial")
    assert not [line for line in hidden_lines(root) if line in text], "a hidden test is in the feedback"
    assert not [value for value in values if value in text], "a reference value is in the feedback"
    assert not [folder for folder in machine_folders(root) if folder in text], "a path is in the feedback"


def test_every_nbgrader_path_is_configured_with_the_course_grader():
    config = nbgrader_config(REPO)
    assert config.Autograde.sanitize_preprocessors == SANITIZE_PREPROCESSORS
    assert config.Autograde.autograde_preprocessors == AUTOGRADE_PREPROCESSORS
    assert config.GenerateFeedback.preprocessors == FEEDBACK_PREPROCESSORS
    assert not [step for step in AUTOGRADE_PREPROCESSORS if step.endswith(".Execute")]
    assert FEEDBACK_PREPROCESSORS[0].endswith(".WithholdFromFeedback")


def test_recording_uses_the_same_steps_and_executes_nothing(tmp_path):
    recording = nbgrader_config(REPO, recording_config(tmp_path))
    config = nbgrader_config(REPO)
    assert recording.Autograde.autograde_preprocessors == config.Autograde.autograde_preprocessors
    assert recording.Autograde.sanitize_preprocessors == config.Autograde.sanitize_preprocessors
    # staged notebooks are handed on, not graded again
    assert recording.GradeSubmission.staged_directory == str(tmp_path)
    assert recording.CourseDirectory.submitted_directory == str(tmp_path)
