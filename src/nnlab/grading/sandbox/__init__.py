"""Run one student notebook in a sandboxed ipykernel: faults stay with their student and their cell.

:func:`execute_notebook` runs the code cells of a notebook in a fresh ipykernel of this interpreter
(``sys.executable -m ipykernel_launcher``) and returns an :class:`ExecutionReport`. The grading command
runs one worker process per student and calls it once per notebook; the notebook is passed in memory,
so a notebook holding hidden tests is never written where the student's code could read it.

What happens to a faulty notebook
---------------------------------
- **Infinite loop**: a cell running longer than ``Limits.cell_timeout`` is interrupted (SIGINT). If the
  kernel answers within ``Limits.interrupt_grace`` the cell is recorded as timed out and execution goes on;
  if it does not (SIGINT ignored, stuck in C code) the whole sandbox is killed with SIGKILL, the cell is
  recorded as timed out and the remaining cells as not run. ``Limits.notebook_timeout`` bounds the whole
  notebook the same way (and then execution always stops). A CPU-time rlimit is a last-resort backstop.
- **Memory bomb**: ``RLIMIT_AS`` (address space) on the kernel, so ``MemoryError`` is raised in the cell
  ("out of memory", the kernel lives on and the next cells run). A kernel killed by SIGKILL that the
  sandbox did not send (the OOM killer) is also reported as "out of memory".
  ``MALLOC_ARENA_MAX=2`` and one BLAS/OpenMP thread keep the kernel's own address space small: an idle
  kernel with numpy, scipy, sklearn and matplotlib loaded reserves ~0.55 GB (~1.2 GB without them), so
  the default 2 GiB leaves ~1.5 GB to the student. cgroups are not used (see caveats).
- **Kernel death** (``os._exit``, segfault): recorded as "kernel died" at that cell, with the exit code or
  signal; earlier cells keep their outputs, later cells are recorded as not run.
- **Huge outputs**: each cell keeps at most ``Limits.max_output_bytes`` of output (streams are merged and
  cut, rich outputs that do not fit are dropped) followed by ``[output truncated: N bytes]`` (N = bytes
  left out). Error outputs are always kept (cut to the same size). The executed notebook, hence the
  feedback generated from it, stays small.
- **Processes left behind**: the kernel is the init process of its own PID namespace, so every process it
  starts (even with ``start_new_session=True``/``setsid``, which escapes the process group) is killed
  by the Linux kernel when the sandbox is torn down. Without PID namespaces, a root-owned supervisor
  that is the kernel's parent and a child subreaper (PR_SET_CHILD_SUBREAPER) collects and kills orphans.
- **Files**: ``RLIMIT_FSIZE`` makes writes past ``Limits.file_size_bytes`` fail with
  ``OSError: [Errno 27] File too large`` (Python ignores SIGXFSZ). Core dumps are disabled.
- Code cells that were not run, timed out or died get an error output (``NotRun``, ``CellTimeoutError``,
  ``DeadKernelError``), so nbgrader cannot award their points. Warnings printed on stderr would zero a
  correct cell under nbgrader's "stderr means failure" rule: :func:`drop_warning_streams` removes stderr
  outputs made only of Python warnings; the report keeps each cell's stderr anyway.

Isolation (what is enforced, and where)
---------------------------------------
The kernel is started by a small bootstrap (``python -I -S -c BOOTSTRAP``) that, when run as root on Linux:

1. ``unshare(CLONE_NEWNET)`` unless ``Limits.network``: the kernel sees only a loopback interface that is
   down, so any connection, even to 127.0.0.1 of the host, fails. The kernel talks to the grader over
   ZeroMQ ``ipc://`` sockets (Unix sockets in a private folder), not TCP.
2. ``unshare(CLONE_NEWPID)`` and forks: the parent stays as a root supervisor (it reaps, kills what is
   left, and records how the kernel ended); the child becomes PID 1 of the new namespace, enters a mount
   namespace of its own (``unshare(CLONE_NEWNS)``, ``/`` made rprivate so nothing propagates to the
   host), mounts a fresh ``/proc`` (other students' kernels, the grader and their environments are
   invisible), and mounts size-limited private tmpfs on ``/tmp``, ``/var/tmp``, ``/dev/shm``,
   an empty read-only tmpfs on every ``Limits.hide_paths`` entry (``/dev/null`` over files), and on any
   folder that would stop the unprivileged user from reaching the interpreter (e.g. a 0700 ``/root``
   holding a pyenv Python). Then the working copy, the kernel's runtime folder, the interpreter and the
   folders on the kernel's ``sys.path`` (virtualenv, the editable ``nnlab`` with its built-in MNIST) are bound
   back at their own paths (read-only, except the working copy and the runtime folder).
3. sets the rlimits (address space, file size, no core dumps, open files, CPU-time backstop, and
   ``RLIMIT_NPROC`` once unprivileged), chowns the working copy to the sandbox user, checks the user can
   run the interpreter, drops to that user (``Limits.run_as``, default ``nobody``; no supplementary
   groups), sets ``PR_SET_NO_NEW_PRIVS`` (no setuid escalation) and a parent-death SIGKILL, and execs
   ipykernel with ``cwd`` = the working copy and a scrubbed environment (``HOME`` = the working copy;
   only ``PATH``, ``PYTHONHASHSEED``, ``LANG``, ``LC_ALL``, ``TZ`` are passed through;
   IPython, matplotlib, Jupyter and cache folders point into the private runtime folder).

Each step that the platform refuses (not root, no namespaces, not Linux) is skipped and reported:
:class:`Isolation` in the report says exactly what was enforced, and ``Isolation.notes`` says why the
rest was not. The ownership of the working copy is given back to its owner afterwards.

Caveats (not enforced)
----------------------
- Reading: the sandbox user can read every world-readable file that is not hidden. Course folders
  must be passed in ``Limits.hide_paths`` (``source/``, ``release/``, ``submitted/``, ``autograded/``,
  ``feedback/``, ``gradebook.db``...) or be root-only (0700) for the student code not to read them.
  Without mount namespaces and as root, nothing outside the working copy is protected.
- Writing: the working copy itself has no quota (only each file's size is capped); world-writable
  folders other than ``/tmp``, ``/var/tmp``, ``/dev/shm`` stay writable by the sandbox user.
- Processes: ``RLIMIT_NPROC`` counts every process and thread of the sandbox user, so it is shared by
  all kernels running in parallel as the same user (give each worker its own ``run_as`` uid to separate
  them). No cgroup is used (the only writable cgroup hierarchy on a shared host usually belongs to the
  platform): memory is bounded by address space, not RSS; CPU is not shared fairly between workers.
- A single huge message (e.g. a 1 GB image) is received whole before being dropped; it is bounded by the
  kernel's memory limit. Student code can read earlier cells of its own notebook (``In``), including
  hidden tests that already ran; that is inherent to executing tests in the student's kernel.
- nbgrader's ``Execute`` preprocessor always passes ``kernel_manager_class=AsyncKernelManager`` to its
  constructor, so ``c.Execute.kernel_manager_class`` is ignored. A subclass doing
  ``kw.setdefault("kernel_manager_class", SandboxKernelManager)`` works (limits via
  ``c.SandboxKernelManager.limits = Limits(...)``) and gets the isolation and rlimits, but keeps
  nbclient's timeout policy (interrupt, then carry on) and has no output caps or report: the grading
  command should run :func:`execute_notebook` and hand the executed notebook to nbgrader.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import functools
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from queue import Empty
from typing import Any, cast

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from traitlets import Any as AnyTrait
from traitlets import Unicode

__all__ = [
    "TRUNCATION_MARKER",
    "CellReport",
    "ExecutionReport",
    "Isolation",
    "Limits",
    "SandboxKernelManager",
    "SandboxNotebookClient",
    "drop_warning_streams",
    "execute_notebook",
]

GiB = 1024**3
MB = 1000**2

#: Appended (on stdout) to a cell whose output was cut; ``{n}`` is the number of bytes left out.
TRUNCATION_MARKER = "[output truncated: {n} bytes]"

#: Environment variables passed through to the kernel (everything else is dropped).
ENV_KEEP = ("PATH", "PYTHONHASHSEED", "LANG", "LC_ALL", "TZ")

#: Folders given a private, size-limited tmpfs inside the sandbox.
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass(frozen=True)
class Limits:
    """Resource limits and isolation options of one sandboxed notebook run.

    ``None`` disables a limit. Sizes are in bytes, times in seconds.
    """

    # The one default of the course, for `nnlab grade`, `nnlab course` and nbgrader's own Execute
    # (nbgrader_config.py): a cell of the course trains for up to ~15 s on a busy 2-core machine.
    cell_timeout: float = 120
    notebook_timeout: float = 900
    #: time the kernel gets to answer the interrupt sent at a timeout before it is killed
    interrupt_grace: float = 5
    startup_timeout: float = 60
    #: RLIMIT_AS of the kernel (address space, not RSS; see the module docstring)
    memory_bytes: int | None = 2 * GiB
    #: RLIMIT_FSIZE: the largest file the kernel can write
    file_size_bytes: int | None = 50 * MB
    #: output kept per cell; the rest is replaced by TRUNCATION_MARKER
    max_output_bytes: int = 100_000
    #: RLIMIT_NPROC of the sandbox user (processes + threads, shared by all kernels of that user);
    #: only enforced once the kernel runs unprivileged (root ignores it)
    max_processes: int | None = 256
    max_open_files: int | None = 1024
    #: False: the kernel gets its own, empty network namespace (when the platform allows it)
    network: bool = False
    #: user the kernel runs as when the grader runs as root (name or uid); None keeps the grader's user
    run_as: str | int | None = "nobody"
    #: private tmpfs on /tmp, /var/tmp, /dev/shm (size each) when mount namespaces are available
    private_tmp: bool = True
    tmp_size_bytes: int = 64 * MB
    #: paths made invisible (empty read-only tmpfs, /dev/null over files) when mount namespaces work
    hide_paths: tuple[str, ...] = ()
    #: (path, replacement) pairs: the kernel sees the replacement, read-only, at ``path`` (a file over a
    #: file, a folder over a folder), when mount namespaces work
    replace_paths: tuple[tuple[str, str], ...] = ()
    #: extra paths bound back read-only if they are under a hidden path (the working copy, the
    #: interpreter and the kernel's sys.path are always kept)
    keep_paths: tuple[str, ...] = ()
    #: OMP/OpenBLAS/MKL threads of the kernel (None: library default)
    threads: int | None = 1
    #: False: use no Linux namespace at all (no network, PID or mount isolation; for platforms where
    #: they misbehave). Detached processes are then found through a child subreaper and /proc.
    namespaces: bool = True

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "notebook_timeout", "interrupt_grace", "startup_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be positive")
        if self.max_output_bytes < 0:
            raise ValueError("Limits.max_output_bytes must be >= 0")
        object.__setattr__(self, "hide_paths", tuple(str(p) for p in self.hide_paths))
        object.__setattr__(self, "keep_paths", tuple(str(p) for p in self.keep_paths))
        object.__setattr__(self, "replace_paths", tuple((str(t), str(r)) for t, r in self.replace_paths))


@dataclass
class Isolation:
    """What the sandbox actually enforced for one run (filled from the bootstrap's own account)."""

    network_namespace: bool = False
    pid_namespace: bool = False
    mount_namespace: bool = False
    #: a /proc of its own: the grader's and other students' processes are invisible
    private_proc: bool = False
    private_tmp: list[str] = field(default_factory=list)
    hidden_paths: list[str] = field(default_factory=list)
    #: ``"nobody (uid 65534)"`` when the kernel ran unprivileged, else None
    user: str | None = None
    no_new_privs: bool = False
    #: rlimits applied to the kernel, e.g. {"RLIMIT_AS": 2147483648, ...}
    rlimits: dict[str, int] = field(default_factory=dict)
    #: how processes left behind are killed
    orphan_cleanup: str = "process group only"
    #: why something was not enforced
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            "network: " + ("isolated (own network namespace)" if self.network_namespace else "NOT isolated"),
            "user: " + (self.user or "NOT dropped (runs as the grader's user)"),
            "processes: " + self.orphan_cleanup,
            "files: "
            + (f"private {', '.join(self.private_tmp)}" if self.private_tmp else "no private /tmp")
            + (f"; hidden: {', '.join(self.hidden_paths)}" if self.hidden_paths else ""),
            "rlimits: " + (", ".join(f"{k}={v}" for k, v in self.rlimits.items()) or "none"),
        ]
        return "; ".join(parts)


