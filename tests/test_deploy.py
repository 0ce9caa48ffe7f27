"""The instructor's nbgrader_config.py and the student profile (deploy/student) name the same course and exchange."""

import json

import pytest
from conftest import REPO
from traitlets.config import PyFileConfigLoader

STUDENT_PROFILE = REPO / "deploy" / "student"


def exchange_of(folder) -> tuple[str, str]:
    # Loaded as nbgrader loads them: a fresh loader, so that the environment is read again.
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    return config.CourseDirectory.course_id, config.Exchange.root


@pytest.mark.parametrize("override", [None, "/var/tmp/nnlab-exchange"])
def test_students_and_instructor_use_the_same_course_and_exchange(monkeypatch, override):
    if override is None:
        monkeypatch.delenv("NNLAB_EXCHANGE", raising=False)
    else:
        monkeypatch.setenv("NNLAB_EXCHANGE", override)
    instructor = exchange_of(REPO)
    assert instructor == exchange_of(STUDENT_PROFILE)
    assert instructor == ("nnlab", override or "/srv/nbgrader/exchange")


def test_student_profile_names_every_server_extension_of_nbgrader():
    # One nbgrader adds later would be on for students unless the profile names it.
    import pkgutil

    import nbgrader.server_extensions

    installed = {
        f"nbgrader.server_extensions.{module.name}"
        for module in pkgutil.iter_modules(nbgrader.server_extensions.__path__)
    }
    server = json.loads((STUDENT_PROFILE / "jupyter_server_config.json").read_text())["ServerApp"]
    assert set(server["jpserver_extensions"]) == installed | {"nbgrader"}
