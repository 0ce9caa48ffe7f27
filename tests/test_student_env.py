"""What a student installs (`pip install ./student`): the `nnlab` package and its data, never the answer key.

The student's wheel is built offline from student/pyproject.toml, then checked twice: by reading it (which
packages and files, which functions it defines) and by importing it in a virtual environment that holds
only that wheel and the distributions it requires, linked from this interpreter's (a real `pip install`
of them takes about 50 s offline, the whole test about 10 s this way).
"""

import ast
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from packaging.requirements import Requirement

from nnlab_instructor.authoring.course_files import assignments
from nnlab_instructor.grading import decide

pytestmark = pytest.mark.slow

PROBE = REPO / "tests" / "student_env_probe.py"


def graded_functions() -> dict[str, str]:
    """Each graded function of the course's notebooks -> ast dump of its body in the solution cell."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            source = re.sub(r"^\s*[%!].*$", "", cell.source, flags=re.M)
            for node in ast.parse(source).body:
                if isinstance(node, ast.FunctionDef):
                    found[node.name] = ast.dump(ast.Module(body=node.body, type_ignores=[]))
    return found


@pytest.fixture(scope="module")
def student_wheel(tmp_path_factory) -> Path:
    """The wheel `pip install ./student` installs, built offline from a copy of student/ and src/."""
    copy = tmp_path_factory.mktemp("student-build")
    shutil.copytree(REPO / "student", copy / "student")
    shutil.copytree(REPO / "src", copy / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    dist = copy / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, copy / "student"],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dist.glob("nnlab-*.whl")
    return wheel


def test_the_solutions_are_found():
    # The checks below mean nothing if no graded function was read from the notebooks.
    assert {"softmax"} <= set(graded_functions()), sorted(graded_functions())


def test_the_wheel_holds_the_nnlab_package_and_its_data_only(student_wheel):
    with zipfile.ZipFile(student_wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"nnlab"}, sorted(top)
    assert not [n for n in names if "nnlab_instructor" in n or n.endswith("reference.py")]
    for data in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "SHA256SUMS", "README.md"):
        assert f"nnlab/builtin_mnist/{data}" in names


def test_no_module_of_the_wheel_defines_or_contains_a_graded_function(student_wheel):
    solutions = graded_functions()
    bodies = {body: name for name, body in solutions.items()}
    offenders = []
    with zipfile.ZipFile(student_wheel) as archive:
        for name in archive.namelist():
            if not name.endswith(".py"):
                continue
            for node in ast.walk(ast.parse(archive.read(name))):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                body = ast.dump(ast.Module(body=node.body, type_ignores=[]))
                if node.name in solutions or body in bodies:
                    offenders.append(f"{name}: {node.name} (the solution of {bodies.get(body, node.name)})")
    assert not offenders, offenders


def _requirement_closure(wheel: Path) -> set[str]:
    """Names of the installed distributions the wheel requires, and theirs, without extras."""
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(meta).decode()
    pending = [Requirement(line.split(":", 1)[1]) for line in text.splitlines() if line.startswith("Requires-Dist:")]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if requirement.name.lower() in seen:
            continue
        seen.add(requirement.name.lower())
        pending.extend(Requirement(r) for r in metadata.requires(requirement.name) or [])
    return seen


@pytest.fixture(scope="module")
def student_python(student_wheel, tmp_path_factory) -> Path:
    """A virtual environment with the student's wheel and its requirements, nothing else."""
    venv = tmp_path_factory.mktemp("student-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(student_wheel) as archive:
        archive.extractall(purelib)
    here = Path(sysconfig.get_paths()["purelib"])
    for name in _requirement_closure(student_wheel):
        for file in metadata.distribution(name).files or []:
            top = here / file.parts[0]
            if file.parts[0] != ".." and top.exists() and not (purelib / top.name).exists():
                (purelib / top.name).symlink_to(top)
    return python


def _probe(python: Path, mode: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([python, PROBE, mode], capture_output=True, text=True, cwd=cwd)


def test_a_student_interpreter_loads_the_data_and_has_no_answer_key(student_python, tmp_path):
    result = _probe(student_python, "data", tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"(10000, 784) (10000,) {student_python.parents[1]}" in result.stdout, result.stdout
    assert "nnlab: loaded MNIST's official test split" in result.stdout


def test_a_student_interpreter_imports_the_checks(student_python, tmp_path):
    result = _probe(student_python, "checks", tmp_path)
    assert result.returncode == 0, f"`from nnlab import checks` fails with only the student's wheel:\n{result.stderr}"


def _cells_the_tests_need(notebook) -> list[dict]:
    """The code cells a student runs for the tests: set-up and what the tests need, answers, tests."""
    locked = [
        c
        for c in notebook.cells
        if c.cell_type == "code" and is_locked_code(c) and not c.metadata["nbgrader"].get("grade")
    ]
    answers_and_tests = [
        c
        for c in notebook.cells
        if c.cell_type == "code" and (c.metadata["nbgrader"].get("solution") or c.metadata["nbgrader"].get("grade"))
    ]
    needed = decide._needed(locked, answers_and_tests)
    return [
        {
            "grade_id": c.metadata["nbgrader"]["grade_id"],
            "source": c.source,
            "test": bool(c.metadata["nbgrader"].get("grade")),
        }
        for c in notebook.cells
        if c.cell_type == "code" and (c.id in needed or c in answers_and_tests)
    ]


def is_locked_code(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("locked"))


@pytest.mark.parametrize("assignment", assignments(REPO))
def test_the_release_with_the_model_answers_passes_its_visible_tests_with_only_the_student_package(
    student_python, tmp_path, assignment
):
    # What a student gets (release/<assignment>/: the notebook, earlier_steps.py, expected_values.json)
    # in a student's environment: every visible test compares with a released value, none with code.
    for path in (REPO / "release" / assignment).iterdir():
        if path.suffix in (".py", ".json"):
            shutil.copy(path, tmp_path / path.name)
    results = {}
    for sample in ("sample-solution", "sample-blank"):
        notebook = nbformat.read(REPO / "submitted" / sample / assignment / f"{assignment}.ipynb", as_version=4)
        cells = tmp_path / f"{sample}.json"
        cells.write_text(json.dumps(_cells_the_tests_need(notebook)))
        run = subprocess.run([student_python, PROBE, "notebook", cells], capture_output=True, text=True, cwd=tmp_path)
        assert run.returncode == 0, f"{sample}'s {assignment} did not run in a student's environment:\n{run.stderr}"
        results[sample] = [line for line in run.stdout.splitlines() if line.startswith(("PASSED", "FAILED"))]
    tests = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests = [t for t in tests if not t.startswith("answer_")]
    assert results["sample-solution"] == [f"PASSED {t}" for t in tests], results["sample-solution"]
    # and the tests still test: the untouched release fails every one of them
    assert all(line.startswith("FAILED") for line in results["sample-blank"]), results["sample-blank"]
    assert len(results["sample-blank"]) == len(tests)
