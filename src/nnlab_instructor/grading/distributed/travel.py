"""What travels between the coordinator and a worker, and what both must agree on."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

#: A submission folder larger than this is not sent (a notebook with its outputs is well under 10 MB).
MAX_SUBMISSION_BYTES = 50 * 1000**2


class SubmissionTooLarge(ValueError):
    """A submission folder holds more bytes than a task carries."""


@dataclass(frozen=True)
class Submission:
    """The files of ``submitted/<student>/<assignment>/``: relative path -> bytes, and their SHA-256."""

    student: str
    files: dict[str, bytes]
    sha256: str


def read_submission(folder: Path, student: str, max_bytes: int | None = MAX_SUBMISSION_BYTES) -> Submission:
    """The regular files under ``folder`` (symbolic links are not followed: they would point at the
    coordinator's machine). Raises :class:`SubmissionTooLarge` past ``max_bytes`` (None: no bound)."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        total += path.stat().st_size
        if max_bytes is not None and total > max_bytes:
            raise SubmissionTooLarge(
                f"the submission folder holds more than {max_bytes / 1000**2:.0f} MB; "
                "a grading task carries at most that"
            )
        files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return Submission(student, files, submission_digest(files))


def submission_digest(files: dict[str, bytes]) -> str:
    sha = hashlib.sha256()
    for name, content in sorted(files.items()):
        sha.update(name.encode("utf-8") + b"\0" + len(content).to_bytes(8, "big") + content)
    return sha.hexdigest()


def write_submission(submission: Submission, folder: Path) -> None:
    """Write the files into ``folder`` after checking their hash (what arrived is what was sent)."""
    if submission_digest(submission.files) != submission.sha256:
        raise ValueError(f"the submission of {submission.student} arrived damaged (its SHA-256 differs)")
    for name, content in submission.files.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise ValueError(f"the submission of {submission.student} names a file outside its folder: {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


@cache
def grader_version() -> str:
    """The course package's version and a digest of the code that grades (the grader and the student
    library the kernel imports): two machines with equal versions grade equally."""
    import nnlab
    import nnlab_instructor

    sha = hashlib.sha256()
    for package in (nnlab, nnlab_instructor):
        base = Path(str(package.__file__)).parent
        for path in sorted(base.rglob("*.py")):
            sha.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{metadata.version('nnlab-course')}+{sha.hexdigest()[:16]}"


def environment() -> dict[str, str]:
    """What a worker's kernels run with (the sandbox starts ipykernel of this very interpreter)."""
    import numpy

    import nnlab

    return {
        "python": ".".join(map(str, sys.version_info[:3])),
        "nnlab": nnlab.__version__,
        "numpy": numpy.__version__,
        "grader": grader_version(),
    }


def mismatch(expected: dict[str, str], found: dict[str, str]) -> str | None:
    """What differs between the coordinator's environment and this worker's, in words; None if nothing."""
    differ = [
        f"{name} {found.get(name, 'missing')} (coordinator: {value})"
        for name, value in expected.items()
        if found.get(name) != value
    ]
    if not differ:
        return None
    return f"worker {os.uname().nodename} differs from the coordinator: " + ", ".join(differ)
