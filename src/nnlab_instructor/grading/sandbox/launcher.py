"""The sandbox's launcher: sets up the isolation, then becomes the student's kernel.

Run by :class:`~nnlab_instructor.grading.sandbox.kernel.SandboxKernelManager` as
``python -I -S launcher.py config.json -- kernel argv...``, as the grader's user (root for the full
isolation). Standard library only, and it must not import nnlab (``-I -S``: no site-packages). It writes
what it enforced to ``info.json``, whether its seccomp filter refuses user namespaces to ``seccomp.json``
and, as the kernel's supervisor, how the kernel ended to ``exit.json``, next to ``config.json``.
Design notes: docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_NEWUSER = 0x10000000

#: the launcher's configuration (written by the kernel manager) and its account of the run
Config = dict[str, Any]
Info = dict[str, Any]

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.unshare.argtypes = [ctypes.c_int]


def enc(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def oserr(what: str) -> OSError:
    e = ctypes.get_errno()
    return OSError(e, f"{what}: {os.strerror(e)}")


def prctl(option: int, value: int) -> bool:
    return bool(libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0)


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        raise oserr(f"mount {target}")


def write_json(dir_fd: int, name: str, obj: Any) -> None:
    """Write dir/name atomically through a descriptor of dir (valid whatever gets mounted later)."""
    fd = os.open(name + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    os.rename(name + ".tmp", name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


# --------------------------------------------------------------------------------------------------
# Processes


def descendants(root: int) -> set[int]:
    """pids whose parent chain leads to root (read from /proc)."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
                parent[int(name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in found}
        found |= frontier
    return found


def kill_descendants() -> None:
    me = os.getpid()
    for _ in range(20):
        pids = descendants(me)
        if not pids:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        while True:  # reap what died
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


# --------------------------------------------------------------------------------------------------
# Namespaces and mounts


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def unshare(name: str, flag: int, info: Info) -> bool:
    if not sys.platform.startswith("linux"):
        info["notes"].append(f"{name} namespace not available: not Linux")
        return False
    if libc.unshare(flag) == 0:
        info["namespaces"].append(name)
        return True
    info["notes"].append(f"{name} namespace not available: {os.strerror(ctypes.get_errno())}")
    return False


def enter_namespaces(cfg: Config, info: Info) -> None:
    """The network (unless allowed) and PID namespaces, shared by the supervisor and the kernel."""
    wanted = []
    if not cfg["network"]:
        wanted.append(("net", CLONE_NEWNET))
    wanted.append(("pid", CLONE_NEWPID))
    if not cfg["namespaces"]:
        info["notes"].append("namespaces not used: Limits.namespaces is False")
        wanted = []
    for name, flag in wanted:
        unshare(name, flag, info)


def setup_mounts(cfg: Config, info: Info, pidns: bool) -> None:
    """In the kernel's own mount namespace: a private /proc, the masks, and what is bound back."""
    try:
        mount("none", "/", None, MS_REC | MS_PRIVATE)
    except OSError as exc:
        info["notes"].append(f"mount isolation not available: {exc}")
        info["namespaces"].remove("mnt")
        return
    if pidns:
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            info["proc_private"] = True
        except OSError as exc:
            info["notes"].append(f"private /proc not mounted: {exc}")
    # what is bound back or over is opened before anything is masked
    keeps = open_keeps(cfg)
    replacements = open_replacements(cfg, info)
    masked = mount_masks(cfg, info)
    bound = bind_keeps(keeps, masked, info)
    info["replaced"] = bind_replacements(replacements, info)
    seal_masks(masked, info)
    info["masked"] = [m["path"] for m in masked]
    info["kept"] = bound


def open_keeps(cfg: Config) -> list[tuple[dict[str, Any], int, bool]]:
    """(keep, O_PATH descriptor, is a folder) of each path to bind back, shallowest first."""
    keeps = []
    for keep in sorted(cfg["keeps"], key=lambda k: k["path"].count("/")):
        try:
            fd = os.open(keep["path"], os.O_PATH)
        except OSError:
            continue
        keeps.append((keep, fd, os.path.isdir(keep["path"])))
    return keeps


def open_replacements(cfg: Config, info: Info) -> list[tuple[str, int]]:
    """(target, O_PATH descriptor of its replacement) of each path to replace."""
    replacements = []
    for rep in cfg.get("replacements", []):
        try:
            replacements.append((rep["target"], os.open(rep["source"], os.O_PATH)))
        except OSError as exc:
            info["notes"].append(f"could not replace {rep['target']}: {exc}")
    return replacements


def mount_masks(cfg: Config, info: Info) -> list[dict[str, Any]]:
    """An empty tmpfs over each folder to mask, /dev/null over each file; returns the masks mounted."""
    masked = []
    for mask in sorted(cfg["masks"], key=lambda m: m["path"].count("/")):
        path = mask["path"]
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_options(mask))
            elif os.path.isfile(path) and not os.path.islink(path):
                mount("/dev/null", path, None, MS_BIND)
            else:
                continue
        except OSError as exc:
            info["notes"].append(f"could not mask {path}: {exc}")
            continue
        masked.append(mask)
    return masked


