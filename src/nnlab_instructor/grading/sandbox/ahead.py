"""The next student's kernel, started while the current student is graded: :class:`KernelAhead`.

A sandboxed kernel takes seconds to start (the launcher, the namespaces and mounts, ipykernel's own
imports). A grading worker that knows another student will follow keeps exactly one kernel started
ahead, in a working folder of its own, for the next notebook: it is handed over only to a notebook with
the same limits, startup code and files, used once, and discarded (killed, its folders removed) when
unused. A kernel and a working folder are never used for two students.

The kernels are launched from one long-lived thread: the launcher asks Linux to kill the sandbox when
the thread that started it ends (``PR_SET_PDEATHSIG`` follows the thread), so that thread must outlive
every kernel it starts.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import multiprocessing.util
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .kernel import SandboxKernelManager
from .limits import Limits

# nbclient's own arguments for a kernel it starts (see SandboxNotebookClient): a kernel started ahead
# must be the one nbclient would have started.
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]


@dataclass(frozen=True)
class Launch:
    """What a kernel is started with: a kernel started ahead serves only a notebook with the same."""

    limits: Limits
    startup_code: str
    files: tuple[tuple[str, bytes], ...]  # written into the working folder before the kernel starts
    preload: tuple[str, ...] = ()  # installed modules the kernel imports first (its fork server's)


@dataclass
class StartedKernel:
    """A kernel started for one notebook, with its working folder and its scratch folder."""

    launch: Launch
    workdir: str
    scratch: str  # holds what the limits mount into the sandbox (see ``prepare``); removed with it
    limits: Limits  # ``launch.limits`` completed by ``prepare``
    manager: SandboxKernelManager
    started: concurrent.futures.Future  # done when the kernel's process is launched (or failed to be)

    def kernel_manager(self) -> SandboxKernelManager | None:
        """The manager of the launched kernel, or None when the launch failed (the caller then starts a
        kernel the usual way, which reports why it cannot)."""
        try:
            self.started.result(timeout=self.limits.startup_timeout + 30)
        except Exception:
            self.manager.finish()
            return None
        return self.manager

    def remove_folders(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def discard(self) -> None:
        """Kill the kernel if it started and remove its folders."""
        with contextlib.suppress(Exception):
            self.started.result(timeout=self.limits.startup_timeout + 30)
        self.manager.finish()
        self.remove_folders()


class _LauncherThread:
    """One event loop in one thread that lives as long as the process: every kernel ahead starts there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="nnlab-kernel-ahead", daemon=True)
        self.thread.start()

    def start(self, manager: SandboxKernelManager, workdir: str) -> concurrent.futures.Future:
        async def start() -> None:
            await manager.start_kernel(extra_arguments=list(KERNEL_ARGUMENTS), cwd=workdir)
            # the control socket belongs to this loop: the grading loop opens its own when it needs one
            manager._close_control_socket()

        return asyncio.run_coroutine_threadsafe(start(), self.loop)


class KernelAhead:
    """At most one kernel started ahead for the next notebook of this process.

    ``prepare(scratch, limits)`` completes the limits of a launch with what lives in a per-kernel
    scratch folder (e.g. files mounted over the answer key), called once per kernel.
    """

    def __init__(self, prepare: Callable[[str, Limits], Limits]) -> None:
        self.prepare = prepare
        self._launcher: _LauncherThread | None = None
        self._next: StartedKernel | None = None
        self._lock = threading.Lock()
        atexit.register(self.discard)
        # a worker process of multiprocessing ends with os._exit: its finalizers run, atexit's do not
        multiprocessing.util.Finalize(self, self.discard, exitpriority=10)

    def _start(self, launch: Launch) -> StartedKernel:
        if self._launcher is None:
            self._launcher = _LauncherThread()
        workdir = tempfile.mkdtemp(prefix="nnlab-work-")
        scratch = tempfile.mkdtemp(prefix="nnlab-scratch-")
        limits = self.prepare(scratch, launch.limits)
        for name, content in launch.files:
            path = os.path.join(workdir, name)
            with open(path, "wb") as file:
                file.write(content)
            os.chmod(path, 0o644)
        manager = SandboxKernelManager(
            limits=limits, workdir=workdir, startup_code=launch.startup_code, preload=list(launch.preload)
        )
        return StartedKernel(launch, workdir, scratch, limits, manager, self._launcher.start(manager, workdir))

    def take(self, launch: Launch) -> StartedKernel:
        """A kernel for ``launch``: the one started ahead if it matches, else one started now; then the
        next one is started ahead."""
        with self._lock:
            ready, self._next = self._next, None
        if ready is not None and ready.launch != launch:
            ready.discard()
            ready = None
        if ready is None:
            ready = self._start(launch)
        with self._lock:
            self._next = self._start(launch)
        return ready

    def discard(self) -> None:
        """Kill the kernel started ahead, if any (the process has no more notebooks to grade)."""
        with self._lock:
            pending, self._next = self._next, None
        if pending is not None:
            pending.discard()
