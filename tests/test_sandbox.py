"""nnlab_instructor.grading.sandbox: each fault stays with its cell, and the report says what was enforced.

Every test runs real kernels with small limits. Where this machine lacks a feature (namespaces, root),
the test asserts that the report says it was not enforced instead of skipping.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import socket
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nnlab_instructor.grading.sandbox import (
    MB,
    Isolation,
    Limits,
    SandboxKernelManager,
    drop_warning_streams,
    execute_notebook,
)

FAST = dict(cell_timeout=20, notebook_timeout=40, interrupt_grace=1.5, startup_timeout=30)

# Real kernels in the sandbox.
pytestmark = pytest.mark.slow


@pytest.fixture(params=[True, False], ids=["forked", "exec"])
def kernel_start(request, monkeypatch):
    """Every test of a kernel (they take ``workdir``) runs against both ways of starting one: forked by
    the fork server (the default) and a fresh interpreter exec'd by the launcher (``Limits.fork_kernels``
    False, and wherever no fork server can run): the sandbox must hold the same either way."""
    monkeypatch.setitem(FAST, "fork_kernels", request.param)
    return request.param


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(src) for src in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def text_of(cell) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.get("output_type") == "stream")


def enames(cell) -> list[str]:
    return [out["ename"] for out in cell.outputs if out.get("output_type") == "error"]


@pytest.fixture
def workdir(tmp_path: Path, kernel_start: bool) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def run(nb, workdir, **limits):
    report = execute_notebook(nb, workdir, Limits(**{**FAST, **limits}))
    # no file of the sandbox is left behind, and the working copy is given back to its owner
    assert report.wall_time < 20, report.wall_time
    for path in [workdir, *workdir.rglob("*")]:
        assert path.lstat().st_uid == os.getuid(), path
    return report


def test_normal_notebook_completes_with_outputs(workdir: Path, monkeypatch):
    monkeypatch.setenv("NNLAB_TEST_TOKEN", "secret")
    monkeypatch.setenv("PYTHONPATH", "/nowhere")
    monkeypatch.setenv("MNIST_DIR", str(workdir))
    (workdir / "data.txt").write_text("42")
    nb = notebook(
        "import os, numpy as np\nprint(open('data.txt').read())\nnp.arange(3) * 2",
        "import sys\nraise ValueError('student bug')",
        "with np.errstate(over='warn'):\n    np.exp(np.float64(1000))\nprint('after the warning')",
        "import json\nwith open('written.txt', 'w') as f:\n    f.write('from the kernel')\n"
        "print(os.environ['HOME'] == os.getcwd())\nprint(json.dumps(sorted(os.environ)))",
    )
    nb.cells.insert(1, new_markdown_cell("prose"))
    original = json.dumps(nb)
    report = run(nb, workdir)

    assert report.status == "completed" and report.completed and report.cell_index is None
    assert json.dumps(nb) == original, "the input notebook is not modified"
    cells = report.notebook.cells
    assert text_of(cells[0]) == "42\n"
    assert cells[0].outputs[-1]["data"]["text/plain"] == "array([0, 2, 4])"
    assert [c.status for c in report.cells] == ["ok", "skipped", "error", "ok", "ok"]
    assert report.cells[2].ename == "ValueError" and enames(cells[2]) == ["ValueError"]
    # stderr is recorded apart; a warnings-only stderr output can be dropped so it cannot zero the cell
    assert "RuntimeWarning: overflow encountered in exp" in report.cells[3].stderr
    assert any(out.get("name") == "stderr" for out in cells[3].outputs)
    assert drop_warning_streams(report.notebook) == 1
    assert [out.get("name") for out in cells[3].outputs] == ["stdout"]
    # cwd and HOME are the working copy; the environment is scrubbed
    assert (workdir / "written.txt").read_text() == "from the kernel"
    home_is_cwd, env_json = text_of(cells[4]).splitlines()
    assert home_is_cwd == "True"
    env_names = json.loads(env_json)
    # MNIST_DIR too: the kernel's data is the package's built-in MNIST, whatever the grader's environment says
    assert "NNLAB_TEST_TOKEN" not in env_names and "PYTHONPATH" not in env_names and "MNIST_DIR" not in env_names
    assert {"HOME", "PATH"} <= set(env_names)
    assert report.kernel_exit is None
    assert isinstance(report.isolation, Isolation) and report.isolation.summary()
    assert report.isolation.rlimits["RLIMIT_CORE"] == 0
    assert json.loads(json.dumps(report.to_dict()))["status"] == "completed"


def test_infinite_loop_ignoring_sigint_is_killed(workdir: Path):
    nb = notebook(
        "print('before')",
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "print('looping', flush=True)\nwhile True:\n    pass",
        "print('after')",
    )
    nb.cells[1].metadata["nbgrader"] = {"grade_id": "test_loop", "grade": True, "points": 1}
    start = time.monotonic()
    report = run(nb, workdir, cell_timeout=2)
    elapsed = time.monotonic() - start

    assert report.status == "timed out" and report.cell_index == 1 and report.cell_name == "test_loop"
    assert report.detail == (
        "cell 1 (test_loop) ran for more than 2 s; the kernel ignored the interrupt and was killed"
    )
    assert report.kernel_exit == "killed by the sandbox"
    assert [c.status for c in report.cells] == ["ok", "timed out", "not run"]
    cells = report.notebook.cells
    assert text_of(cells[0]) == "before\n"
    assert "looping" in text_of(cells[1]) and enames(cells[1]) == ["CellTimeoutError"]
    assert enames(cells[2]) == ["NotRun"] and cells[2].execution_count is None
    assert elapsed < 2 + 1.5 + 8


def test_interruptible_timeout_keeps_going(workdir: Path):
    nb = notebook("import time\nwhile True:\n    time.sleep(0.01)", "print('next cell runs')")
    report = run(nb, workdir, cell_timeout=1.5)
    assert report.status == "timed out" and report.cell_index == 0
    assert report.detail == "cell 0 ran for more than 1.5 s; it was interrupted"
    assert [c.status for c in report.cells] == ["timed out", "ok"]
    assert "KeyboardInterrupt" in enames(report.notebook.cells[0])
    assert text_of(report.notebook.cells[1]) == "next cell runs\n"


def test_notebook_budget_stops_execution(workdir: Path):
    nb = notebook("import time\ntime.sleep(1.5)", "time.sleep(1.5)", "print('never')")
    report = run(nb, workdir, cell_timeout=10, notebook_timeout=2.5)
    assert report.status == "timed out" and report.cell_index == 1
    assert report.detail.startswith("the notebook's time budget of 2.5 s ran out during cell 1")
    assert [c.status for c in report.cells] == ["ok", "timed out", "not run"]


def test_memory_bomb_is_out_of_memory_in_its_cell(workdir: Path):
    nb = notebook(
        "print('before')",
        "x = bytearray(10**11)",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 10**6))",
        "del chunks\nprint('still alive')",
    )
    report = run(nb, workdir, memory_bytes=768 * 2**20)  # an idle kernel reserves ~220 MB
    assert report.isolation.rlimits["RLIMIT_AS"] == 768 * 2**20
    assert report.status == "out of memory" and report.cell_index == 1
    assert "ran out of memory (MemoryError" in report.detail
    assert [c.status for c in report.cells] == ["ok", "out of memory", "out of memory", "ok"]
    assert text_of(report.notebook.cells[3]) == "still alive\n"


def test_kernel_exit_is_kernel_died_and_keeps_earlier_outputs(workdir: Path):
    nb = notebook("print('kept')", "import os\nos._exit(1)", "print('not run')")
    report = run(nb, workdir)
    assert report.status == "kernel died" and report.cell_index == 1
    assert report.kernel_exit == "exit code 1"
    assert report.detail == "the kernel died while running cell 1 (exit code 1)"
    assert [c.status for c in report.cells] == ["ok", "kernel died", "not run"]
    assert text_of(report.notebook.cells[0]) == "kept\n"
    assert enames(report.notebook.cells[1]) == ["DeadKernelError"]
    assert enames(report.notebook.cells[2]) == ["NotRun"]


def test_segfault_is_kernel_died(workdir: Path):
    nb = notebook("print('kept')", "import ctypes\nctypes.string_at(0)")
    report = run(nb, workdir)
    assert report.status == "kernel died" and report.cell_index == 1
    assert report.kernel_exit == "signal SIGSEGV"
    assert text_of(report.notebook.cells[0]) == "kept\n"
    assert "Segmentation fault" in report.kernel_log  # faulthandler's account, kept for the instructor
    assert not list(workdir.glob("core*"))


def test_huge_output_is_capped(workdir: Path):
    nb = notebook(
        "print('x' * 10_000_000)",
        "for i in range(3000):\n    print(i, 'y' * 100)",
        "print('small')",
    )
    report = run(nb, workdir, max_output_bytes=20_000)
    assert report.status == "completed"
    first, second, third = report.notebook.cells
    text = text_of(first)
    marker = re.search(r"\[output truncated: (\d+) bytes\]\n$", text)
    assert marker and int(marker.group(1)) == 10_000_001 - 20_000
    assert len(text) < 20_100 and report.cells[0].truncated_bytes == 10_000_001 - 20_000
    assert len(text_of(second)) < 20_100 and "[output truncated: " in text_of(second)
    assert len(second.outputs) == 1  # the stream messages are merged
    assert text_of(third) == "small\n" and report.cells[2].truncated_bytes == 0
    assert len(nbformat.writes(report.notebook)) < 60_000


def _alive(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "no-namespaces"])
def test_detached_child_is_killed_with_the_kernel(workdir: Path, namespaces: bool):
    marker = f"nnlab-orphan-{uuid.uuid4().hex}"
    nb = notebook(
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', '{marker}'],\n"
        "                         start_new_session=True)\n"
        "time.sleep(0.3)\nprint('alive' if child.poll() is None else 'dead')",
        "import os\nprint(os.getsid(child.pid) != os.getsid(0))",
    )
    report = run(nb, workdir, namespaces=namespaces)
    assert report.status == "completed"
    assert text_of(report.notebook.cells[0]) == "alive\n"
    assert text_of(report.notebook.cells[1]) == "True\n"  # it really left the kernel's session
    assert _alive(marker) == []
    if report.isolation.pid_namespace:
        assert report.isolation.orphan_cleanup.startswith("PID namespace")
        assert report.isolation.private_proc
    else:
        assert report.isolation.orphan_cleanup.startswith("child subreaper")
        assert "processes: child subreaper" in report.isolation.summary()
    if not namespaces:
        assert "namespaces not used: Limits.namespaces is False" in report.isolation.notes
        assert not (report.isolation.network_namespace or report.isolation.mount_namespace)
        assert "network: NOT isolated" in report.isolation.summary()


def test_file_size_limit(workdir: Path):
    nb = notebook(
        "try:\n"
        "    with open('big.bin', 'wb') as f:\n"
        "        for _ in range(100):\n"
        "            f.write(b'0' * 10**6)\n"
        "except OSError as exc:\n"
        "    print('refused:', exc.errno, exc.strerror)",
    )

    async def from_a_running_event_loop():  # e.g. called from async grading code or a notebook
        return execute_notebook(nb, workdir, Limits(**FAST, file_size_bytes=10 * MB))

    report = asyncio.run(from_a_running_event_loop())
    assert report.isolation.rlimits["RLIMIT_FSIZE"] == 10 * MB
    assert text_of(report.notebook.cells[0]) == "refused: 27 File too large\n"
    assert (workdir / "big.bin").stat().st_size <= 10 * MB
    assert max(p.stat().st_size for p in workdir.rglob("*") if p.is_file()) <= 10 * MB


PROBE_NETWORK = """\
import socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
    print('connected')