def tmpfs_options(mask: dict[str, Any]) -> str:
    return f"mode={mask['mode']:o},size={mask['size']:d}"


def bind_keeps(keeps: list[tuple[dict[str, Any], int, bool]], masked: list[dict[str, Any]], info: Info) -> list[str]:
    """Bind back, at its own path, each kept path that a mask covers; closes the descriptors."""
    bound: list[str] = []
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
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        bound.append(path)
        if keep["ro"]:
            try:
                mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            except OSError as exc:
                info["notes"].append(f"{path} bound back writable: {exc}")
    for _keep, fd, _isdir in keeps:
        os.close(fd)
    return bound


def bind_replacements(replacements: list[tuple[str, int]], info: Info) -> list[str]:
    """Bind each replacement, read-only, over its target; closes the descriptors."""
    replaced = []
    for target, fd in replacements:
        try:
            mount(f"/proc/self/fd/{fd}", target, None, MS_BIND)
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            replaced.append(target)
        except OSError as exc:
            info["notes"].append(f"could not replace {target}: {exc}")
        os.close(fd)
    return replaced


def seal_masks(masked: list[dict[str, Any]], info: Info) -> None:
    """Remount read-only the masking tmpfs meant to stay empty (not the private /tmp)."""
    for mask in masked:
        if mask["ro"] and os.path.isdir(mask["path"]):
            try:
                mount(None, mask["path"], None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, tmpfs_options(mask))
            except OSError as exc:
                info["notes"].append(f"could not make {mask['path']} read-only: {exc}")


# --------------------------------------------------------------------------------------------------
# rlimits and the user


def apply_rlimits(limits: dict[str, int], info: Info) -> None:
    """Every rlimit but RLIMIT_NPROC (which only binds once unprivileged)."""
    for name, value in sorted(limits.items()):
        if name == "RLIMIT_NPROC":
            continue
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            info["rlimits"][name] = value
        except (ValueError, OSError, AttributeError) as exc:
            info["notes"].append(f"{name} not applied: {exc}")


def chown_tree(root: str, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, gid)


