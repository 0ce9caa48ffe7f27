"""Grading on a Dask cluster (grading/distributed/): the local path's table, and every failure survived.

The slow tests grade the sample class of 01-data (3 students) on a two-worker LocalCluster of processes.
"""

import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cloudpickle
import pytest
from conftest import build_course_copy
from distributed import Client, LocalCluster

from nnlab_instructor.cli import main
from nnlab_instructor.grading.distributed.cluster import RETRIES, Cluster, TLSFiles, check_address
from nnlab_instructor.grading.distributed.journal import Basis, Journal, read_journal
from nnlab_instructor.grading.distributed.task import grade_task
from nnlab_instructor.grading.distributed.travel import (
    SubmissionTooLarge,
    environment,
    mismatch,
    read_submission,
    submission_digest,
    write_submission,
)
from nnlab_instructor.grading.pipeline import grade
from nnlab_instructor.grading.table import Status, read_grade_table
from nnlab_instructor.grading.worker import Outcome

# The faulty tasks below travel to the workers by value (the workers cannot import this test module).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ASSIGNMENT = "01-data"
NNLAB = Path(sys.executable).with_name("nnlab")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """01-data built, never graded."""
    return build_course_copy(tmp_path_factory.mktemp("built"), [ASSIGNMENT])


def copy_of(course: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(course, tmp_path / "course"))


@pytest.fixture(scope="module")
def graded_locally(built, tmp_path_factory) -> tuple[Path, list]:
    """The local path's course and table: what every cluster run must give."""
    course = copy_of(built, tmp_path_factory.mktemp("local"))
    return course, grade(course, ASSIGNMENT, workers=2)


@pytest.fixture(scope="module")
def local_cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        yield cluster


def rows_of(table, students=None):
    return [row for row in table if students is None or row.student_id in students]


@pytest.mark.slow
@pytest.mark.scale
def test_a_two_worker_cluster_grades_as_the_local_path(built, graded_locally, local_cluster, tmp_path):
    course = copy_of(built, tmp_path)
    rows = grade(course, ASSIGNMENT, cluster=Cluster(local_cluster.scheduler_address))
    assert rows == graded_locally[1]
    assert read_grade_table(course / "grades" / f"{ASSIGNMENT}.csv") == rows
    journaled = read_journal(course / "grades" / f"{ASSIGNMENT}.journal.jsonl")
    assert sorted(student for student, _, _ in journaled) == [row.student_id for row in rows]
    # the coordinator wrote nbgrader's feedback, as on the local path
    assert all((course / "feedback" / row.student_id / ASSIGNMENT).is_dir() for row in rows)