except OSError as exc:
    print('blocked', type(exc).__name__)
"""


def test_network_is_cut_when_namespaces_allow(workdir: Path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    try:
        cut = run(notebook(PROBE_NETWORK.format(port=port)), workdir)
        allowed = run(notebook(PROBE_NETWORK.format(port=port)), workdir, network=True)
    finally:
        server.close()
    # the probe works: with the network allowed, the kernel reaches the server
    assert text_of(allowed.notebook.cells[0]) == "connected\n"
    assert not allowed.isolation.network_namespace
    if cut.isolation.network_namespace:
        assert text_of(cut.notebook.cells[0]).startswith("blocked")
        assert "network: isolated" in cut.isolation.summary()
    else:
        assert "network: NOT isolated" in cut.isolation.summary()
        assert any(note.startswith("net namespace not available") for note in cut.isolation.notes)


def test_student_cannot_read_root_only_files(tmp_path: Path, workdir: Path):
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir(mode=0o700)
    (secret_dir / "answers.txt").write_text("the hidden answers")
    os.chmod(secret_dir / "answers.txt", 0o600)
    nb = notebook(
        "import os\nprint(os.getuid())",
        *(
            f"try:\n    print(open({str(p)!r}).read()[:20])\n"
            "except OSError as exc:\n    print('refused', type(exc).__name__)"
            for p in (secret_dir / "answers.txt", "/etc/shadow")
        ),
        "open('mine.txt', 'w').write('ok'); print(open('mine.txt').read())",
    )
    report = run(nb, workdir)
    cells = report.notebook.cells
    assert text_of(cells[3]) == "ok\n"  # its own working copy stays writable
    if os.geteuid() == 0 and report.isolation.user:
        assert report.isolation.user == "nobody (uid 65534)"
        assert text_of(cells[0]) == "65534\n"
        assert text_of(cells[1]).startswith("refused")
        assert text_of(cells[2]).startswith("refused")
        assert report.isolation.no_new_privs
    else:
        assert "NOT dropped" in report.isolation.summary()
        assert any(note.startswith("privileges not dropped") for note in report.isolation.notes)


def test_hidden_course_folders_and_private_tmp(tmp_path: Path, kernel_start: bool):
    """The grader's own user (run_as=None), no private /tmp: only hide_paths hides the course,
    while the working copy inside it is bound back."""
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "source" / "ps1" / "ps1.ipynb").write_text("hidden tests")
    (course / "gradebook.db").write_text("grades")
    work = course / "autograded" / "alice" / "ps1"
    work.mkdir(parents=True)
    (work / "given.txt").write_text("given")
    nb = notebook(
        "import os\nprint(os.listdir('.'))\nprint(os.path.exists(" + repr(str(course / "source")) + "))",
        "print(sorted(os.listdir(" + repr(str(course)) + ")))",
    )
    report = run(nb, work, run_as=None, private_tmp=False, hide_paths=(str(course),))
    cells = report.notebook.cells
    assert text_of(cells[0]).splitlines()[0] == "['given.txt']"
    if report.isolation.mount_namespace:
        assert report.isolation.hidden_paths == [str(course)]
        assert text_of(cells[0]).splitlines()[1] == "False"
        assert text_of(cells[1]) == "['autograded']\n"
        assert report.isolation.private_tmp == []
    else:
        assert report.isolation.hidden_paths == []
        assert any("mnt namespace" in n or "mount isolation" in n for n in report.isolation.notes)
    assert "NOT dropped" in report.isolation.summary()
    # with the default private /tmp, what the kernel writes to /tmp never reaches the real /tmp
    marker = f"nnlab-tmp-{uuid.uuid4().hex}"
    report = run(notebook(f"open('/tmp/{marker}', 'w').write('x')\nprint('wrote')"), work)
    leaked = Path("/tmp", marker)
    try:
        assert text_of(report.notebook.cells[0]) == "wrote\n"
        assert leaked.exists() is (not report.isolation.private_tmp)
    finally:
        leaked.unlink(missing_ok=True)
    if report.isolation.private_tmp:
        assert report.isolation.private_tmp == ["/tmp", "/var/tmp", "/dev/shm"]


def test_the_kernel_sees_the_system_what_it_imports_and_its_working_copy_only(workdir: Path):
    """Another checkout of the course, world-readable outside /tmp (as instructors' clones are), is out
    of the student's sight, though nobody named it in hide_paths; numpy and nnlab still import."""
    repo = Path(__file__).resolve().parents[1]
    # At the top of the file system when we may (root, as the grader runs): readable by anyone, outside
    # the private /tmp, wherever this clone lives; else beside the repository.
    top = Path("/") if os.geteuid() == 0 else repo / "out"
    other = top / f"nnlab-other-checkout-{uuid.uuid4().hex}"
    (other / "source").mkdir(parents=True)
    secret = other / "source" / "hidden-tests.ipynb"
    secret.write_text("### BEGIN HIDDEN TESTS")
    for path in (other, other / "source", secret):
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        nb = notebook(
            "import os, numpy, nnlab.data\n"
            f"print(os.path.exists({str(secret)!r}), os.path.exists({str(repo / 'pyproject.toml')!r}))\n"
            "print(os.path.exists('/etc/passwd'), len(nnlab.data.load_mnist()))",
        )
        report = run(nb, workdir)
        lines = text_of(report.notebook.cells[0]).splitlines()
        assert lines[-1] == "True 10000", lines  # the system and the built-in data are there
        if report.isolation.mount_namespace:
            assert lines[0] == "False False", f"the kernel sees files outside the system: {lines}"
            # and it is system_only that hides them: without it, the other checkout is readable
            seen = text_of(run(nb, workdir, system_only=False).notebook.cells[0]).splitlines()
            assert seen[0].split()[0] == "True", seen
        else:
            assert any("mnt namespace" in n or "mount isolation" in n for n in report.isolation.notes)
    finally:
        secret.unlink()
        (other / "source").rmdir()
        other.rmdir()


def test_kernel_manager_works_as_nbclient_kernel_manager_class(workdir: Path):
    from nbclient import NotebookClient

    nb = notebook("import os\nprint(os.getuid(), os.getcwd())")
    client = NotebookClient(
        nb, kernel_manager_class=SandboxKernelManager, timeout=20, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    uid, cwd = text_of(nb.cells[0]).split()
    assert cwd == str(workdir.resolve())
    assert uid in {"65534", str(os.getuid())}  # nobody where privileges can be dropped
    assert not list(Path(workdir).glob(".ipython"))  # IPython's files live in the sandbox's own folder
    assert workdir.stat().st_uid == os.getuid()


def test_kernel_that_cannot_start_is_reported(workdir: Path):
    report = run(notebook("print('hi')", "print('ho')"), workdir, memory_bytes=20 * MB)
    assert report.status == "failed to start" and report.cell_index is None
    assert report.detail.startswith("the kernel failed to start")
    assert [c.status for c in report.cells] == ["not run", "not run"]
    assert enames(report.notebook.cells[0]) == ["NotRun"]


def test_drop_warning_streams_only_drops_pure_warnings():
    nb = notebook("a", "b", "c")
    warn = (
        "/home/s/nb.py:3: RuntimeWarning: overflow encountered in exp\n  return 1 / (1 + np.exp(-z))\n"
        "RuntimeWarning: divide by zero encountered in log\n"
    )
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=warn),
        nbformat.v4.new_output("stream", name="stdout", text="ok\n"),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stderr", text=warn + "Traceback: boom\n")]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stderr", text="just a message\n")]
    assert drop_warning_streams(nb) == 1
    assert [o.name for o in nb.cells[0].outputs] == ["stdout"]
    assert len(nb.cells[1].outputs) == 1 and len(nb.cells[2].outputs) == 1


