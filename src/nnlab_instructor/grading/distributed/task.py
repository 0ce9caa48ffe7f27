"""The worker's side of a grading task.

The assignment's :class:`~nnlab_instructor.grading.worker.AssignmentFiles` reach each worker once, with a
worker plugin (the scheduler hands it to every worker that joins, restarted ones included); a task carries
only a student's submission, the limits and the coordinator's environment to compare with its own.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ..table import Status
from ..worker import AssignmentFiles, Outcome, grade_submission
from .travel import Submission, environment, mismatch, write_submission


class GraderFault(RuntimeError):
    """The grader, not the student, failed: Dask retries the task (``Client.submit(retries=...)``)."""


def plugin_name(digest: str) -> str:
    return f"nnlab-assignment-{digest[:16]}"


class AssignmentPlugin(WorkerPlugin):
    """Carries one assignment's files to every worker, once."""

    def __init__(self, files: AssignmentFiles) -> None:
        self.files = files
        self.name = plugin_name(files.digest)

    def setup(self, worker: Any) -> None:
        # The files came with the plugin; checking them here makes a damaged copy fail at once.
        # (the digest travelled with them, computed on the coordinator; a fresh copy computes it again)
        if self.files.digest != dataclasses.replace(self.files).digest:
            raise ValueError(f"the files of {self.files.assignment} arrived damaged on {worker.address}")


def assignment_files(digest: str) -> AssignmentFiles:
    plugin = get_worker().plugins.get(plugin_name(digest))
    if plugin is None:
        raise GraderFault(f"this worker has no files of the assignment {digest[:16]} (its plugin is missing)")
    assert isinstance(plugin, AssignmentPlugin)
    return plugin.files


@contextmanager
def received(digest: str, submission: Submission, expected: dict[str, str]) -> Iterator[tuple[AssignmentFiles, Path]]:
    """What a task needs on its worker: the environment checked against the coordinator's, the assignment's
    files, and the submission written into a private folder (removed afterwards)."""
    problem = mismatch(expected, environment())
    if problem:
        raise GraderFault(problem)
    files = assignment_files(digest)
    # In the worker's temporary folder: the sandbox gives each kernel a private, empty /tmp.
    with tempfile.TemporaryDirectory(prefix="nnlab-submission-") as private:
        folder = Path(private) / submission.student / files.assignment
        folder.mkdir(parents=True)
        write_submission(submission, folder)
        yield files, folder


def grade_task(
    digest: str, submission: Submission, limits: Any, hide: tuple[str, ...], expected: dict[str, str]
) -> Outcome:
    """Grade one student on this worker: the same :func:`grade_submission` as the local path, on a
    private copy of the submission. Raises :class:`GraderFault` for the grader's own faults (so that Dask
    retries them); every fault of the student's is an :class:`Outcome`."""
    with received(digest, submission, expected) as (files, folder):
        # The coordinator's course folder is hidden when this worker's machine has it (a LocalCluster).
        hidden = tuple(path for path in hide if os.path.isdir(path))
        outcome = grade_submission(files, submission.student, folder, limits, hide=hidden)
    if outcome.status == Status.GRADER_ERROR:
        raise GraderFault(outcome.detail)
    return outcome
