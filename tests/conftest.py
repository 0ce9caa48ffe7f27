"""Fixtures shared by the test modules."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The offline MNIST folder: $MNIST_DIR, else ../shared/mnist beside the repository.

    Its absence is a failure, not a skip: the course's accuracy claims are checked on real MNIST.
    """
    candidate = Path(os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "mnist")
    if not candidate.is_dir():
        pytest.fail(f"no MNIST folder at {candidate}: set MNIST_DIR to a folder holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    return candidate