# -- no user namespaces for the student ---------------------------------------------------------------

# In the kernel (a multithreaded process): without the filter, unshare(CLONE_NEWUSER) fails with EINVAL.
UNSHARE_IN_KERNEL = """\
import ctypes, os, sys
if sys.version_info >= (3, 12):
    try:
        os.unshare(os.CLONE_NEWUSER)
        print('unshare errno 0')
    except OSError as exc:
        print('unshare errno', exc.errno)
else:
    libc = ctypes.CDLL(None, use_errno=True)
    print('unshare errno', ctypes.get_errno() if libc.unshare(0x10000000) != 0 else 0)
"""

# In single-threaded child processes, where it would work: unshare(1), unshare and raw clone through
# ctypes (clone with CLONE_NEWUSER | SIGCHLD forks like fork() when it succeeds), clone3.
CHILD_PROBE = """\
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
def errno_of(result):
    return ctypes.get_errno() if result < 0 else 0
print('unshare', errno_of(libc.unshare(0x10000000)))
pid = libc.syscall({'x86_64': 56, 'aarch64': 220}[platform.machine()], 0x10000000 | 17, 0, 0, 0, 0)
if pid == 0:
    os._exit(0)
if pid > 0:
    os.waitpid(pid, 0)
print('clone', errno_of(pid))
print('clone3', errno_of(libc.syscall(435, None, 0)))
"""