def die_the_first_time(marker: str):
    def task(*args):
        if not os.path.exists(marker):
            Path(marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-task
        return grade_task(*args)

    return task


@pytest.mark.slow
@pytest.mark.scale
def test_a_worker_lost_mid_task_has_its_task_rescheduled(built, graded_locally, local_cluster, tmp_path):
    course = copy_of(built, tmp_path)
    marker = tmp_path / "killed"
    cluster = Cluster(local_cluster.scheduler_address, task=die_the_first_time(str(marker)))
    rows = grade(course, ASSIGNMENT, students=["sample-solution"], cluster=cluster)
    assert marker.is_file(), "the task never killed its worker"
    assert rows == rows_of(graded_locally[1], ["sample-solution"])


def raise_and_count(counter: str):
    def task(digest, submission, *rest):
        with open(counter, "a") as file:
            file.write(submission.student + "\n")
        raise RuntimeError("the grader broke")

    return task


@pytest.mark.slow
@pytest.mark.scale
def test_a_task_that_raises_is_retried_then_a_grader_error_keeping_the_previous_grade(
    graded_locally, local_cluster, tmp_path
):
    course = copy_of(graded_locally[0], tmp_path)
    previous = rows_of(graded_locally[1], ["sample-partial"])[0]
    counter = tmp_path / "attempts"
    cluster = Cluster(local_cluster.scheduler_address, task=raise_and_count(str(counter)))
    rows = grade(course, ASSIGNMENT, students=["sample-partial"], cluster=cluster)
    assert counter.read_text().split() == ["sample-partial"] * (RETRIES + 1)
    row = rows_of(rows, ["sample-partial"])[0]
    assert (row.status, row.score, row.max_score) == (Status.GRADER_ERROR.value, previous.score, previous.max_score)
    assert f"failed {RETRIES + 1} times: RuntimeError: the grader broke" in row.detail
    assert "previous result kept" in row.detail
    # everyone else's row is untouched
    assert rows_of(rows, ["sample-blank", "sample-solution"]) == rows_of(
        graded_locally[1], ["sample-blank", "sample-solution"]
    )


@pytest.mark.slow
@pytest.mark.scale
def test_a_coordinator_killed_mid_run_resumes_without_grading_anyone_twice(
    built, graded_locally, local_cluster, tmp_path
):
    course = copy_of(built, tmp_path)
    journal = course / "grades" / f"{ASSIGNMENT}.journal.jsonl"
    command = [str(NNLAB), "grade", ASSIGNMENT, "--root", str(course), "--no-progress"]
    coordinator = subprocess.Popen([*command, "--scheduler", local_cluster.scheduler_address])
    deadline = time.monotonic() + 300
    while not (journal.is_file() and journal.read_text().count("\n") >= 1):
        assert coordinator.poll() is None, "the coordinator ended before its first outcome"
        assert time.monotonic() < deadline, "no outcome journaled in 5 minutes"
        time.sleep(0.05)
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait()
    before = [student for student, _, _ in read_journal(journal)]
    assert 1 <= len(before) < 3
    rows = grade(course, ASSIGNMENT, cluster=Cluster(local_cluster.scheduler_address), resume=True)
    after = [student for student, _, _ in read_journal(journal)]
    assert after[: len(before)] == before
    assert sorted(after) == ["sample-blank", "sample-partial", "sample-solution"]  # each once
    assert rows == graded_locally[1]


def self_signed_tls(folder: Path) -> TLSFiles:
    """A CA and one certificate it signs for 127.0.0.1 (the scheduler, the worker and the client share it)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, key, signer, ca):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("nnlab test CA", "nnlab test CA", ca_key, ca_key, True)
    leaf = certificate("localhost", "nnlab test CA", key, ca_key, False)
    files = TLSFiles(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.scale
def test_a_scheduler_and_a_worker_started_apart_grade_over_tls(built, graded_locally, tmp_path):
    tls = self_signed_tls(tmp_path)
    address = f"tls://127.0.0.1:{free_port()}"
    options = ["--tls-ca-file", str(tls.ca_file), "--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    dask = Path(sys.executable).with_name("dask")
    port = address.rsplit(":", 1)[1]
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", port, "--protocol", "tls", "--no-dashboard", *options]
    )
    worker = subprocess.Popen([str(NNLAB), "worker", address, "--nworkers", "1", *options])
    try:
        with Client(address, security=tls.security("client"), timeout=60) as client:
            client.wait_for_workers(1, timeout=180)
        course = copy_of(built, tmp_path)
        rows = grade(course, ASSIGNMENT, students=["sample-blank"], cluster=Cluster(address, tls.security("client")))
        assert rows == rows_of(graded_locally[1], ["sample-blank"])
        # without certificates the coordinator does not even try
        with pytest.raises(Exception, match="tls:// needs --tls-ca-file"):
            check_address(address, None)
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)


def test_plain_tcp_is_refused_unless_the_address_is_loopback():
    for refused in ("tcp://10.1.2.3:8786", "192.0.2.7:8786", "tcp://example.org:8786"):
        with pytest.raises(Exception, match="plain tcp:// is accepted only on this machine"):
            check_address(refused, None)
    for accepted in ("tcp://127.0.0.1:8786", "tcp://localhost:8786", "tcp://[::1]:8786", "127.0.0.1:8786"):
        check_address(accepted, None)
    with pytest.raises(Exception, match="unsupported protocol ucx://"):
        check_address("ucx://127.0.0.1:8786", None)


def test_the_commands_refuse_plain_tcp_to_another_machine(capsys):
    assert main(["worker", "tcp://10.1.2.3:8786"]) == 1
    assert "must use tls:// with certificates" in capsys.readouterr().err
    assert main(["grade", ASSIGNMENT, "--scheduler", "tcp://10.1.2.3:8786", "--no-progress"]) == 1
    assert "must use tls:// with certificates" in capsys.readouterr().err


def test_the_worker_refuses_to_start_when_the_sandbox_fails(monkeypatch, capsys):
    from nnlab_instructor.grading.distributed import worker_check

    monkeypatch.setattr(worker_check, "sandbox_problem", lambda: ("the kernel died", "network: NOT isolated"))
    assert main(["worker", "tcp://127.0.0.1:8786"]) == 1
    message = capsys.readouterr().err
    assert "this machine cannot grade: the kernel died" in message and "network: NOT isolated" in message


def test_a_submission_travels_whole_and_checked(tmp_path):
    folder = tmp_path / "sent"
    (folder / "data").mkdir(parents=True)
    (folder / "01-data.ipynb").write_text("{}")
    (folder / "data" / "notes.txt").write_bytes(bytes(range(256)))
    (folder / "link").symlink_to("/etc/passwd")
    submission = read_submission(folder, "ada")
    assert sorted(submission.files) == ["01-data.ipynb", "data/notes.txt"]  # the link is not followed
    write_submission(submission, tmp_path / "arrived")
    assert (tmp_path / "arrived" / "data" / "notes.txt").read_bytes() == bytes(range(256))
    with pytest.raises(ValueError, match="arrived damaged"):
        write_submission(replace(submission, files={**submission.files, "01-data.ipynb": b"[]"}), tmp_path / "x")
    escaping = read_submission(folder, "ada")
    escaping.files["../outside"] = b""
    with pytest.raises(ValueError, match="outside its folder"):
        write_submission(replace(escaping, sha256=submission_digest(escaping.files)), tmp_path / "y")
    with pytest.raises(SubmissionTooLarge, match="more than 0 MB"):
        read_submission(folder, "ada", max_bytes=100)


def test_a_worker_with_another_environment_is_named(monkeypatch):
    coordinator = environment()
    assert mismatch(coordinator, dict(coordinator)) is None
    assert "numpy 1.0.0 (coordinator: " in mismatch(coordinator, {**coordinator, "numpy": "1.0.0"})


def test_the_journal_keeps_what_is_still_valid_and_survives_a_cut_line(tmp_path):
    path = tmp_path / "grades" / "a.journal.jsonl"
    basis = Basis("sub", "files", "grader")
    with Journal(path, resume=False) as journal:
        journal.append(basis, Outcome("ada", Status.GRADED.value, "", "{}"))
        journal.append(basis, Outcome("bob", Status.GRADER_ERROR.value, "broke"))
        journal.append(basis, Outcome("cyd", Status.TIMED_OUT.value, "cell 3"))
    with path.open("a") as file:
        file.write(json.dumps({"student": "dee", "submission": "sub"})[:20])  # killed mid-write
    with Journal(path, resume=True) as journal:
        done = journal.finished({"ada": basis, "bob": basis, "cyd": replace(basis, submission="changed")})
        assert done == {"ada": Outcome("ada", Status.GRADED.value, "", "{}")}  # bob: grader error; cyd: changed
        journal.append(basis, Outcome("bob", Status.GRADED.value, "", "{}"))
    assert [student for student, _, _ in read_journal(path)] == ["ada", "bob", "cyd", "bob"]
    with Journal(path, resume=False):
        pass
    assert read_journal(path) == []  # a new run, without --resume, starts a new journal


def _append_then_die(path: str, count: int) -> None:
    journal = Journal(Path(path), resume=False, sync_interval=3600.0)
    for i in range(count):
        journal.append(Basis("sub", "files", "grader"), Outcome(f"s{i:03d}", Status.GRADED.value, "", "{}"))
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no fsync after the first line


def test_the_journal_groups_its_fsyncs_and_a_killed_coordinator_loses_no_line(tmp_path):
    path = tmp_path / "a.journal.jsonl"
    with Journal(path, resume=False, sync_interval=3600.0) as journal:
        for i in range(200):
            journal.append(Basis("sub", "files", "grader"), Outcome(f"s{i:03d}", Status.GRADED.value, "", "{}"))
            assert len(read_journal(path)) == i + 1  # on its way to the disk as soon as it arrives
        assert journal.syncs == 1  # when it opened: the 200 outcomes came within one interval
    assert journal.syncs == 2  # and when it closed
    with Journal(path, resume=False, sync_interval=0.0) as journal:
        for i in range(3):
            journal.append(Basis("sub", "files", "grader"), Outcome(f"s{i}", Status.GRADED.value, "", "{}"))
        assert journal.syncs == 4  # an interval of 0: one per outcome

    child = multiprocessing.get_context("fork").Process(target=_append_then_die, args=(str(path), 50))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    assert [student for student, _, _ in read_journal(path)] == [f"s{i:03d}" for i in range(50)]