@dataclass
class CellReport:
    """Outcome of one cell. ``status``: "ok", "error" (an exception in the student's code), "out of
    memory", "timed out", "kernel died", "not run" (after a fatal fault) or "skipped" (not code/empty)."""

    index: int
    cell_id: str | None
    name: str | None  # nbgrader grade_id, if any
    status: str
    seconds: float = 0.0
    #: bytes of output left out (see TRUNCATION_MARKER)
    truncated_bytes: int = 0
    #: what the cell wrote on stderr (capped like the outputs)
    stderr: str = ""
    ename: str | None = None


@dataclass
class ExecutionReport:
    """Outcome of :func:`execute_notebook`.

    ``status`` is "completed" (every code cell ran; exceptions in the student's code are ordinary
    errors, see ``cells``), "timed out", "out of memory", "kernel died" or "failed to start". When
    execution was stopped by a fault, ``status`` is that fault; otherwise it is the first fault that the
    kernel survived (an interrupted cell, a MemoryError). ``cell_index``/``cell_id``/``cell_name`` locate it.
    """

    status: str
    cell_index: int | None
    cell_id: str | None
    cell_name: str | None
    detail: str
    notebook: NotebookNode
    wall_time: float
    isolation: Isolation
    cells: list[CellReport]
    #: how a fault ended the kernel: "exit code 1", "signal SIGSEGV", "killed by the sandbox" (a timeout);
    #: None when the kernel lived until the sandbox shut it down after the last cell
    kernel_exit: str | None = None
    #: the last lines the kernel process wrote on its own stdout/stderr (faulthandler tracebacks...)
    kernel_log: str = ""

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    def to_dict(self) -> dict[str, Any]:
        """Everything but the notebook, as plain JSON-able data."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "notebook"}


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


# --------------------------------------------------------------------------------------------------
# The bootstrap: runs as `python -I -S -c BOOTSTRAP config.json -- kernel argv...`, as the grader's user
# (root for the full isolation). Standard library only; writes what it enforced to info.json.

BOOTSTRAP = r'''
import ctypes, errno, json, os, resource, signal, sys, traceback

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 36, 38

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.unshare.argtypes = [ctypes.c_int]


def enc(s):
    return None if s is None else os.fsencode(s)


def oserr(what):
    e = ctypes.get_errno()
    return OSError(e, "%s: %s" % (what, os.strerror(e)))


def prctl(option, value):
    return libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0


def mount(src, target, fstype, flags, data=None):
    if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise oserr("mount %s" % target)


def write_json(dir_fd, name, obj):
    """Write dir/name atomically through a descriptor of dir (valid whatever gets mounted later)."""
    fd = os.open(name + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    os.rename(name + ".tmp", name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def descendants(root):
    """pids whose parent chain leads to root (read from /proc)."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read()
                parent[int(name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def kill_descendants():
    me = os.getpid()
    for _ in range(20):
        pids = descendants(me)
        if not pids:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        while True:  # reap what died
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def setup_mounts(cfg, info, pidns):
    try:
        mount("none", "/", None, MS_REC | MS_PRIVATE)
    except OSError as exc:
        info["notes"].append("mount isolation not available: %s" % exc)
        info["namespaces"].remove("mnt")
        return
    if pidns:
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            info["proc_private"] = True
        except OSError as exc:
            info["notes"].append("private /proc not mounted: %s" % exc)
    keeps = []
    for keep in sorted(cfg["keeps"], key=lambda k: k["path"].count("/")):
        try:
            fd = os.open(keep["path"], os.O_PATH)
        except OSError:
            continue
        keeps.append((keep, fd, os.path.isdir(keep["path"])))
    replacements = []
    for rep in cfg.get("replacements", []):
        try:
            replacements.append((rep["target"], os.open(rep["source"], os.O_PATH)))
        except OSError as exc:
            info["notes"].append("could not replace %s: %s" % (rep["target"], exc))
    masked = []
    for mask in sorted(cfg["masks"], key=lambda m: m["path"].count("/")):
        path = mask["path"]
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
                      "mode=%o,size=%d" % (mask["mode"], mask["size"]))
            elif os.path.isfile(path) and not os.path.islink(path):
                mount("/dev/null", path, None, MS_BIND)
            else:
                continue
        except OSError as exc:
            info["notes"].append("could not mask %s: %s" % (path, exc))
            continue
        masked.append(mask)
    bound = []
    for keep, fd, isdir in keeps:
        path = keep["path"]
        covers = [(m["path"], "mask") for m in masked if under(path, m["path"])]
        covers += [(b, "keep") for b in bound if under(path, b)]
        if not covers or max(covers, key=lambda c: len(c[0]))[1] != "mask":
            continue
        if isdir:
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        mount("/proc/self/fd/%d" % fd, path, None, MS_BIND | MS_REC)
        bound.append(path)
        if keep["ro"]:
            try:
                mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            except OSError as exc:
                info["notes"].append("%s bound back writable: %s" % (path, exc))
    for keep, fd, isdir in keeps:
        os.close(fd)
    replaced = []
    for target, fd in replacements:
        try:
            mount("/proc/self/fd/%d" % fd, target, None, MS_BIND)
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            replaced.append(target)
        except OSError as exc:
            info["notes"].append("could not replace %s: %s" % (target, exc))
        os.close(fd)
    info["replaced"] = replaced
    for mask in masked:
        if mask["ro"] and os.path.isdir(mask["path"]):
            try:
                mount(None, mask["path"], None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                      "mode=%o,size=%d" % (mask["mode"], mask["size"]))
            except OSError as exc:
                info["notes"].append("could not make %s read-only: %s" % (mask["path"], exc))
    info["masked"] = [m["path"] for m in masked]
    info["kept"] = bound


def chown_tree(root, uid, gid):
    os.lchown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, gid)


