"""The grader's side of the fork server (``fork_server.py``): :class:`ForkServer` starts one and asks it
for kernels, :class:`ForkedKernel` stands for a kernel's supervisor where jupyter_client expects the
``subprocess.Popen`` of a kernel it launched, and :func:`server_for` keeps one server per process and
kind of kernel.

A forked kernel is not this process's child (the server's): it is watched through a pidfd, signalled
through it (never a recycled pid) and its end is read from the ``exit.json`` its supervisor writes.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import errno
import json
import multiprocessing.util
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .limits import PER_KERNEL_ENV

#: the server program, run by path (``python fork_server.py``), never imported by the grader
FORK_SERVER = Path(__file__).with_name("fork_server.py")
MESSAGE_BYTES = 1 << 20

_starters: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _starter() -> concurrent.futures.ThreadPoolExecutor:
    """This process's thread that starts servers. It lives as long as the process: a server asks Linux
    to kill it when the thread that started it ends (PR_SET_PDEATHSIG follows the thread), and its
    kernels die with it. One per process id: a forked copy of the process has no such thread."""
    pid = os.getpid()
    if pid not in _starters:
        _starters[pid] = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnlab-fork-server")
    return _starters[pid]


class ForkServerError(RuntimeError):
    """The fork server could not be started, or is gone."""


class ForkServer:
    """A running ``fork_server.py`` that has imported ``modules``, in the environment ``env``."""

    def __init__(self, modules: Sequence[str], env: Mapping[str, str], startup_timeout: float = 120) -> None:
        self.modules = tuple(modules)
        self.folder = tempfile.mkdtemp(prefix="nnlab-fork-server-")
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        try:
            self.process = _starter().submit(self._popen, theirs, dict(env)).result()
        finally:
            theirs.close()
        self.pid = self.process.pid
        ours.settimeout(startup_timeout)
        try:
            reply = self._receive()
        except (OSError, ValueError) as exc:
            self.close()
            raise ForkServerError(f"the fork server did not start: {exc}; {self.log_tail()}") from exc
        if not reply.get("ready"):
            error = reply.get("error", reply)
            self.close()
            raise ForkServerError(f"the fork server did not start: {error}")
        ours.settimeout(60)

    def _popen(self, theirs: socket.socket, env: dict[str, str]) -> subprocess.Popen:
        # the server's own folders: its HOME, TMPDIR, MPLCONFIGDIR... (a kernel's are set when it forks)
        for key in PER_KERNEL_ENV:
            env[key] = os.path.join(self.folder, key.lower())
            os.makedirs(env[key], exist_ok=True)
        with open(os.path.join(self.folder, "server.log"), "wb") as log:
            command = [sys.executable, str(FORK_SERVER), str(theirs.fileno()), str(os.getpid()), *self.modules]
            return subprocess.Popen(
                command,
                pass_fds=[theirs.fileno()],
                env=env,
                cwd=env["HOME"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _receive(self) -> dict[str, Any]:
        data = self._sock.recv(MESSAGE_BYTES)
        if not data:
            raise ForkServerError(f"the fork server closed its socket; {self.log_tail()}")
        reply: dict[str, Any] = json.loads(data.decode())
        return reply

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, config: str, argv: Sequence[str], env: Mapping[str, str], cwd: str, log_fd: int) -> ForkedKernel:
        """Fork a kernel in the sandbox that ``config`` (the launcher's configuration) describes: the
        kernel that ``argv`` (``python -m ipykernel_launcher ARGS``) would start in folder ``cwd`` with
        environment ``env``; its stdout and stderr go to ``log_fd``."""
        request = {"config": config, "argv": list(argv), "env": dict(env), "cwd": cwd}
        with self._lock:
            try:
                socket.send_fds(self._sock, [json.dumps(request).encode()], [log_fd])
                reply = self._receive()
            except (OSError, ValueError) as exc:
                raise ForkServerError(f"the fork server did not answer: {exc}; {self.log_tail()}") from exc
        if "pid" not in reply:
            raise ForkServerError(f"the fork server could not fork a kernel: {reply.get('error', reply)}")
        pid = int(reply["pid"])
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as exc:  # gone already (it failed at once): its exit.json says why, if anything
            pidfd = -1
            if exc.errno != errno.ESRCH:
                raise
        return ForkedKernel(pid, pidfd, Path(config).with_name("exit.json"), self)

    def log_tail(self, limit: int = 2000) -> str:
        try:
            text = Path(self.folder, "server.log").read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return "no server log"
        return f"server log: {text.strip()}" if text.strip() else "the server logged nothing"

    def close(self) -> None:
        """Stop the server (its kernels die with it) and remove its folder."""
        with contextlib.suppress(OSError):
            self._sock.close()
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


class ForkedKernel:
    """The supervisor of a forked kernel, with the part of ``subprocess.Popen`` that jupyter_client and
    the sandbox use: ``pid``, ``poll``, ``wait``, ``send_signal``, ``kill``, ``terminate``."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int, exit_file: Path, server: ForkServer) -> None:
        self.pid = pid
        self.args = [f"forked by the fork server {server.pid}"]
        self.server = server
        self.returncode: int | None = None
        self._pidfd = pidfd
        self._exit_file = exit_file

    def _ended(self, timeout: float | None) -> bool:
        if self._pidfd < 0:
            return True
        readable, _, _ = select.select([self._pidfd], [], [], timeout)
        return bool(readable)

    def _finish(self) -> None:
        """The supervisor's exit code as it reported it (exit.json), or -SIGKILL when it could not."""
        try:
            ending = json.loads(self._exit_file.read_text())
            if ending.get("signal"):
                self.returncode = 128 + int(ending["signal"])
            else:
                self.returncode = int(ending.get("exitcode") or 0)
        except (OSError, ValueError, TypeError):
            self.returncode = -signal.SIGKILL
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    def poll(self) -> int | None:
        if self.returncode is None and self._ended(0):
            self._finish()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._ended(timeout):
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._finish()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None and self._pidfd >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


# --------------------------------------------------------------------------------------------------
# One server per process and kind of kernel

_servers: dict[tuple[Any, ...], ForkServer] = {}
_failures: dict[tuple[Any, ...], str] = {}
_owner = os.getpid()
_registry_lock = threading.Lock()
#: servers kept per process (one per assignment's set of modules in a worker that grades several)
MAX_SERVERS = 2


def server_for(modules: Sequence[str], env: Mapping[str, str]) -> ForkServer:
    """This process's fork server for kernels that import ``modules`` first, in environment ``env``
    (started on first use, started again if it died). Raises :class:`ForkServerError` when none can
    run here (then it is not tried again in this process)."""
    global _owner
    key = (tuple(modules), tuple(sorted(env.items())))
    with _registry_lock:
        if _owner != os.getpid():  # a forked copy of a process: the servers are its parent's
            _servers.clear()
            _failures.clear()
            _owner = os.getpid()
        if key in _failures:
            raise ForkServerError(_failures[key])
        server = _servers.get(key)
        if server is not None and server.alive():
            return server
        if server is not None:
            server.close()
            del _servers[key]
        if not hasattr(os, "pidfd_open") or not hasattr(socket, "send_fds"):
            _failures[key] = "no fork server: this system has no pidfd or descriptor passing"
            raise ForkServerError(_failures[key])
        try:
            server = ForkServer(modules, env)
        except (ForkServerError, OSError) as exc:
            _failures[key] = str(exc)
            raise ForkServerError(str(exc)) from exc
        if _cleanup_registered != _owner:
            _register_cleanup()
        while len(_servers) >= MAX_SERVERS:
            _servers.pop(next(iter(_servers))).close()
        _servers[key] = server
        return server


_cleanup_registered = 0


def _register_cleanup() -> None:
    global _cleanup_registered
    _cleanup_registered = os.getpid()
    atexit.register(close_servers)
    # a worker process of multiprocessing ends with os._exit: its finalizers run, atexit's do not
    multiprocessing.util.Finalize(None, close_servers, exitpriority=5)


def close_servers() -> None:
    """Stop this process's fork servers (at exit; their kernels die with them)."""
    with _registry_lock:
        if _owner == os.getpid():
            for server in _servers.values():
                server.close()
        _servers.clear()