def can_run_as(uid: int, gid: int, cfg: Config, exe: str) -> list[str]:
    """Fork, become uid, check the interpreter and the needed folders are reachable."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.write(w, json.dumps(unreachable(cfg, exe)).encode())
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
        problems: list[str] = json.loads(data.decode())
        return problems
    except ValueError:
        return ["(check failed)"]


def unreachable(cfg: Config, exe: str) -> list[str]:
    """What this process cannot run, read or write among what the kernel needs."""
    problems = []
    if not os.access(exe, os.X_OK):
        problems.append(exe)
    for path in cfg["must_read"]:
        if not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
            problems.append(path)
    for path in cfg["must_write"]:
        if not os.access(path, os.W_OK | os.X_OK):
            problems.append(path)
    return problems


def choose_user(cfg: Config, info: Info, exe: str) -> dict[str, Any] | None:
    """The user the kernel will run as (None: stay the grader's user), the working copy given to it."""
    drop: dict[str, Any] | None = cfg["run_as"]
    if drop is not None and os.geteuid() != 0:
        info["notes"].append("privileges not dropped: the grader does not run as root")
        return None
    if drop is None:
        return None
    uid, gid = drop["uid"], drop["gid"]
    for path in cfg["must_write"]:
        chown_tree(path, uid, gid)
    info["chowned"] = True
    problems = can_run_as(uid, gid, cfg, exe)
    if problems:
        info["notes"].append(f"privileges not dropped: {drop['name']} cannot reach {', '.join(problems)}")
        return None
    return drop


def limit_processes(limits: dict[str, int], info: Info, drop: dict[str, Any] | None) -> None:
    """RLIMIT_NPROC, when the kernel will run unprivileged, and the account of the user."""
    if drop is not None:
        if "RLIMIT_NPROC" in limits:
            value = limits["RLIMIT_NPROC"]
            resource.setrlimit(resource.RLIMIT_NPROC, (value, value))
            info["rlimits"]["RLIMIT_NPROC"] = value
        info["user"] = f"{drop['name']} (uid {drop['uid']:d})"
    elif "RLIMIT_NPROC" in limits:
        info["notes"].append("RLIMIT_NPROC not applied: it does not bind root / a shared user")


def drop_privileges(drop: dict[str, Any]) -> None:
    os.setgroups([])
    os.setresgid(drop["gid"], drop["gid"], drop["gid"])
    os.setresuid(drop["uid"], drop["uid"], drop["uid"])
    if os.getuid() != drop["uid"] or os.geteuid() != drop["uid"]:
        os._exit(71)


# --------------------------------------------------------------------------------------------------
# No user namespaces for the student: a seccomp filter
#
# An unprivileged user namespace gives its creator every capability inside it, hence much more of the
# Linux kernel to attack (the way in of many local privilege escalations). The filter makes unshare() and
# clone() with CLONE_NEWUSER fail with EPERM, and clone3() fail with ENOSYS: its flags are in memory
# that a filter cannot read, and glibc falls back to clone() when clone3() is missing. Every other
# system call, clone() of threads and processes included, is allowed.

#: the system calls' numbers on each machine (uname -m): its AUDIT_ARCH_*, unshare, clone, clone3
SYSCALLS = {
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
#: on x86_64, the x32 ABI's system calls (refused with ENOSYS, as on kernels without x32)
X32_SYSCALL_BIT = 0x40000000

# classic BPF (linux/filter.h, linux/bpf_common.h) and seccomp (linux/seccomp.h)
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, SECCOMP_RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
#: offsets in struct seccomp_data {int nr; u32 arch; u64 instruction_pointer; u64 args[6]}
SECCOMP_NR, SECCOMP_ARCH, SECCOMP_ARG0 = 0, 4, 16

#: one BPF instruction: (code, jump if true, jump if false, k); a jump is a label or None (the next one)
Step = tuple[int, str | None, str | None, int]


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def machine() -> str:
    """uname -m of this process's ABI (a 32-bit interpreter on a 64-bit kernel is not its kernel's)."""
    name = os.uname().machine
    return name if sys.maxsize > 2**32 else f"{name} (32-bit interpreter)"


def user_namespace_filter(arch_name: str, byteorder: str = sys.byteorder) -> list[tuple[int, int, int, int]] | None:
    """The seccomp filter refusing user namespaces on machine ``arch_name`` (None: unknown machine),
    as (code, jt, jf, k) instructions. A system call of another ABI (32-bit code) kills the process."""
    if arch_name not in SYSCALLS:
        return None
    audit_arch, nr_unshare, nr_clone, nr_clone3 = SYSCALLS[arch_name]
    # the low 32 bits of args[0] (the flags of unshare and clone) come first on little-endian machines
    flags = SECCOMP_ARG0 + (4 if byteorder == "big" else 0)
    x32: list[Step | str] = [(BPF_JGE_K, "enosys", None, X32_SYSCALL_BIT)] if arch_name == "x86_64" else []
    program: list[Step | str] = [
        (BPF_LD_W_ABS, None, None, SECCOMP_ARCH),
        (BPF_JEQ_K, None, "kill", audit_arch),
        (BPF_LD_W_ABS, None, None, SECCOMP_NR),
        *x32,
        (BPF_JEQ_K, "enosys", None, nr_clone3),
        (BPF_JEQ_K, "flags", None, nr_unshare),
        (BPF_JEQ_K, "flags", None, nr_clone),
        (BPF_RET_K, None, None, SECCOMP_RET_ALLOW),
        "flags",
        (BPF_LD_W_ABS, None, None, flags),
        (BPF_JSET_K, "eperm", None, CLONE_NEWUSER),
        (BPF_RET_K, None, None, SECCOMP_RET_ALLOW),
        "eperm",
        (BPF_RET_K, None, None, SECCOMP_RET_ERRNO | errno.EPERM),
        "enosys",
        (BPF_RET_K, None, None, SECCOMP_RET_ERRNO | errno.ENOSYS),
        "kill",
        (BPF_RET_K, None, None, SECCOMP_RET_KILL_PROCESS),
    ]
    return assemble(program)


def assemble(program: list[Step | str]) -> list[tuple[int, int, int, int]]:
    """Resolve the labels (the strings between instructions) into BPF's relative jumps."""
    labels: dict[str, int] = {}
    steps: list[Step] = []
    for item in program:
        if isinstance(item, str):
            labels[item] = len(steps)
        else:
            steps.append(item)

    def offset(label: str | None, index: int) -> int:
        return 0 if label is None else labels[label] - index - 1

    return [(code, offset(jt, i), offset(jf, i), k) for i, (code, jt, jf, k) in enumerate(steps)]


def install_filter(program: list[tuple[int, int, int, int]]) -> None:
    """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog): for this process and everything it execs."""
    filters = (SockFilter * len(program))(*(SockFilter(*step) for step in program))
    prog = SockFprog(len(program), filters)
    zero = ctypes.c_ulong(0)
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog), zero, zero) != 0:
        raise oserr("prctl(PR_SET_SECCOMP)")