def can_run_as(uid, gid, cfg, exe):
    """Fork, become uid, check the interpreter and the needed folders are reachable."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            problems = []
            if not os.access(exe, os.X_OK):
                problems.append(exe)
            for path in cfg["must_read"]:
                if not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
                    problems.append(path)
            for path in cfg["must_write"]:
                if not os.access(path, os.W_OK | os.X_OK):
                    problems.append(path)
            os.write(w, json.dumps(problems).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    try:
        return json.loads(data.decode())
    except ValueError:
        return ["(check failed)"]


def unshare(name, flag, info):
    if not sys.platform.startswith("linux"):
        info["notes"].append("%s namespace not available: not Linux" % name)
        return False
    if libc.unshare(flag) == 0:
        info["namespaces"].append(name)
        return True
    info["notes"].append("%s namespace not available: %s" % (name, os.strerror(ctypes.get_errno())))
    return False


def main():
    cfg_path, argv = sys.argv[1], sys.argv[3:]
    with open(cfg_path) as f:
        cfg = json.load(f)
    base = os.open(os.path.dirname(cfg_path), os.O_RDONLY | os.O_DIRECTORY)
    info = {"namespaces": [], "notes": [], "rlimits": {}, "user": None, "no_new_privs": False,
            "masked": [], "kept": [], "proc_private": False, "chowned": False}
    os.umask(0o022)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        os._exit(70)
    is_root = os.geteuid() == 0
    wanted = []
    if not cfg["network"]:
        wanted.append(("net", CLONE_NEWNET))
    wanted.append(("pid", CLONE_NEWPID))
    if not cfg["namespaces"]:
        info["notes"].append("namespaces not used: Limits.namespaces is False")
        wanted = []
    for name, flag in wanted:
        unshare(name, flag, info)
    pidns = "pid" in info["namespaces"]
    supervisor_pid = os.getpid()
    kernel_pid = os.fork()
    if kernel_pid:
        supervise(kernel_pid, base, pidns)
        return
    # ---- the child: becomes the kernel (PID 1 of its namespace when pidns)
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # the mount namespace is the kernel's alone (the supervisor stays in the grader's)
        if cfg["namespaces"] and unshare("mnt", CLONE_NEWNS, info):
            setup_mounts(cfg, info, pidns)
        limits = cfg["rlimits"]
        for name, value in sorted(limits.items()):
            if name == "RLIMIT_NPROC":
                continue
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
                info["rlimits"][name] = value
            except (ValueError, OSError, AttributeError) as exc:
                info["notes"].append("%s not applied: %s" % (name, exc))
        drop = cfg["run_as"]
        if drop is not None and not is_root:
            info["notes"].append("privileges not dropped: the grader does not run as root")
            drop = None
        if drop is not None:
            uid, gid = drop["uid"], drop["gid"]
            for path in cfg["must_write"]:
                chown_tree(path, uid, gid)
            info["chowned"] = True
            problems = can_run_as(uid, gid, cfg, argv[0])
            if problems:
                info["notes"].append("privileges not dropped: %s cannot reach %s" % (drop["name"], ", ".join(problems)))
                drop = None
        if drop is not None:
            if "RLIMIT_NPROC" in limits:
                value = limits["RLIMIT_NPROC"]
                resource.setrlimit(resource.RLIMIT_NPROC, (value, value))
                info["rlimits"]["RLIMIT_NPROC"] = value
            info["user"] = "%s (uid %d)" % (drop["name"], drop["uid"])
        elif "RLIMIT_NPROC" in limits:
            info["notes"].append("RLIMIT_NPROC not applied: it does not bind root / a shared user")
        os.chdir(cfg["cwd"])
        if prctl(PR_SET_NO_NEW_PRIVS, 1):
            info["no_new_privs"] = True
        write_json(base, "info.json", info)
        os.close(base)
        if drop is not None:
            os.setgroups([])
            os.setresgid(drop["gid"], drop["gid"], drop["gid"])
            os.setresuid(drop["uid"], drop["uid"], drop["uid"])
            if os.getuid() != drop["uid"] or os.geteuid() != drop["uid"]:
                os._exit(71)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the uid change
        if os.getppid() != (0 if pidns else supervisor_pid):
            os._exit(72)  # the supervisor is gone already
        os.execv(argv[0], argv)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(70)


def supervise(kernel_pid, base, pidns):
    """Root parent of the kernel: reaps, kills what is left, reports how the kernel ended."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the kernel (same process group)

    def terminate(signum, frame):
        try:
            os.kill(kernel_pid, signal.SIGKILL)
        except OSError:
            pass
        kill_descendants()
        write_json(base, "exit.json", {"killed": True, "exitcode": None, "signal": signal.SIGKILL})
        os._exit(137)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    write_json(base, "supervisor.json", {"kernel_pid": kernel_pid, "supervisor_pid": os.getpid()})
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(70)
        if pid != kernel_pid:
            continue
        result = {"killed": False, "exitcode": None, "signal": None}
        if os.WIFSIGNALED(status):
            result["signal"] = os.WTERMSIG(status)
        else:
            result["exitcode"] = os.WEXITSTATUS(status)
        kill_descendants()
        write_json(base, "exit.json", result)
        os._exit(128 + result["signal"] if result["signal"] else result["exitcode"])


