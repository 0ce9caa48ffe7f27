"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest

from nnlab_instructor.authoring.build import BLAS_THREAD_VARIABLES

REPO = Path(__file__).resolve().parents[1]
# Each phase's report of a test (setup, call, teardown), for fixtures that act on failures.
REPORTS = pytest.StashKey[dict]()

# nbval's kernels inherit this: the same single BLAS thread as the build that made the baseline.
for _variable in BLAS_THREAD_VARIABLES:
    os.environ[_variable] = "1"


def pytest_collection_modifyitems(items):
    # nbval's cells execute the notebooks in a kernel: part of the full suite, not of the fast tier.
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


def build_course_copy(root: Path, names: list[str] | None = None) -> Path:
    """Copy the course's authored files (source/, samples/, nbgrader_config.py) into ``root`` and build
    ``names`` (default: every assignment) there without executing the notebooks: release/, submitted/
    and a gradebook of its own."""
    import shutil

    from nnlab_instructor.authoring.build import build
    from nnlab_instructor.authoring.course_files import assignments

    for folder in ("source", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "nbgrader_config.py", root)
    build(root, names or assignments(root), execute=False)
    return root


@pytest.fixture(scope="session")
def rebuilt_course(tmp_path_factory) -> Path:
    """A fresh copy of the whole course, rebuilt from scratch (see :func:`build_course_copy`)."""
    return build_course_copy(tmp_path_factory.mktemp("course"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets a fixture's teardown see whether its test failed (test_browser.py screenshots the pages then).
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report
