"""pip (pyproject.toml) and conda (environment.yml) must install the same packages."""

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from conftest import REPO

from nnlab.data import BUILTIN_SHA256
from nnlab_instructor.cli import build_parser

# conda-forge names that differ from PyPI's (none yet; add them here rather than special-casing).
CONDA_TO_PIP: dict[str, str] = {}


def normalise(requirement: str) -> tuple[str, str]:
    # pip's extras ("psycopg[binary]") choose wheels, not another package: conda names the package alone.
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^]]*\])?\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    requirements = project["dependencies"] + extras["test"] + extras["dask"] + extras["postgres"]
    return dict(normalise(r) for r in requirements)


def conda_requirements() -> dict[str, str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:") + 1
    found = {}
    for line in lines[start:]:
        # conda's own packages and those of its pip section, but not the course itself (`-e .`).
        item = re.fullmatch(r"(?:  |      )- (\S.*)", line)
        if item and item.group(1) not in ("pip", "pip:") and not item.group(1).startswith("-e "):
            name, spec = normalise(item.group(1))
            found[CONDA_TO_PIP.get(name, name)] = spec
    return found


def test_pip_and_conda_list_the_same_packages_and_versions():
    pip = pip_requirements()
    conda = conda_requirements()
    python = conda.pop("python", None)
    assert python == ">=" + tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"].lstrip(
        ">="
    )
    only_pip = {k: v for k, v in pip.items() if k not in conda}
    only_conda = {k: v for k, v in conda.items() if k not in pip}
    differ = {k: (pip[k], conda[k]) for k in pip.keys() & conda.keys() if pip[k] != conda[k]}
    assert not only_pip, f"in pyproject.toml but not environment.yml: {only_pip}"
    assert not only_conda, f"in environment.yml but not pyproject.toml: {only_conda}"
    assert not differ, f"versions differ (pyproject.toml, environment.yml): {differ}"


def test_environment_installs_the_course_itself():
    assert "      - -e ." in (REPO / "environment.yml").read_text().splitlines()


def test_the_command_line_explains_every_subcommand(capsys):
    # In-process: each `nnlab X --help` in a child process would import the whole grader again.
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "train" in subcommands.choices
    overview = parser.format_help()
    for action in subcommands._choices_actions:
        assert action.help, f"subcommand {action.dest} has no help text"
        assert action.dest in overview
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([action.dest, "--help"])
        assert exit_info.value.code == 0
        assert "usage: nnlab " + action.dest in capsys.readouterr().out


def test_the_installed_command_runs():
    # The console script of pyproject.toml, as a user types it.
    nnlab = Path(sys.executable).with_name("nnlab")
    result = subprocess.run([str(nnlab), "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: nnlab") and "built into nnlab" in result.stdout


def test_the_wheel_ships_the_built_in_mnist_and_its_licence(tmp_path):
    # What `pip install nnlab` brings: built offline from a copy, so the clone stays untouched.
    project = tmp_path / "project"
    shutil.copytree(REPO / "src", project / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, project / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(project),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = (tmp_path / "dist").glob("nnlab_course-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "SHA256SUMS", "MD5SUMS", "README.md"):
            assert f"nnlab/builtin_mnist/{name}" in names, f"the wheel lacks nnlab/builtin_mnist/{name}"
        images = archive.read("nnlab/builtin_mnist/t10k-images-idx3-ubyte.gz")
        licence = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert hashlib.sha256(images).hexdigest() == BUILTIN_SHA256["t10k-images-idx3-ubyte.gz"]
    assert "CC BY-SA 3.0" in licence and "MIT License" in licence


def test_the_students_requirements_are_the_courses_with_the_same_versions():
    # A student's environment (student/pyproject.toml) must run what the instructor's was tested with.
    student = tomllib.loads((REPO / "student" / "pyproject.toml").read_text())["project"]
    course = pip_requirements()
    for group, requirements in [("dependencies", student["dependencies"])] + [
        (f"[{extra}]", listed) for extra, listed in student["optional-dependencies"].items()
    ]:
        for name, spec in (normalise(r) for r in requirements):
            assert name in course, f"student/pyproject.toml {group}: {name} is not in the root pyproject.toml"
            assert spec == course[name], (
                f"student/pyproject.toml {group}: {name}{spec}, the root has {name}{course[name]}"
            )
    assert (
        student["requires-python"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    )


def test_the_grading_command_does_not_compile_rfc3987_syntaxs_grammars():
    # nbgrader and nbformat import jsonschema, which would import rfc3987_syntax (3 s) in every process
    code = (
        "import sys, nnlab_instructor.grading.pipeline, nbformat, jsonschema\n"
        "print(sys.modules.get('rfc3987_syntax', 'never imported'))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() in ("None", "never imported"), run.stdout
    # and nbformat still validates notebooks without it
    check = "import nnlab_instructor, nbformat; nbformat.validate(nbformat.v4.new_notebook()); print('valid')"
    assert subprocess.run([sys.executable, "-c", check], capture_output=True, text=True).stdout.strip() == "valid"