main()
'''


# --------------------------------------------------------------------------------------------------
# Preparing a launch


@functools.cache
def _kernel_sys_path() -> tuple[str, ...]:
    """Folders the kernel's interpreter imports from (virtualenv, stdlib, editable installs)."""
    env = {k: os.environ[k] for k in ("PATH",) if k in os.environ}
    try:
        out = subprocess.run(
            [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))"],
            env=env,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        paths = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        paths = list(sys.path)
    exe = os.path.realpath(sys.executable)
    paths += [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, os.path.dirname(exe)]
    found: list[str] = []
    for path in paths:
        if path and path != "/" and os.path.exists(path):
            path = os.path.abspath(path)
            if path not in found:
                found.append(path)
    return tuple(found)


def _resolve_user(run_as: str | int | None) -> dict[str, Any] | None:
    if run_as is None:
        return None
    try:
        entry = pwd.getpwuid(run_as) if isinstance(run_as, int) else pwd.getpwnam(run_as)
    except KeyError:
        return None
    return {"name": entry.pw_name, "uid": entry.pw_uid, "gid": entry.pw_gid}


def _traversable(path: str, uid: int, gid: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & 0o100)
    if st.st_gid == gid:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def _blocking_ancestor(path: str, uid: int, gid: int) -> str | None:
    """The highest folder above ``path`` that ``uid`` cannot enter."""
    for parent in reversed(Path(path).parents):
        parent_s = str(parent)
        if parent_s != "/" and not _traversable(parent_s, uid, gid):
            return parent_s
    return None


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _kernel_env(workdir: str, kdir: str, limits: Limits) -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=workdir,
        TMPDIR=os.path.join(kdir, "tmp"),
        IPYTHONDIR=os.path.join(kdir, "ipython"),
        MPLCONFIGDIR=os.path.join(kdir, "matplotlib"),
        XDG_CACHE_HOME=os.path.join(kdir, "cache"),
        XDG_CONFIG_HOME=os.path.join(kdir, "config"),
        JUPYTER_CONFIG_DIR=os.path.join(kdir, "jupyter"),
        JUPYTER_DATA_DIR=os.path.join(kdir, "jupyter"),
        JUPYTER_RUNTIME_DIR=kdir,
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        MALLOC_ARENA_MAX="2",
    )
    if limits.threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(limits.threads)
    return env


def _plan(workdir: str, kdir: str, limits: Limits, user: dict[str, Any] | None) -> dict[str, Any]:
    """The bootstrap's configuration: namespaces, mounts, rlimits, user."""
    keeps: list[dict[str, Any]] = [{"path": workdir, "ro": False}, {"path": kdir, "ro": False}]
    readable = list(_kernel_sys_path())
    readable += [os.path.abspath(p) for p in limits.keep_paths]
    for path in readable:
        if os.path.exists(path) and all(k["path"] != path for k in keeps):
            keeps.append({"path": path, "ro": True})
    masks: list[dict[str, Any]] = []
    if limits.private_tmp:
        for path in PRIVATE_TMP_DIRS:
            if os.path.isdir(path) and not os.path.islink(path):
                masks.append({"path": path, "mode": 0o1777, "size": limits.tmp_size_bytes, "ro": False})
    for path in limits.hide_paths:
        path = os.path.abspath(path)
        if path == workdir:
            continue
        masks.append({"path": path, "mode": 0o755, "size": 1 * MB, "ro": True})
    if user is not None and os.geteuid() == 0:
        for keep in keeps:
            blocker = _blocking_ancestor(keep["path"], user["uid"], user["gid"])
            if blocker and not any(_under(blocker, m["path"]) for m in masks):
                masks.append({"path": blocker, "mode": 0o755, "size": 1 * MB, "ro": True})
    rlimits: dict[str, int] = {"RLIMIT_CORE": 0}
    if limits.memory_bytes:
        rlimits["RLIMIT_AS"] = int(limits.memory_bytes)
    if limits.file_size_bytes:
        rlimits["RLIMIT_FSIZE"] = int(limits.file_size_bytes)
    if limits.max_open_files:
        rlimits["RLIMIT_NOFILE"] = int(limits.max_open_files)
    if limits.max_processes:
        rlimits["RLIMIT_NPROC"] = int(limits.max_processes)
    # backstop only: a kernel whose grader vanished cannot burn CPU for ever
    rlimits["RLIMIT_CPU"] = int(2 * limits.notebook_timeout + 60)
    replacements = [{"target": os.path.abspath(t), "source": os.path.abspath(r)} for t, r in limits.replace_paths]
    return {
        "replacements": replacements,
        "parent_pid": os.getpid(),
        "cwd": workdir,
        "network": bool(limits.network),
        "namespaces": bool(limits.namespaces),
        "keeps": keeps,
        "masks": masks,
        "must_read": [k["path"] for k in keeps if k["ro"]],
        "must_write": [workdir, kdir],
        "rlimits": rlimits,
        "run_as": user,
    }


def _pid_children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    return children


def _descendants(root: int) -> set[int]:
    children = _pid_children_map()
    found: set[int] = set()
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


# IPython startup file of the sandboxed kernel: a segfault's Python traceback goes to the kernel log
# (the kernel's original stderr), not into the captured, lost-at-death stderr pipe. Leaves no names.
_FAULTHANDLER_STARTUP = """\
def _nnlab_sandbox_faulthandler():
    import faulthandler, sys
    faulthandler.enable(file=getattr(sys.stderr, "_original_stdstream_copy", 2), all_threads=False)
_nnlab_sandbox_faulthandler()
del _nnlab_sandbox_faulthandler
"""


class SandboxKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel runs in the sandbox described in the module docstring.

    Usable as nbclient's ``kernel_manager_class``; ``limits`` (a :class:`Limits`) and ``workdir``
    (default: the ``cwd`` given to ``start_kernel``) can be set as constructor arguments.
    """

    limits = AnyTrait(None, allow_none=True, help="nnlab.sandbox.Limits of the kernel").tag(config=True)
    workdir = Unicode("", help="working copy of the student (the kernel's cwd and HOME)").tag(config=True)
    startup_code = Unicode("", help="trusted Python run in the kernel before any cell (an IPython startup file)").tag(
        config=True
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        if self.limits is None:
            self.limits = Limits()
        self.sandbox_dir: str | None = None
        self.isolation: Isolation | None = None
        self.killed_by_sandbox = False
        self._exit_info: dict[str, Any] | None = None
        self._log_path: str | None = None
        self._plan: dict[str, Any] = {}
        self._user: dict[str, Any] | None = None
        self._unresolved_user: str | int | None = None
        self._workdir_owner = (os.getuid(), os.getgid())
        self._info: dict[str, Any] | None = None
        self._log_tail: str | None = None

    # -- launch -------------------------------------------------------------------------------------

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        limits: Limits = self.limits
        workdir = os.path.realpath(self.workdir or kw.get("cwd") or os.getcwd())
        if not os.path.isdir(workdir):
            raise FileNotFoundError(f"working copy {workdir} is not a folder")
        self.workdir = workdir
        base = tempfile.mkdtemp(prefix="nnlab-sbx-")
        if len(base) > 70:  # Unix socket paths are limited to ~107 bytes
            shutil.rmtree(base)
            base = tempfile.mkdtemp(prefix="nnlab-sbx-", dir="/tmp")
        os.chmod(base, 0o711)
        kdir = os.path.join(base, "k")
        os.mkdir(kdir, 0o700)
        for sub in ("tmp", "ipython", "matplotlib", "cache", "config", "jupyter"):
            os.mkdir(os.path.join(kdir, sub), 0o700)
        startup = os.path.join(kdir, "ipython", "profile_default", "startup")
        os.makedirs(startup)
        with open(os.path.join(startup, "00-nnlab-sandbox.py"), "w") as f:
            f.write(_FAULTHANDLER_STARTUP)
        if self.startup_code:
            with open(os.path.join(startup, "01-nnlab-grader.py"), "w") as f:
                f.write(self.startup_code)
        self.sandbox_dir = base
        self.connection_file = os.path.join(kdir, "kernel.json")
        if self.transport == "ipc":
            self.ip = os.path.join(kdir, "kernel-ipc")
        user = None
        if limits.run_as is not None and os.name == "posix":
            user = _resolve_user(limits.run_as)
        self._user = user
        self._unresolved_user = limits.run_as if (limits.run_as is not None and user is None) else None
        self._plan = _plan(workdir, kdir, limits, user)
        with open(os.path.join(base, "config.json"), "w") as f:
            json.dump(self._plan, f)
        self._workdir_owner = (os.stat(workdir).st_uid, os.stat(workdir).st_gid)
        kw["cwd"] = workdir
        kw["env"] = _kernel_env(workdir, kdir, limits)
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """This interpreter's ipykernel (whatever the notebook's kernelspec), behind the bootstrap."""
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
        kernel += list(extra_arguments or [])
        assert self.sandbox_dir is not None
        config = os.path.join(self.sandbox_dir, "config.json")
        return [sys.executable, "-I", "-S", "-c", BOOTSTRAP, config, "--", *kernel]

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        assert self.sandbox_dir is not None
        self._log_path = os.path.join(self.sandbox_dir, "kernel.log")
        with open(self._log_path, "wb") as log:
            kw["stdout"] = log
            kw["stderr"] = subprocess.STDOUT
            kw["env"] = {k: v for k, v in kw.get("env", {}).items() if k != "JPY_PARENT_PID"}
            await super()._async_launch_kernel(kernel_cmd, **kw)

    # -- what happened ------------------------------------------------------------------------------

    def _read_json(self, name: str) -> dict[str, Any] | None:
        if not self.sandbox_dir:
            return None
        try:
            with open(os.path.join(self.sandbox_dir, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def read_isolation(self) -> Isolation:
        """What the bootstrap enforced (available once the kernel has started)."""
        if self._info is None and self.sandbox_dir:
            self._info = self._read_json("info.json")
        info = self._info or {}
        spaces = info.get("namespaces", [])
        masked = info.get("masked", [])
        iso = Isolation(
            network_namespace="net" in spaces,
            pid_namespace="pid" in spaces,
            mount_namespace="mnt" in spaces,
            private_proc=bool(info.get("proc_private")),
            private_tmp=[p for p in masked if p in PRIVATE_TMP_DIRS and self.limits.private_tmp],
            hidden_paths=[p for p in masked if p in {os.path.abspath(h) for h in self.limits.hide_paths}],
            user=info.get("user"),
            no_new_privs=bool(info.get("no_new_privs")),
            rlimits=dict(info.get("rlimits", {})),
            notes=list(info.get("notes", [])),
        )
        if "pid" in spaces:
            iso.orphan_cleanup = "PID namespace: every process of the kernel dies with it"
        elif info:
            iso.orphan_cleanup = "child subreaper + /proc scan (processes that escape both survive)"
        if self.limits.network:
            iso.notes.append("network allowed by Limits.network")
        if self._unresolved_user is not None:
            iso.notes.append(f"privileges not dropped: no user {self._unresolved_user!r}")
        elif self.limits.run_as is None:
            iso.notes.append("privileges not dropped: Limits.run_as is None")
        for mask in self._plan.get("masks", []):
            if mask["path"] not in masked and "mnt" in spaces and os.path.exists(mask["path"]):
                iso.notes.append(f"{mask['path']} not masked")
        self.isolation = iso
        return iso

    def exit_info(self) -> dict[str, Any] | None:
        """How the kernel process ended, as told by the supervisor (None while it runs)."""
        if self._exit_info is None:
            self._exit_info = self._read_json("exit.json")
        return self._exit_info

    def kernel_log(self, limit: int = 4000) -> str:
        """The end of what the kernel process wrote on its own stdout/stderr."""
        if self._log_tail is not None or not self._log_path:
            return self._log_tail or ""
        try:
            with open(self._log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- teardown -----------------------------------------------------------------------------------

    def kill_sandbox(self) -> None:
        """SIGKILL the kernel and every process it started; idempotent."""
        provisioner = self.provisioner
        process = getattr(provisioner, "process", None)
        if process is None:
            return
        supervisor = self._read_json("supervisor.json") or {}
        sup_pid = process.pid
        if process.poll() is None:
            self.killed_by_sandbox = True
            kernel_pid = supervisor.get("kernel_pid")
            if kernel_pid and self._is_child_of(kernel_pid, sup_pid):
                _kill(kernel_pid, signal.SIGKILL)  # in a PID namespace: the whole namespace dies
            _kill(sup_pid, signal.SIGTERM)  # the supervisor kills and reaps what is left, then exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=3)
        # last sweep from outside: anything still under the supervisor, or in its process group
        for _ in range(5):
            pids = _descendants(sup_pid) if process.poll() is None else set()
            pids |= _session_members(sup_pid)
            pids.discard(os.getpid())
            if process.poll() is None:
                pids.add(sup_pid)
            if not pids:
                break
            for pid in pids:
                _kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=1)

    @staticmethod
    def _is_child_of(pid: int, parent: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
            return int(stat[stat.rindex(b")") + 2 :].split()[1]) == parent
        except (OSError, ValueError, IndexError):
            return False

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        self.kill_sandbox()
        await super()._async_kill_kernel(restart=restart)

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        try:
            await super()._async_shutdown_kernel(now=now, restart=restart)
        finally:
            self.kill_sandbox()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if not restart:
                self.finish()

    def finish(self) -> None:
        """Kill what is left, keep the account of the run, give the working copy back to its owner
        and remove the sandbox's private folder. Idempotent; called by the clean-up of the kernel."""
        if self.sandbox_dir is None:
            return
        self.kill_sandbox()
        if self.isolation is None:
            self.read_isolation()
        self.exit_info()
        self._log_tail = self.kernel_log()
        self._restore_owner()
        shutil.rmtree(self.sandbox_dir, ignore_errors=True)
        self.sandbox_dir = None

    def _restore_owner(self) -> None:
        info = self._info or {}
        if info.get("chowned") and self.workdir and hasattr(os, "lchown"):
            uid, gid = self._workdir_owner
            for folder, dirs, files in os.walk(self.workdir):
                for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                    with contextlib.suppress(OSError):
                        os.lchown(name, uid, gid)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _session_members(sid: int) -> set[int]:
    """Processes whose session id is ``sid`` (the kernel's session, started by the launcher)."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_bytes()
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[3]) == sid:
                found.add(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return found


# --------------------------------------------------------------------------------------------------
# Executing the cells


_RGX_CARRIAGERETURN = re.compile(r".*\r(?=[^\n])")
_RGX_BACKSPACE = re.compile(r"[^\n]\b")
_MEMORY_ERRORS = {"MemoryError", "_ArrayMemoryError", "ArrayMemoryError"}


def _collapse(text: str) -> str:
    """Apply \\b and \\r like a terminal (progress bars overwrite themselves)."""
    if "\b" in text:
        old = None
        while old != text:
            old, text = text, _RGX_BACKSPACE.sub("", text)
    if "\r" in text:
        text = _RGX_CARRIAGERETURN.sub("", text)
    return text


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _cut(text: str, nbytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``nbytes`` UTF-8 bytes."""
    if nbytes <= 0:
        return ""
    return text.encode("utf-8", "surrogatepass")[:nbytes].decode("utf-8", "ignore")


class _Cap:
    def __init__(self) -> None:
        self.used = 0
        self.dropped = 0
        self.stderr = ""


class _KernelKilled(Exception):
    """Raised out of a cell whose kernel ignored the interrupt and was killed."""


class SandboxNotebookClient(NotebookClient):
    """nbclient's NotebookClient with the sandbox's timeout policy and output caps."""

    def __init__(
        self,
        nb: NotebookNode,
        limits: Limits,
        workdir: str,
        *,
        startup_code: str = "",
        cell_handler: Callable[..., Awaitable[bool]] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(
            nb,
            allow_errors=True,
            interrupt_on_timeout=True,
            raise_on_iopub_timeout=False,
            iopub_timeout=4,
            shutdown_kernel="immediate",
            record_timing=False,
            startup_timeout=int(limits.startup_timeout),
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
            **kw,
        )
        self.limits = limits
        self.workdir = workdir
        self.sandbox_km: SandboxKernelManager | None = None
        # nbclient annotates timeout_func as returning int; it takes the float seconds as they are
        self.timeout_func = self._cell_budget  # type: ignore[assignment]
        self._budget_deadline: float | None = None
        self._budget_limited = False
        self._current_msg_id: str | None = None
        self._caps: dict[int, _Cap] = {}
        self._timeout_outcome: str | None = None
        self._first_fault: dict[str, Any] = {}
        self.kernel_exit: str | None = None
        self.startup_code = startup_code
        #: ``await cell_handler(client, index, cell)``: True when it took care of the cell itself (the
        #: grader runs test cells outside the kernel), False to execute the cell in the kernel as usual
        self.cell_handler = cell_handler
        self.fatal: dict[str, Any] = {}

    def create_kernel_manager(self) -> SandboxKernelManager:
        self.km = self.sandbox_km = SandboxKernelManager(
            limits=self.limits, workdir=self.workdir, startup_code=self.startup_code
        )
        return self.km

    def _sandbox_km(self) -> SandboxKernelManager:
        """``self.km``, which :meth:`create_kernel_manager` made (nbclient types it as a plain KernelManager)."""
        assert self.km is not None
        return cast(SandboxKernelManager, self.km)

    # -- timeouts -----------------------------------------------------------------------------------

    def _cell_budget(self, cell: NotebookNode) -> float:
        timeout = float(self.limits.cell_timeout)
        self._budget_limited = False
        if self._budget_deadline is not None:
            left = max(0.01, self._budget_deadline - time.monotonic())
            if left < timeout:
                timeout, self._budget_limited = left, True
        return timeout

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> dict[str, Any] | None:
        assert self.km is not None and self.kc is not None
        with contextlib.suppress(Exception):  # the kernel may be gone already
            await ensure_async(self.km.interrupt_kernel())
        deadline = time.monotonic() + self.limits.interrupt_grace
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                break
            if msg.get("parent_header", {}).get("msg_id") == self._current_msg_id:
                self._timeout_outcome = "interrupted"
                return msg
        self._timeout_outcome = "killed"
        self._sandbox_km().kill_sandbox()
        raise _KernelKilled()

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()
        execute = kc.execute

        def tracked_execute(*args: Any, **kwargs: Any) -> str:
            self._current_msg_id = execute(*args, **kwargs)
            return self._current_msg_id

        kc.execute = tracked_execute  # type: ignore[method-assign]
        return kc

    # -- outputs ------------------------------------------------------------------------------------

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        parent_msg_id = msg["parent_header"].get("msg_id")
        if self.output_hook_stack[parent_msg_id]:
            return super().output(outs, msg, display_id, cell_index)
        cap = self._caps.setdefault(cell_index, _Cap())
        limit = self.limits.max_output_bytes
        msg_type = msg["msg_type"]
        content = msg["content"]
        if self.clear_before_next_output:
            outs[:] = []
            self.clear_display_id_mapping(cell_index)
            self.clear_before_next_output = False
            cap.used = cap.dropped = 0
        if msg_type == "stream":
            name, text = content.get("name", "stdout"), content.get("text", "")
            if name == "stderr" and _nbytes(cap.stderr) < limit:
                cap.stderr = _cut(cap.stderr + text, limit)
            if cap.dropped:
                cap.dropped += _nbytes(text)
                return None
            last = outs[-1] if outs else None
            if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
                before = _nbytes(last["text"])
                merged = _collapse(last["text"] + text)
                room = limit - (cap.used - before)
                if _nbytes(merged) > room:
                    cap.dropped += _nbytes(merged) - max(room, 0)
                    merged = _cut(merged, room)
                last["text"] = merged
                cap.used += _nbytes(merged) - before
                return last
            text = _collapse(text)
            room = limit - cap.used
            if _nbytes(text) > room:
                cap.dropped += _nbytes(text) - max(room, 0)
                text = _cut(text, room)
            if not text:
                return None
            out = nbformat.v4.new_output("stream", name=name, text=text)
            outs.append(out)
            cap.used += _nbytes(text)
            return out
        if msg_type == "error":
            content["evalue"] = _cut(str(content.get("evalue", "")), limit)
            lines: list[str] = []
            total = 0
            for line in content.get("traceback", []):
                if total + _nbytes(line) > limit:
                    lines.append(f"... traceback truncated ({len(content['traceback']) - len(lines)} lines)")
                    break
                lines.append(line)
                total += _nbytes(line)
            content["traceback"] = lines
            cap.used += total
            return super().output(outs, msg, display_id, cell_index)
        size = _nbytes(json.dumps(content.get("data", {})))
        if cap.dropped or cap.used + size > limit:
            cap.dropped += size
            return None
        cap.used += size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        # update_display_data rewrites earlier outputs in place: cap it too
        size = _nbytes(json.dumps(msg["content"].get("data", {})))
        if size > self.limits.max_output_bytes:
            msg["content"]["data"] = {"text/plain": TRUNCATION_MARKER.format(n=size)}
        super()._update_display_id(display_id, msg)

    def clear_output(self, outs: list[NotebookNode], msg: dict[str, Any], cell_index: int) -> None:
        super().clear_output(outs, msg, cell_index)
        if not outs:
            cap = self._caps.setdefault(cell_index, _Cap())
            cap.used = cap.dropped = 0

    # -- the run ------------------------------------------------------------------------------------

    async def run(self) -> tuple[list[CellReport], dict[str, Any]]:
        """Execute the cells; returns the cell reports and the fatal event (or {})."""
        limits = self.limits
        cells: list[CellReport] = []
        self.reset_execution_trackers()
        start = time.monotonic()
        async with self.async_setup_kernel():
            assert self.kc is not None and self.km is not None
            self._budget_deadline = start + limits.notebook_timeout
            msg_id = await ensure_async(self.kc.kernel_info())
            info_msg = await self.async_wait_for_reply(msg_id)
            if info_msg is not None and "language_info" in info_msg["content"]:
                self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
            self._budget_deadline = time.monotonic() + limits.notebook_timeout
            self._sandbox_km().read_isolation()
            for index, cell in enumerate(self.nb.cells):
                report = CellReport(index, cell.get("id"), _cell_name(cell), "skipped")
                cells.append(report)
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if self.fatal:
                    report.status = "not run"
                    cell.outputs = [_error_output("NotRun", f"not run: {self.fatal['detail']}")]
                    cell.execution_count = None
                    continue
                t0 = time.monotonic()
                if self.cell_handler is not None and await self.cell_handler(self, index, cell):
                    report.seconds = round(time.monotonic() - t0, 3)
                    report.ename = _cell_error(cell)
                    report.status = self.fatal["status"] if self.fatal else ("error" if report.ename else "ok")
                    continue
                await self.execute_in_kernel(cell, index, report)
        return cells, self.fatal

    async def execute_in_kernel(self, cell: NotebookNode, index: int, report: CellReport | None = None) -> str:
        """Execute one cell in the kernel under the time and output limits; returns its status
        ("ok", "error", "out of memory", "timed out", "kernel died", "not run"). A fault that ends
        the run (hard kill, death, the notebook's budget) is kept in ``self.fatal``."""
        limits = self.limits
        report = report or CellReport(index, cell.get("id"), _cell_name(cell), "skipped")
        if self.fatal:
            report.status = "not run"
            return report.status
        if self._budget_deadline is None:
            raise RuntimeError("execute_in_kernel runs only while run() executes the notebook")
        if time.monotonic() >= self._budget_deadline:
            self.fatal = {
                "status": "timed out",
                "index": index,
                "detail": (
                    f"the notebook's time budget of {limits.notebook_timeout:g} s ran out before "
                    f"{_describe(index, report)}"
                ),
            }
            report.status = "not run"
            cell.outputs = [_error_output("NotRun", f"not run: {self.fatal['detail']}")]
            cell.execution_count = None
            return report.status
        self._timeout_outcome = None
        self._caps[index] = _Cap()
        t0 = time.monotonic()
        try:
            await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
            reply = None
        except _KernelKilled:
            reply = "killed"
        except DeadKernelError:
            reply = "dead"
        report.seconds = round(time.monotonic() - t0, 3)
        budget = self._budget_limited
        if reply == "killed" or self._timeout_outcome == "interrupted":
            report.status = "timed out"
            how = "the kernel ignored the interrupt and was killed" if reply == "killed" else "it was interrupted"
            if budget:
                what = (
                    f"the notebook's time budget of {limits.notebook_timeout:g} s ran out during "
                    f"{_describe(index, report)}; {how}"
                )
            else:
                what = f"{_describe(index, report)} ran for more than {limits.cell_timeout:g} s; {how}"
            cell.outputs.append(_error_output("CellTimeoutError", what))
            if reply == "killed":
                self.kernel_exit = "killed by the sandbox"
            if reply == "killed" or budget:
                self.fatal = {"status": "timed out", "index": index, "detail": what}
            elif not self._first_fault:
                self._first_fault = {"status": "timed out", "index": index, "detail": what}
        elif reply == "dead":
            exit_info = self._wait_exit_info()
            ending = self.kernel_exit = _describe_exit(exit_info)
            oom = bool(
                exit_info and exit_info.get("signal") == signal.SIGKILL and not self._sandbox_km().killed_by_sandbox
            )
            report.status = "out of memory" if oom else "kernel died"
            what = (
                f"the kernel died while running {_describe(index, report)} ({ending}"
                + ("; probably killed for using too much memory" if oom else "")
                + ")"
            )
            cell.outputs.append(_error_output("DeadKernelError", what))
            self.fatal = {"status": report.status, "index": index, "detail": what}
        else:
            error = _cell_error(cell)
            report.ename = error
            if error in _MEMORY_ERRORS:
                report.status = "out of memory"
                if not self._first_fault:
                    self._first_fault = {
                        "status": "out of memory",
                        "index": index,
                        "detail": (
                            f"{_describe(index, report)} ran out of memory ({error}, limit "
                            f"{_fmt_bytes(limits.memory_bytes)} of address space)"
                        ),
                    }
            else:
                report.status = "error" if error else "ok"
        cap = self._caps.get(index, _Cap())
        report.stderr = cap.stderr
        if cap.dropped:
            report.truncated_bytes = cap.dropped
            _append_marker(cell, cap.dropped)
        return report.status

    def _wait_exit_info(self) -> dict[str, Any] | None:
        km = self._sandbox_km()
        for _ in range(50):
            info = km.exit_info()
            if info is not None:
                return info
            time.sleep(0.05)
        return None


def _cell_name(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _describe(index: int, report: CellReport) -> str:
    return f"cell {index}" + (f" ({report.name})" if report.name else "")


def _describe_exit(info: dict[str, Any] | None) -> str:
    if not info:
        return "no exit status"
    if info.get("killed"):
        return "killed by the sandbox"
    if info.get("signal"):
        try:
            return f"signal {signal.Signals(info['signal']).name}"
        except ValueError:
            return f"signal {info['signal']}"
    return f"exit code {info.get('exitcode')}"


def _fmt_bytes(n: int | None) -> str:
    if not n:
        return "no"
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MB:g} MB"


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _cell_error(cell: NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename")
    return None


def _append_marker(cell: NotebookNode, dropped: int) -> None:
    marker = TRUNCATION_MARKER.format(n=dropped)
    outs = cell.outputs
    if outs and outs[-1].get("output_type") == "stream" and outs[-1].get("name") == "stdout":
        text = outs[-1]["text"]
        outs[-1]["text"] = text + ("" if text.endswith("\n") or not text else "\n") + marker + "\n"
    else:
        outs.append(nbformat.v4.new_output("stream", name="stdout", text=marker + "\n"))


# --------------------------------------------------------------------------------------------------
# Public entry points


def execute_notebook(
    nb: NotebookNode | str | os.PathLike,
    workdir: str | os.PathLike,
    limits: Limits | None = None,
    *,
    startup_code: str = "",
    cell_handler: Callable[..., Awaitable[bool]] | None = None,
) -> ExecutionReport:
    """Execute a notebook's code cells in a sandboxed kernel whose cwd and HOME are ``workdir``.

    ``nb`` is not modified: the executed copy is ``report.notebook``. Never raises for faults of the
    student's code; the report says what happened. Safe to call from a thread or a running event loop.
    ``startup_code`` runs in the kernel before any cell; ``cell_handler`` may take cells over (see
    :class:`SandboxNotebookClient`).
    """
    limits = limits or Limits()
    if isinstance(nb, (str, os.PathLike)):
        original: NotebookNode = nbformat.read(os.fspath(nb), as_version=4)
    else:
        original = nb
    notebook = copy.deepcopy(original)
    workdir = os.fspath(workdir)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_execute(notebook, workdir, limits, startup_code, cell_handler))
    result: list[ExecutionReport] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(_execute(notebook, workdir, limits, startup_code, cell_handler)))
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target, name="nnlab-sandbox")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def _execute(
    nb: NotebookNode,
    workdir: str,
    limits: Limits,
    startup_code: str = "",
    cell_handler: Callable[..., Awaitable[bool]] | None = None,
) -> ExecutionReport:
    start = time.monotonic()
    client = SandboxNotebookClient(
        nb, limits, os.path.realpath(workdir), startup_code=startup_code, cell_handler=cell_handler
    )
    cells: list[CellReport] = []
    fatal: dict[str, Any] = {}
    startup_error = None
    try:
        try:
            cells, fatal = await client.run()
        except (DeadKernelError, RuntimeError, TimeoutError, OSError) as exc:
            if cells:
                raise
            startup_error = exc
    finally:
        # nbclient registers an atexit clean-up and forgets it when the kernel fails to start
        atexit.unregister(client._cleanup_kernel)
        km = client.sandbox_km
        if km is not None:
            km.finish()
            isolation, exit_info, log = km.isolation or km.read_isolation(), km.exit_info(), km.kernel_log()
        else:
            isolation, exit_info, log = Isolation(notes=["no kernel was started"]), None, ""
    wall = round(time.monotonic() - start, 3)
    if startup_error is not None:
        reports = []
        for index, cell in enumerate(nb.cells):
            report = CellReport(index, cell.get("id"), _cell_name(cell), "skipped")
            if cell.cell_type == "code" and cell.source.strip():
                report.status = "not run"
                cell.outputs = [_error_output("NotRun", "not run: the kernel failed to start")]
                cell.execution_count = None
            reports.append(report)
        tail = log.strip().splitlines()[-1:] if log.strip() else []
        detail = f"the kernel failed to start: {startup_error}" + (f" ({tail[0]})" if tail else "")
        return ExecutionReport(
            "failed to start",
            None,
            None,
            None,
            detail,
            nb,
            wall,
            isolation,
            reports,
            _describe_exit(exit_info) if exit_info else None,
            log,
        )
    event = fatal or client._first_fault
    if event:
        index = event["index"]
        report = cells[index]
        status, detail = event["status"], event["detail"]
        cell_index, cell_id, cell_name = index, report.cell_id, report.name
    else:
        status, detail, cell_index, cell_id, cell_name = "completed", "all code cells ran", None, None, None
    return ExecutionReport(
        status, cell_index, cell_id, cell_name, detail, nb, wall, isolation, cells, client.kernel_exit, log
    )


_WARNING_HEADER = re.compile(r"^(?:.*:\d+: )?(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*Warning: ")


def _only_warnings(text: str) -> bool:
    lines = text.splitlines()
    seen_header = False
    for line in lines:
        if _WARNING_HEADER.match(line):
            seen_header = True
        elif not line.strip() or (seen_header and line[:1].isspace()):
            continue
        else:
            return False
    return seen_header


def drop_warning_streams(nb: NotebookNode) -> int:
    """Remove, in place, the stderr stream outputs made only of Python warnings
    (``path:12: RuntimeWarning: overflow encountered in exp`` and the indented source line after it),
    so that a warning cannot zero a correct cell under nbgrader's stderr rule. Returns how many outputs
    were removed. Stderr outputs with anything else in them are kept whole."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            if isinstance(text, list):
                text = "".join(text)
            if out.get("output_type") == "stream" and out.get("name") == "stderr" and _only_warnings(text):
                removed += 1
                continue
            kept.append(out)
        cell.outputs = kept
    return removed
