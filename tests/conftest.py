"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest

from nnlab.build import BLAS_THREAD_VARIABLES

REPO = Path(__file__).resolve().parents[1]

# nbval's kernels inherit this: the same single BLAS thread as the build that made the baseline.
for _variable in BLAS_THREAD_VARIABLES:
    os.environ[_variable] = "1"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The offline MNIST folder: $MNIST_DIR, else ../shared/mnist beside the repository.

    Its absence is a failure, not a skip: the course's accuracy claims are checked on real MNIST.
    """
    candidate = Path(os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "mnist")
    if not candidate.is_dir():
        pytest.fail(f"no MNIST folder at {candidate}: set MNIST_DIR to a folder holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    return candidate


@pytest.fixture(scope="session")
def rebuilt_course(tmp_path_factory) -> Path:
    """A fresh copy of the course's authored files (source/, samples/, nbgrader_config.py), rebuilt from
    scratch without executing the notebooks: release/, submitted/ and a gradebook of its own."""
    import shutil

    from nnlab.build import build
    from nnlab.course import assignments

    root = tmp_path_factory.mktemp("course")
    for folder in ("source", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "nbgrader_config.py", root)
    build(root, assignments(root), execute=False)
    return root