USER_NAMESPACE_PROBES = (
    UNSHARE_IN_KERNEL,
    "print('next cell runs')",
    "import subprocess, sys\n"
    "r = subprocess.run(['unshare', '--user', 'true'], capture_output=True, text=True)\n"
    "print('unshare --user exit', r.returncode)\n"
    f"print(subprocess.run([sys.executable, '-c', {CHILD_PROBE!r}], capture_output=True, text=True).stdout, end='')",
    # what must keep working: numpy, threads (clone/clone3), subprocess (vfork/posix_spawn), fork
    "import threading, subprocess, os, sys\nimport numpy as np\n"
    "box = []\nthreads = [threading.Thread(target=lambda: box.append(float(np.ones(3).sum()))) for _ in range(4)]\n"
    "[t.start() for t in threads]; [t.join() for t in threads]\n"
    "print('threads', box)\n"
    "print('true exit', subprocess.run(['true']).returncode)\n"
    "print(subprocess.run([sys.executable, '-c', 'import os; pid = os.fork(); os._exit(0) if pid == 0 else "
    "print(\"fork\", os.waitpid(pid, 0)[1])'], capture_output=True, text=True).stdout, end='')",
)


def _seccomp_expected() -> bool:
    """A Linux kernel with seccomp on a machine the launcher has a filter for."""
    status = Path("/proc/self/status")
    return platform.machine() in {"x86_64", "aarch64"} and status.exists() and "Seccomp:" in status.read_text()


