"""The kernel side of the sandbox: :class:`SandboxKernelManager` prepares the launch (the launcher's
configuration, the kernel's environment), starts ipykernel behind ``launcher.py``, reads back what was
enforced and kills whatever the kernel left. Design notes: docs/sandbox.md."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait
from traitlets import List, Unicode

from . import forking
from .limits import ENV_KEEP, MB, PER_KERNEL_ENV, PRIVATE_TMP_DIRS, SYSTEM_DIRS, VAR_DATA_DIRS, Isolation, Limits

#: the launcher program, run by path as ``python -I -S launcher.py config.json -- kernel argv...``
LAUNCHER = Path(__file__).with_name("launcher.py")
#: copied into the kernel's IPython startup folder
KERNEL_STARTUP = Path(__file__).with_name("kernel_startup.py")

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


def _server_env(limits: Limits) -> dict[str, str]:
    """What a fork server's environment shares with its kernels' (its own folders are added by it)."""
    return {k: v for k, v in _kernel_env("/", "/", limits).items() if k not in PER_KERNEL_ENV}


def _plan(workdir: str, kdir: str, limits: Limits, user: dict[str, Any] | None) -> dict[str, Any]:
    """The launcher's configuration: namespaces, mounts, rlimits, user."""
    keeps = _keeps(workdir, kdir, limits)
    return {
        "replacements": _replacements(limits),
        "parent_pid": os.getpid(),
        "cwd": workdir,
        "network": bool(limits.network),
        "namespaces": bool(limits.namespaces),
        "keeps": keeps,
        "masks": _masks(workdir, limits, keeps, user),
        "must_read": [k["path"] for k in keeps if k["ro"]],
        "must_write": [workdir, kdir],
        "rlimits": _rlimits(limits),
        "run_as": user,
    }


def _keeps(workdir: str, kdir: str, limits: Limits) -> list[dict[str, Any]]:
    """What stays visible under the masks: the working copy and the runtime folder (writable), the
    interpreter, the kernel's sys.path and ``Limits.keep_paths`` (read-only)."""
    keeps: list[dict[str, Any]] = [{"path": workdir, "ro": False}, {"path": kdir, "ro": False}]
    readable = list(_kernel_sys_path())
    readable += [os.path.abspath(p) for p in limits.keep_paths]
    for path in readable:
        if os.path.exists(path) and all(k["path"] != path for k in keeps):
            keeps.append({"path": path, "ro": True})
    return keeps


