"""The fork server: a forked kernel is the kernel a fresh interpreter would have been, the server never
holds the answer key, and its failures are the grader's, never the student's.

(tests/test_sandbox.py runs every sandbox test against forked and exec'd kernels.)
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nnlab_instructor.grading.sandbox import Limits, execute_notebook, forking
from nnlab_instructor.grading.sandbox.kernel import _server_env

pytestmark = pytest.mark.slow

FAST = dict(cell_timeout=20, notebook_timeout=40, interrupt_grace=1.5, startup_timeout=30)

# What a kernel can observe of how it was started: its command line, paths, environment, folders, user,
# privileges, rlimits, signal dispositions, open descriptors, the modules __main__ and random state.
PROBE = r"""
import ctypes, json, os, random, resource, signal, sys, tempfile
import IPython, matplotlib, numpy as np
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
targets = []
for fd in sorted(os.listdir("/proc/self/fd"), key=int)[1:]:  # not stdin: /dev/null forked, a pipe exec'd
    try:
        targets.append(os.readlink(f"/proc/self/fd/{fd}").split(":")[0])
    except OSError as exc:
        targets.append(type(exc).__name__)
print(json.dumps({
    "argv": sys.argv, "path": sys.path, "cwd": os.getcwd(), "env": dict(os.environ),
    "tmp": tempfile.gettempdir(), "mplconfig": matplotlib.get_configdir(), "mplcache": matplotlib.get_cachedir(),
    "profile": IPython.get_ipython().profile_dir.location, "flags": list(sys.flags),
    "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), os.getpid()],
    "status": {k: status[k].strip() for k in ("NoNewPrivs", "Seccomp", "CapEff", "CapPrm", "CapAmb")},
    "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0), "umask": os.umask(0o022),
    "rlimits": {n: resource.getrlimit(getattr(resource, n)) for n in sorted(dir(resource)) if n.startswith("RLIMIT_")},
    "signals": {
        s.name: str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE)
    },
    "fds": targets, "main": getattr(sys.modules["__main__"], "__file__", type(sys.modules["__main__"]).__name__),
    "answer_key": "nnlab_instructor.reference" in sys.modules,
    "random": [random.random(), float(np.random.rand())],
}))
"""


def probe(workdir: Path, fork: bool) -> dict:
    report = execute_notebook(new_notebook(cells=[new_code_cell(PROBE)]), workdir, Limits(**FAST, fork_kernels=fork))
    assert report.status == "completed", report.detail
    seen = json.loads(report.notebook.cells[0].outputs[0]["text"])
    # each kernel has its own sandbox folder: compare the rest
    sandbox = str(Path(seen["env"]["JUPYTER_RUNTIME_DIR"]).parent)
    seen = json.loads(json.dumps(seen).replace(sandbox, "<sandbox>"))
    seen["notes"] = report.isolation.notes
    seen["fds"] = sorted(seen["fds"])  # ipykernel's threads open theirs in no set order
    return seen


def test_a_forked_kernel_is_the_kernel_a_fresh_interpreter_would_have_been(tmp_path: Path):
    exec_d, forked, forked_again = probe(tmp_path, False), probe(tmp_path, True), probe(tmp_path, True)
    # every kernel draws its own random numbers (a fork would otherwise copy the server's generators)
    draws = [exec_d.pop("random"), forked.pop("random"), forked_again.pop("random")]
    assert len({x for draw in draws for x in draw}) == 6, draws
    assert forked["tmp"] == "<sandbox>/k/tmp" and forked["mplconfig"] == "<sandbox>/k/matplotlib"
    assert forked["profile"] == "<sandbox>/k/ipython/profile_default"
    assert forked["cwd"] == str(tmp_path.resolve()) and forked["env"]["HOME"] == forked["cwd"]
    assert "" in forked["path"] and forked["argv"][0].endswith("ipykernel_launcher.py")
    assert forked["answer_key"] is False and forked["status"]["NoNewPrivs"] == "1"
    assert not any("fresh interpreter" in note for note in forked["notes"]), forked["notes"]
    for name in exec_d:
        assert forked[name] == exec_d[name], f"{name}: forked {forked[name]!r}, exec'd {exec_d[name]!r}"
        assert forked_again[name] == exec_d[name], name


def test_the_fork_server_never_holds_the_answer_key():
    env = _server_env(Limits())
    with pytest.raises(forking.ForkServerError, match=r"nnlab_instructor\.reference was imported"):
        forking.ForkServer(["nnlab_instructor.reference"], env)
    # what a grading kernel's server imports (the grader's link to the kernel, the set-up's modules) is fine
    server = forking.ForkServer(["nnlab_instructor.grading.kernel_link", "nnlab.data", "nnlab.plots"], env)
    try:
        assert server.alive()
    finally:
        server.close()
    assert not server.alive() and not Path(server.folder).exists()


def test_a_kernel_whose_server_died_is_the_graders_error_not_the_students(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(forking, "_servers", {})
    nb = new_notebook(cells=[new_code_cell("print('first')"), new_code_cell("import time\ntime.sleep(15)")])

    def kill_the_server():
        deadline = time.monotonic() + 30
        while not forking._servers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3)  # the first cell has run, the second sleeps
        for server in forking._servers.values():
            server.process.kill()

    killer = threading.Thread(target=kill_the_server)
    killer.start()
    with pytest.raises(forking.ForkServerError, match="the fork server died, and the kernel with it"):
        execute_notebook(nb, tmp_path, Limits(**FAST))
    killer.join()
    # the next kernel gets a new server
    report = execute_notebook(new_notebook(cells=[new_code_cell("print('again')")]), tmp_path, Limits(**FAST))
    assert report.status == "completed" and report.notebook.cells[0].outputs[0]["text"] == "again\n"


def test_without_a_fork_server_kernels_are_exec_d_and_the_report_says_why(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(forking, "_servers", {})
    monkeypatch.setattr(forking, "_failures", {})
    monkeypatch.setattr(forking, "FORK_SERVER", tmp_path / "missing.py")
    report = execute_notebook(new_notebook(cells=[new_code_cell("print('ran')")]), tmp_path, Limits(**FAST))
    assert report.status == "completed" and report.notebook.cells[0].outputs[0]["text"] == "ran\n"
    notes = [n for n in report.isolation.notes if n.startswith("kernel started as a fresh interpreter")]
    assert len(notes) == 1 and "the fork server" in notes[0] and "missing.py" in notes[0], report.isolation.notes
