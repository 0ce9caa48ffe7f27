"""The coordinator's side: connect to a Dask scheduler, send one task per student, collect the outcomes.

Dask runs pickled code on its workers: whoever can reach the scheduler can run anything there. So a real
cluster is reached over ``tls://`` with certificates (docs/deployment.md); plain ``tcp://`` is accepted
only on a loopback address (tests, one machine).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nbformat
from distributed import Client, Security, as_completed

from ...authoring.course_files import CourseError
from ..table import Status
from ..worker import AssignmentFiles, Outcome, not_graded
from .task import AssignmentPlugin, grade_task
from .travel import Submission, SubmissionTooLarge, environment

#: How many times a task that raised (a fault of the grader's) is tried again before the student's row
#: says "grader error". A worker lost mid-task is another matter: the scheduler reschedules its tasks
#: (``distributed.scheduler.allowed-failures`` times, then KilledWorker).
RETRIES = 2

#: Tasks in flight at least (more with many worker threads): the coordinator reads a submission only when
#: its task is sent, so its memory does not grow with the class.
WINDOW = 64


@dataclass(frozen=True)
class TLSFiles:
    """The PEM files of one side of a TLS connection: the CA that signed every certificate, and our own."""

    ca_file: Path
    cert: Path
    key: Path

    def security(self, role: str) -> Security:
        """``role``: "client" (the coordinator) or "worker"."""
        for path in (self.ca_file, self.cert, self.key):
            if not Path(path).is_file():
                raise CourseError(f"TLS file {path} does not exist")
        return Security(
            require_encryption=True,
            tls_ca_file=str(self.ca_file),
            **{f"tls_{role}_cert": str(self.cert), f"tls_{role}_key": str(self.key)},
        )


@dataclass
class Cluster:
    """Where and how to grade: a scheduler's address and its TLS settings."""

    address: str
    security: Security | None = None
    retries: int = RETRIES
    #: what runs per student: :func:`.task.grade_task` (the benchmark's stand-in and the tests' faulty
    #: tasks take the same arguments)
    task: Callable[..., Outcome] = field(default=grade_task)

    def __post_init__(self) -> None:
        check_address(self.address, self.security)  # before any work


def check_address(address: str, security: Security | None) -> None:
    """Refuse what would send pickled code in the clear to another machine, or TLS without certificates."""
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme == "tls":
        if security is None or not security.require_encryption:
            raise CourseError(f"{address}: tls:// needs --tls-ca-file, --tls-cert and --tls-key")
        return
    if scheme != "tcp":
        raise CourseError(f"{address}: unsupported protocol {scheme}:// (use tls://, or tcp:// on this machine)")
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    if not _loopback(host):
        raise CourseError(
            f"{address}: plain tcp:// is accepted only on this machine (127.0.0.1, ::1, localhost); Dask runs "
            "pickled code on its workers, so a cluster of several machines must use tls:// with certificates "
            "(--tls-ca-file, --tls-cert, --tls-key; docs/deployment.md)"
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


def connect(cluster: Cluster) -> Client:
    check_address(cluster.address, cluster.security)
    try:
        return Client(cluster.address, security=cluster.security, timeout=30, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise CourseError(f"cannot reach the Dask scheduler at {cluster.address}: {error}") from error


def grade_on_cluster(
    cluster: Cluster,
    files: AssignmentFiles,
    students: list[str],
    load: Callable[[str], Submission],
    limits: Any,
    hide: tuple[str, ...],
) -> Iterator[tuple[str, Outcome]]:
    """Each student's outcome as it arrives. ``load`` reads a student's submission when its task is sent:
    at most a window of submissions (a few per worker thread) is held by the coordinator and the cluster."""
    if not students:
        return
    with connect(cluster) as client:
        client.register_plugin(AssignmentPlugin(files))
        expected = environment()
        window = max(WINDOW, 4 * sum(client.nthreads().values()))
        waiting = iter(students)
        futures: dict[Any, str] = {}
        running = as_completed(loop=client.loop)

        def send_next() -> Iterator[tuple[str, Outcome]]:
            for student in waiting:
                try:
                    submission = load(student)
                except SubmissionTooLarge as error:
                    yield student, too_large(files, student, str(error))
                    continue
                future = client.submit(
                    cluster.task,
                    files.digest,
                    submission,
                    limits,
                    hide,
                    expected,
                    key=f"grade-{files.assignment}-{student}-{submission.sha256[:12]}",
                    pure=False,
                    retries=cluster.retries,
                )
                futures[future] = student
                running.add(future)
                return

        for _ in range(window):
            yield from send_next()
        for future in running:
            student = futures.pop(future)
            try:
                outcome = future.result()
            except Exception as error:
                outcome = Outcome(student, Status.GRADER_ERROR.value, _fault(error, cluster.retries))
            future.release()  # the outcome is the coordinator's now: the cluster need not keep it
            yield student, outcome
            yield from send_next()


def _fault(error: BaseException, retries: int) -> str:
    name = type(error).__name__
    if name == "KilledWorker":
        return f"the workers grading this submission kept dying ({error})"
    return f"the grader failed {retries + 1} times: {name}: {error}"


def too_large(files: AssignmentFiles, student: str, problem: str) -> Outcome:
    """The outcome of a submission folder too large to send: as the grader records a notebook it cannot run."""
    release = nbformat.reads(files.release, as_version=4)
    status = Status.INVALID_NOTEBOOK.value
    return Outcome(student, status, problem, nbformat.writes(not_graded(release, status)))