def _masks(
    workdir: str, limits: Limits, keeps: list[dict[str, Any]], user: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """What is masked by an empty tmpfs: the private /tmp folders (writable), ``Limits.hide_paths`` and
    the folders that would stop the sandbox user from reaching what it keeps (read-only)."""
    masks: list[dict[str, Any]] = []
    if limits.private_tmp:
        for path in PRIVATE_TMP_DIRS:
            if os.path.isdir(path) and not os.path.islink(path):
                masks.append({"path": path, "mode": 0o1777, "size": limits.tmp_size_bytes, "ro": False})
    hidden = [os.path.abspath(p) for p in limits.hide_paths]
    if limits.system_only:
        hidden += _outside_the_system()
    for path in hidden:
        if path != workdir and not any(m["path"] == path for m in masks):
            masks.append(_empty_mask(path))
    if user is not None and os.geteuid() == 0:
        for keep in keeps:
            blocker = _blocking_ancestor(keep["path"], user["uid"], user["gid"])
            if blocker and not any(_under(blocker, m["path"]) for m in masks):
                masks.append(_empty_mask(blocker))
    return masks


def _outside_the_system() -> list[str]:
    """Every top-level folder that is not the operating system's, and the data folders of /var."""
    outside = []
    for name in sorted(os.listdir("/")):
        path = "/" + name
        if name not in SYSTEM_DIRS and os.path.isdir(path) and not os.path.islink(path):
            outside.append(path)
    return outside + [p for p in VAR_DATA_DIRS if os.path.isdir(p) and not os.path.islink(p)]


def _empty_mask(path: str) -> dict[str, Any]:
    return {"path": path, "mode": 0o755, "size": 1 * MB, "ro": True}


def _rlimits(limits: Limits) -> dict[str, int]:
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
    return rlimits


def _replacements(limits: Limits) -> list[dict[str, str]]:
    return [{"target": os.path.abspath(t), "source": os.path.abspath(r)} for t, r in limits.replace_paths]


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


class SandboxKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel runs in the sandbox described in docs/sandbox.md.

    Usable as nbclient's ``kernel_manager_class``; ``limits`` (a :class:`Limits`) and ``workdir``
    (default: the ``cwd`` given to ``start_kernel``) can be set as constructor arguments.
    """

    limits = AnyTrait(None, allow_none=True, help="nnlab_instructor.grading.sandbox.Limits of the kernel").tag(
        config=True
    )
    workdir = Unicode("", help="working copy of the student (the kernel's cwd and HOME)").tag(config=True)
    startup_code = Unicode("", help="trusted Python run in the kernel before any cell (an IPython startup file)").tag(
        config=True
    )
    preload = List(Unicode(), help="installed, trusted modules a forked kernel's server imports beforehand").tag(
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
        self._seccomp: dict[str, Any] | None = None
        self._log_tail: str | None = None
        self._fork_server: forking.ForkServer | None = None
        self._start_notes: list[str] = []

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
        shutil.copyfile(KERNEL_STARTUP, os.path.join(startup, "00-nnlab-sandbox.py"))
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
        self._fork_server = self._server(limits)
        self._plan = _plan(workdir, kdir, limits, user)
        self._write_plan()
        self._workdir_owner = (os.stat(workdir).st_uid, os.stat(workdir).st_gid)
        kw["cwd"] = workdir
        kw["env"] = _kernel_env(workdir, kdir, limits)
        return await super()._async_pre_start_kernel(**kw)

    def _server(self, limits: Limits) -> forking.ForkServer | None:
        """The fork server this kernel is forked from (None: a fresh interpreter is exec'd)."""
        if not limits.fork_kernels or not sys.platform.startswith("linux"):
            return None
        try:
            return forking.server_for(self.preload, _server_env(limits))
        except forking.ForkServerError as exc:
            self._start_notes.append(f"kernel started as a fresh interpreter: {exc}")
            return None

    def _write_plan(self) -> None:
        assert self.sandbox_dir is not None
        # the launcher's parent: the fork server when it forks the supervisor
        self._plan["parent_pid"] = self._fork_server.pid if self._fork_server else os.getpid()
        with open(os.path.join(self.sandbox_dir, "config.json"), "w") as f:
            json.dump(self._plan, f)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """This interpreter's ipykernel (whatever the notebook's kernelspec), behind the launcher."""
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
        kernel += list(extra_arguments or [])
        assert self.sandbox_dir is not None
        config = os.path.join(self.sandbox_dir, "config.json")
        return [sys.executable, "-I", "-S", str(LAUNCHER), config, "--", *kernel]

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        assert self.sandbox_dir is not None
        self._log_path = os.path.join(self.sandbox_dir, "kernel.log")
        with open(self._log_path, "wb") as log:
            kw["stdout"] = log
            kw["stderr"] = subprocess.STDOUT
            kw["env"] = {k: v for k, v in kw.get("env", {}).items() if k != "JPY_PARENT_PID"}
            if self._fork_server is None:
                await super()._async_launch_kernel(kernel_cmd, **kw)
            else:
                self._fork_kernel(kernel_cmd, log.fileno(), kw["env"], kw["cwd"])

    def _fork_kernel(self, kernel_cmd: list[str], log_fd: int, env: dict[str, str], cwd: str) -> None:
        """Have the fork server fork the launcher's set-up and the kernel that ``kernel_cmd`` (the launcher's
        command line) would exec. A server that died is started again, once."""
        assert self._fork_server is not None and self.provisioner is not None
        config, argv = kernel_cmd[kernel_cmd.index("--") - 1], kernel_cmd[kernel_cmd.index("--") + 1 :]
        # as jupyter_client's launch_kernel sets it (ipykernel watches its parent when it is its own)
        env = {**env, "JPY_PARENT_PID": str(os.getpid())}
        try:
            process = self._fork_server.spawn(config, argv, env, cwd, log_fd)
        except forking.ForkServerError:
            if self._fork_server.alive():
                raise
            self._fork_server = forking.server_for(self.preload, _server_env(self.limits))
            self._write_plan()
            process = self._fork_server.spawn(config, argv, env, cwd, log_fd)
        provisioner: Any = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid, provisioner.cwd = process, process.pid, process.pid, cwd
        self._reconcile_connection_info(provisioner.connection_info)

    def fork_server_lost(self) -> bool:
        """True when this kernel was forked and its server is gone (the kernel died with it, through no
        fault of the notebook's)."""
        return self._fork_server is not None and not self._fork_server.alive()

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
        """What the launcher enforced (available once the kernel has started)."""
        if self._info is None and self.sandbox_dir:
            self._info = self._read_json("info.json")
        if self._seccomp is None and self.sandbox_dir:
            self._seccomp = self._read_json("seccomp.json")
        info = self._info or {}
        seccomp = self._seccomp or {}
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
            user_namespaces_blocked=bool(seccomp.get("user_namespaces_blocked")),
            notes=list(info.get("notes", [])) + list(seccomp.get("notes", [])) + self._start_notes,
        )
        if "pid" in spaces:
            iso.orphan_cleanup = "PID namespace: every process of the kernel dies with it"
        elif info:
            iso.orphan_cleanup = "child subreaper + /proc scan (processes that escape both survive)"
        if info and not seccomp:
            iso.notes.append("user namespaces not refused: the launcher did not install its seccomp filter")
        self._add_notes(iso, spaces, masked)
        self.isolation = iso
        return iso

    def _add_notes(self, iso: Isolation, spaces: list[str], masked: list[str]) -> None:
        """Notes on what the limits asked for and the launcher did not do."""
        if self.limits.network:
            iso.notes.append("network allowed by Limits.network")
        if self._unresolved_user is not None:
            iso.notes.append(f"privileges not dropped: no user {self._unresolved_user!r}")
        elif self.limits.run_as is None:
            iso.notes.append("privileges not dropped: Limits.run_as is None")
        for mask in self._plan.get("masks", []):
            if mask["path"] not in masked and "mnt" in spaces and os.path.exists(mask["path"]):
                iso.notes.append(f"{mask['path']} not masked")

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