@pytest.mark.parametrize(
    "limits",
    [{}, {"namespaces": False, "run_as": None}],
    ids=["sandbox-user", "grader-user-no-namespaces"],
)
def test_user_namespaces_are_refused(workdir: Path, limits: dict):
    report = run(notebook(*USER_NAMESPACE_PROBES), workdir, **limits)
    assert report.status == "completed", report.detail
    assert [c.status for c in report.cells] == ["ok"] * 4
    kernel, following, children, working = (text_of(cell) for cell in report.notebook.cells)
    assert following == "next cell runs\n"
    # everything else works, with or without the filter
    assert working == "threads [3.0, 3.0, 3.0, 3.0]\ntrue exit 0\nfork 0\n"
    iso = report.isolation
    if not _seccomp_expected():
        assert not iso.user_namespaces_blocked
        assert "user namespaces: NOT refused" in iso.summary()
        assert any(note.startswith("user namespaces not refused: ") for note in iso.notes), iso.notes
        return
    assert iso.user_namespaces_blocked, iso.notes
    assert "user namespaces: refused (seccomp)" in iso.summary()
    assert not any(note.startswith("user namespaces") for note in iso.notes)
    assert kernel == "unshare errno 1\n"  # EPERM
    assert children == "unshare --user exit 1\nunshare 1\nclone 1\nclone3 38\n"  # EPERM, EPERM, ENOSYS


