"""The fork server: a process that has imported a kernel's trusted modules once and forks each kernel.

Run by :class:`~nnlab_instructor.grading.sandbox.forking.ForkServer` as
``python fork_server.py SOCKET_FD PARENT_PID MODULE...``, as the grader's user (root for the full
isolation), in the environment a kernel gets, in an empty folder of its own. It imports ipykernel and
``MODULE...`` (installed, trusted modules: never the answer key), then answers requests on the Unix socket
``SOCKET_FD``: each request forks a child that sets up the sandbox exactly as ``launcher.py`` does
(the same code: namespaces, mounts, rlimits, the unprivileged user, the seccomp filter), stays as the
supervisor and, in the isolated and unprivileged grandchild, starts ipykernel in-process instead of
exec'ing a fresh interpreter. A kernel so started costs a fork and ipykernel's set-up instead of
Python's start and every import (about 3 CPU seconds for the course's notebooks).

What a fresh interpreter would have had that a fork inherits is reset in the kernel before ipykernel
starts: the environment, the working folder, ``sys.argv`` and ``sys.path``, the random generators'
seeds, the caches of the temporary and matplotlib folders (a test compares both kinds of kernel).
The server holds nothing a student may not read: it is started with the kernel's scrubbed environment
and never reads a submission; it refuses to start if the answer key got imported. Design notes:
docs/sandbox.md.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import json
import os
import signal
import socket
import sys
import tempfile
import traceback
from types import ModuleType
from typing import Any

#: the server's own folder, first in sys.path as for any script: its files (limits.py, kernel.py...)
#: must not shadow a module the server imports, and it is not in a kernel's sys.path
SERVER_PATH = os.path.dirname(os.path.abspath(__file__))
if sys.path and sys.path[0] == SERVER_PATH:
    del sys.path[0]

#: the answer key: importing it here would put it in every kernel's memory
ANSWER_KEY = "nnlab_instructor.reference"
#: one request or reply (JSON); a request's environment is the largest part
MESSAGE_BYTES = 1 << 20


def load_launcher() -> ModuleType:
    """launcher.py, loaded from beside this file under a name of its own (it is a program, not part
    of a package that a kernel may import)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher.py")
    spec = importlib.util.spec_from_file_location("_nnlab_sandbox_launcher", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.send(json.dumps(message).encode())


def serve(sock: socket.socket, launcher: ModuleType, kernel_main: str) -> None:
    """Fork a sandboxed kernel for each request until the socket closes."""
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MESSAGE_BYTES, 1)
        except ConnectionError:
            return
        if not data:
            return
        try:
            request = json.loads(data.decode())
            if len(fds) != 1 or threads() != 1:
                raise RuntimeError(f"a request needs one log file ({len(fds)} sent) and one thread ({threads()})")
            pid = os.fork()
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            send(sock, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        if pid == 0:
            become_supervisor(sock, fds[0], request, launcher, kernel_main)
        os.close(fds[0])
        send(sock, {"pid": pid})


def become_supervisor(
    sock: socket.socket, log_fd: int, request: dict[str, Any], launcher: ModuleType, main: str
) -> None:
    """In the forked child: the process a launcher would have been (own session, the log as stdout and
    stderr, no descriptor of the server's), then the launcher's own set-up with an in-process kernel."""
    try:
        sock.close()
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def start_kernel(argv: list[str]) -> None:
            run_kernel(request, argv, main)

        launcher.launch(request["config"], request["argv"], start_kernel)
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
            sys.stderr.flush()
    os._exit(70)


def run_kernel(request: dict[str, Any], argv: list[str], main: str) -> None:
    """In the isolated, unprivileged kernel process: what ``argv`` (``python -m ipykernel_launcher ARGS``)
    run in the request's folder and environment would have, then ipykernel."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [main, *argv[argv.index("ipykernel_launcher") + 1 :]]
    # sys.path is already the one ipykernel_launcher leaves (it drops the working folder; IPython puts '' back)
    forget_inherited_state()
    code = 0
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def forget_inherited_state() -> None:
    """Reset what this process inherited from the server that a fresh interpreter would compute anew."""
    tempfile.tempdir = None  # TMPDIR is the kernel's now
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()  # the legacy global generator, seeded from the OS (random reseeds at fork)
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        # MPLCONFIGDIR is the kernel's: its configuration and cache folders are looked up again
        for name in ("get_configdir", "get_cachedir"):
            forget_cached_result(getattr(matplotlib, name, None))


def forget_cached_result(function: Any) -> None:
    """Clear matplotlib's ``_logged_cached`` memo of ``function`` (its ``called`` closure cell)."""
    code = getattr(function, "__code__", None)
    closure = getattr(function, "__closure__", None)
    if code is not None and closure is not None and "called" in code.co_freevars:
        closure[code.co_freevars.index("called")].cell_contents = False


def reap(signum: int, frame: Any) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    parent_pid, modules = int(sys.argv[2]), sys.argv[3:]
    launcher = load_launcher()
    launcher.prctl(launcher.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(70)
    # no Ctrl-C from a terminal; children are reaped here (their owners watch a pidfd), which also adds
    # their CPU time to this process's children's, hence to the grader's
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, reap)
    try:
        import ipykernel.kernelapp  # noqa: F401  (what every kernel imports first)

        for name in modules:
            importlib.import_module(name)
        spec = importlib.util.find_spec("ipykernel_launcher")
        kernel_main = spec.origin if spec is not None and spec.origin else "ipykernel_launcher"
        if ANSWER_KEY in sys.modules:
            raise RuntimeError(f"{ANSWER_KEY} was imported: it would be in every kernel's memory")
        if threads() != 1:
            raise RuntimeError(f"{threads()} threads after the imports: a fork copies one (set the BLAS threads to 1)")
    except BaseException as exc:
        send(sock, {"error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    send(sock, {"ready": True, "pid": os.getpid()})
    serve(sock, launcher, kernel_main)


if __name__ == "__main__":
    main()
