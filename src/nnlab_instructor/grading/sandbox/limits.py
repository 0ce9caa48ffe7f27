"""The sandbox's vocabulary: the :class:`Limits` asked for, the :class:`Isolation` enforced, and the
reports of a run (:class:`ExecutionReport`, :class:`CellReport`). Design notes: docs/sandbox.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat costs seconds to import; the limits are read by `nnlab --help`
    from nbformat import NotebookNode

GiB = 1024**3
MB = 1000**2

#: Appended (on stdout) to a cell whose output was cut; ``{n}`` is the number of bytes left out.
TRUNCATION_MARKER = "[output truncated: {n} bytes]"

#: Environment variables passed through to the kernel (everything else is dropped).
ENV_KEEP = ("PATH", "PYTHONHASHSEED", "LANG", "LC_ALL", "TZ")

#: Folders given a private, size-limited tmpfs inside the sandbox.
#: the environment variables naming a kernel's own folders (the rest of its environment is every kernel's)
PER_KERNEL_ENV = (
    "HOME", "TMPDIR", "IPYTHONDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
    "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
)  # fmt: skip
PRIVATE_TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")

#: What the kernel sees of the machine with ``Limits.system_only``: the operating system's own folders.
#: Every other top-level folder (/home, /root, /work, /srv, /opt, /mnt, /run...) and the data folders
#: of /var are masked; what the kernel imports and its working copy are bound back.
SYSTEM_DIRS = ("bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "tmp", "usr", "var")
VAR_DATA_DIRS = ("/var/lib", "/var/www", "/var/backups", "/var/mail", "/var/spool", "/var/opt", "/var/local")


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
    #: RLIMIT_AS of the kernel (address space, not RSS; see docs/sandbox.md)
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
    #: mask every folder outside SYSTEM_DIRS (other checkouts of the course, other people's files,
    #: sockets in /run) when mount namespaces work: the kernel sees the system, what it imports (its
    #: sys.path, ``keep_paths``) and its working copy
    system_only: bool = True
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
    #: start each kernel by forking it from a server (one per grading process) that imported ipykernel and
    #: the kernel's preloaded modules once, with the same sandbox set up in the fork (fork_server.py);
    #: False, or where no server can run: a fresh interpreter per kernel (``python -m ipykernel_launcher``)
    fork_kernels: bool = True

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
    """What the sandbox actually enforced for one run (filled from the launcher's own account)."""

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
    #: a seccomp filter refuses user namespaces to the kernel and its children (unshare and clone with
    #: CLONE_NEWUSER fail with EPERM, clone3 with ENOSYS)
    user_namespaces_blocked: bool = False
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
            "user namespaces: " + ("refused (seccomp)" if self.user_namespaces_blocked else "NOT refused"),
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
