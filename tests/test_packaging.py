"""pip (pyproject.toml) and conda (environment.yml) must install the same packages."""

import argparse
import re
import subprocess
import sys
import tomllib

from conftest import REPO

from nnlab.cli import build_parser

# conda-forge names that differ from PyPI's (none yet; add them here rather than special-casing).
CONDA_TO_PIP: dict[str, str] = {}


def normalise(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(normalise(r) for r in requirements)


def conda_requirements() -> dict[str, str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:") + 1
    found = {}
    for line in lines[start:]:
        item = re.fullmatch(r"  - (\S.*)", line)
        if item and item.group(1) not in ("pip", "pip:"):
            name, spec = normalise(item.group(1))
            found[CONDA_TO_PIP.get(name, name)] = spec
    return found


def test_pip_and_conda_list_the_same_packages_and_versions():
    pip = pip_requirements()
    conda = conda_requirements()
    python = conda.pop("python", None)
    assert python == ">=" + tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"].lstrip(">=")
    only_pip = {k: v for k, v in pip.items() if k not in conda}
    only_conda = {k: v for k, v in conda.items() if k not in pip}
    differ = {k: (pip[k], conda[k]) for k in pip.keys() & conda.keys() if pip[k] != conda[k]}
    assert not only_pip, f"in pyproject.toml but not environment.yml: {only_pip}"
    assert not only_conda, f"in environment.yml but not pyproject.toml: {only_conda}"
    assert not differ, f"versions differ (pyproject.toml, environment.yml): {differ}"


def test_environment_installs_the_course_itself():
    assert "      - -e ." in (REPO / "environment.yml").read_text().splitlines()


def test_the_command_line_explains_every_subcommand():
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "train" in subcommands.choices
    overview = subprocess.run([sys.executable, "-m", "nnlab.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for action in subcommands._choices_actions:
        assert action.help, f"subcommand {action.dest} has no help text"
        assert action.dest in overview
        own = subprocess.run([sys.executable, "-m", "nnlab.cli", action.dest, "--help"], capture_output=True, text=True)
        assert own.returncode == 0 and "usage: nnlab " + action.dest in own.stdout, own.stderr