def _run_bpf(program: list[tuple[int, int, int, int]], nr: int, arch: int, flags: int) -> int:
    """What the filter returns for one system call (the few classic BPF instructions it uses)."""
    data = {0: nr, 4: arch, 16: flags & 0xFFFFFFFF, 20: flags >> 32}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x06:  # ret
            return k
        if code == 0x20:  # ld [k]
            acc, pc = data[k], pc + 1
            continue
        taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
        pc += 1 + (jt if taken else jf)


@pytest.mark.parametrize(
    "machine, arch, unshare, clone",
    [("x86_64", 0xC000003E, 272, 56), ("aarch64", 0xC00000B7, 97, 220)],
    ids=["x86_64", "aarch64"],
)
def test_user_namespace_filter_decisions(machine: str, arch: int, unshare: int, clone: int):
    from nnlab_instructor.grading.sandbox import launcher

    assert launcher.user_namespace_filter("sparc64") is None
    program = launcher.user_namespace_filter(machine)
    assert program is not None
    allow, eperm, enosys, kill = 0x7FFF0000, 0x00050001, 0x00050026, 0x80000000
    newuser, thread = 0x10000000, 0x003D0F00  # CLONE_NEWUSER; CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|...
    assert _run_bpf(program, unshare, arch, newuser) == eperm
    assert _run_bpf(program, unshare, arch, newuser | 0x00020000) == eperm
    assert _run_bpf(program, unshare, arch, (1 << 40) | newuser) == eperm  # the high bits do not hide it
    assert _run_bpf(program, unshare, arch, 0x00020000) == allow
    assert _run_bpf(program, clone, arch, newuser | 17) == eperm
    assert _run_bpf(program, clone, arch, thread) == allow
    assert _run_bpf(program, clone, arch, 17) == allow  # fork
    assert _run_bpf(program, 435, arch, 0) == enosys  # clone3
    assert _run_bpf(program, 0, arch, newuser) == allow  # another system call with the same bit set
    assert _run_bpf(program, unshare, 0x40000003, newuser) == kill  # 32-bit code (i386) is not let through
    if machine == "x86_64":
        assert _run_bpf(program, 0x40000000 | unshare, arch, newuser) == enosys  # x32