def block_user_namespaces() -> dict[str, Any]:
    """Install the filter; returns the account for seccomp.json (why not, when it was not)."""
    if not sys.platform.startswith("linux"):
        return {"user_namespaces_blocked": False, "notes": ["user namespaces not refused: not Linux"]}
    program = user_namespace_filter(machine())
    if program is None:
        note = f"user namespaces not refused: no seccomp filter for this machine ({machine()})"
        return {"user_namespaces_blocked": False, "notes": [note]}
    try:
        install_filter(program)
    except OSError as exc:
        return {"user_namespaces_blocked": False, "notes": [f"user namespaces not refused: {exc}"]}
    return {"user_namespaces_blocked": True, "notes": []}


def write_account(fd: int, obj: Any) -> None:
    """Write obj as JSON to fd (a file opened before the privileges were dropped) and close it."""
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)


# --------------------------------------------------------------------------------------------------
# The two processes: the kernel and its supervisor


def main() -> None:
    launch(sys.argv[1], sys.argv[3:], exec_kernel)


def exec_kernel(argv: list[str]) -> None:
    """The kernel is a program of its own: replace this process by it."""
    os.execv(argv[0], argv)


def launch(cfg_path: str, argv: list[str], start_kernel: Callable[[list[str]], None]) -> None:
    """Set up the sandbox described in ``cfg_path``, stay as its supervisor and, in a child, call
    ``start_kernel(argv)`` once that child is isolated and unprivileged (it must not return)."""
    with open(cfg_path) as f:
        cfg = json.load(f)
    base = os.open(os.path.dirname(cfg_path), os.O_RDONLY | os.O_DIRECTORY)
    info: Info = {
        "namespaces": [],
        "notes": [],
        "rlimits": {},
        "user": None,
        "no_new_privs": False,
        "masked": [],
        "kept": [],
        "proc_private": False,
        "chowned": False,
    }
    os.umask(0o022)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != cfg["parent_pid"]:
        os._exit(70)
    enter_namespaces(cfg, info)
    pidns = "pid" in info["namespaces"]
    supervisor_pid = os.getpid()
    kernel_pid = os.fork()
    if kernel_pid:
        supervise(kernel_pid, base, pidns)
        return
    # the child becomes the kernel (PID 1 of its namespace when pidns)
    try:
        become_kernel(cfg, info, base, argv, 0 if pidns else supervisor_pid, start_kernel)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(70)


def become_kernel(
    cfg: Config, info: Info, base: int, argv: list[str], parent_pid: int, start_kernel: Callable[[list[str]], None]
) -> None:
    """Isolate this process, account for it in info.json, drop privileges, refuse user namespaces
    (accounted for in seccomp.json) and start the kernel."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # the mount namespace is the kernel's alone (the supervisor stays in the grader's)
    if cfg["namespaces"] and unshare("mnt", CLONE_NEWNS, info):
        setup_mounts(cfg, info, "pid" in info["namespaces"])
    limits = cfg["rlimits"]
    apply_rlimits(limits, info)
    drop = choose_user(cfg, info, argv[0])
    limit_processes(limits, info, drop)
    os.chdir(cfg["cwd"])
    if prctl(PR_SET_NO_NEW_PRIVS, 1):
        info["no_new_privs"] = True
    # opened now: once unprivileged, this process cannot create files in the sandbox's folder
    seccomp_fd = os.open("seccomp.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600, dir_fd=base)
    write_json(base, "info.json", info)
    os.close(base)
    if drop is not None:
        drop_privileges(drop)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # cleared by the uid change
    # the uid change also made this process undumpable (its /proc files root's): an exec would make it
    # dumpable again, and a kernel started without one must be in the same state
    prctl(PR_SET_DUMPABLE, 1)
    write_account(seccomp_fd, block_user_namespaces())
    if os.getppid() != parent_pid:
        os._exit(72)  # the supervisor is gone already
    start_kernel(argv)


def supervise(kernel_pid: int, base: int, pidns: bool) -> None:
    """Root parent of the kernel: reaps, kills what is left, reports how the kernel ended."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are for the kernel (same process group)

    def terminate(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            os.kill(kernel_pid, signal.SIGKILL)
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
        result: dict[str, Any] = {"killed": False, "exitcode": None, "signal": None}
        if os.WIFSIGNALED(status):
            result["signal"] = os.WTERMSIG(status)
        else:
            result["exitcode"] = os.WEXITSTATUS(status)
        kill_descendants()
        write_json(base, "exit.json", result)
        os._exit(128 + result["signal"] if result["signal"] else result["exitcode"])


if __name__ == "__main__":
    main()
