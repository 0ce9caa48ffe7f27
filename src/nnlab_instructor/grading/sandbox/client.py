"""Executing the cells: :class:`SandboxNotebookClient` (nbclient with the sandbox's timeout policy and
output caps), :func:`execute_notebook` and :func:`drop_warning_streams`. Design notes: docs/sandbox.md."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import json
import os
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from queue import Empty
from typing import Any, cast

import nbformat
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from .forking import ForkServerError
from .kernel import SandboxKernelManager
from .limits import MB, TRUNCATION_MARKER, CellReport, ExecutionReport, GiB, Isolation, Limits

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


def _add_stream(outs: list[NotebookNode], cap: _Cap, limit: int, name: str, text: str) -> NotebookNode | None:
    """Add a stream message to a cell's outputs: merged into the stream output before it when it has
    the same name, and cut at the cell's output limit. Returns the output written to (None: dropped)."""
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


def _cap_error(content: dict[str, Any], cap: _Cap, limit: int) -> None:
    """Cut an error message's value and traceback to the cell's output limit (errors are always kept)."""
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
        kernel_manager: SandboxKernelManager | None = None,
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
        #: a kernel already started for this notebook (:mod:`.ahead`), with this client's limits and workdir
        self.started_km = kernel_manager

    def create_kernel_manager(self) -> SandboxKernelManager:
        self.km = self.sandbox_km = self.started_km or SandboxKernelManager(
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
            return _add_stream(outs, cap, limit, content.get("name", "stdout"), content.get("text", ""))
        if msg_type == "error":
            _cap_error(content, cap, limit)
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
        if reply == "killed" or self._timeout_outcome == "interrupted":
            self._record_timeout(cell, index, report, killed=reply == "killed")
        elif reply == "dead":
            self._record_death(cell, index, report)
        else:
            self._record_reply(cell, index, report)
        cap = self._caps.get(index, _Cap())
        report.stderr = cap.stderr
        if cap.dropped:
            report.truncated_bytes = cap.dropped
            _append_marker(cell, cap.dropped)
        return report.status

    def _record_timeout(self, cell: NotebookNode, index: int, report: CellReport, killed: bool) -> None:
        """The cell ran out of time: interrupted (the run goes on unless the notebook's budget ran out)
        or killed with its kernel (the run stops)."""
        limits = self.limits
        budget = self._budget_limited
        report.status = "timed out"
        how = "the kernel ignored the interrupt and was killed" if killed else "it was interrupted"
        if budget:
            what = (
                f"the notebook's time budget of {limits.notebook_timeout:g} s ran out during "
                f"{_describe(index, report)}; {how}"
            )
        else:
            what = f"{_describe(index, report)} ran for more than {limits.cell_timeout:g} s; {how}"
        cell.outputs.append(_error_output("CellTimeoutError", what))
        if killed:
            self.kernel_exit = "killed by the sandbox"
        if killed or budget:
            self.fatal = {"status": "timed out", "index": index, "detail": what}
        elif not self._first_fault:
            self._first_fault = {"status": "timed out", "index": index, "detail": what}

    def _record_death(self, cell: NotebookNode, index: int, report: CellReport) -> None:
        """The kernel died during the cell (the run stops): "out of memory" when it was SIGKILLed by
        anything but the sandbox (the OOM killer), else "kernel died"."""
        exit_info = self._wait_exit_info()
        ending = self.kernel_exit = _describe_exit(exit_info)
        oom = bool(exit_info and exit_info.get("signal") == signal.SIGKILL and not self._sandbox_km().killed_by_sandbox)
        report.status = "out of memory" if oom else "kernel died"
        what = (
            f"the kernel died while running {_describe(index, report)} ({ending}"
            + ("; probably killed for using too much memory" if oom else "")
            + ")"
        )
        cell.outputs.append(_error_output("DeadKernelError", what))
        self.fatal = {"status": report.status, "index": index, "detail": what}

    def _record_reply(self, cell: NotebookNode, index: int, report: CellReport) -> None:
        """The kernel answered: "ok", "error", or "out of memory" for a MemoryError."""
        error = _cell_error(cell)
        report.ename = error
        if error not in _MEMORY_ERRORS:
            report.status = "error" if error else "ok"
            return
        report.status = "out of memory"
        if not self._first_fault:
            self._first_fault = {
                "status": "out of memory",
                "index": index,
                "detail": (
                    f"{_describe(index, report)} ran out of memory ({error}, limit "
                    f"{_fmt_bytes(self.limits.memory_bytes)} of address space)"
                ),
            }

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
    kernel_manager: SandboxKernelManager | None = None,
) -> ExecutionReport:
    """Execute a notebook's code cells in a sandboxed kernel whose cwd and HOME are ``workdir``.

    ``nb`` is not modified: the executed copy is ``report.notebook``. Never raises for faults of the
    student's code; the report says what happened. Safe to call from a thread or a running event loop.
    ``startup_code`` runs in the kernel before any cell; ``cell_handler`` may take cells over (see
    :class:`SandboxNotebookClient`). ``kernel_manager``: a kernel already started for this notebook
    with these ``workdir``, ``limits`` and ``startup_code`` (:class:`~.ahead.KernelAhead`), used instead of
    starting one.
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
        return asyncio.run(_execute(notebook, workdir, limits, startup_code, cell_handler, kernel_manager))
    result: list[ExecutionReport] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(_execute(notebook, workdir, limits, startup_code, cell_handler, kernel_manager)))
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
    kernel_manager: SandboxKernelManager | None = None,
) -> ExecutionReport:
    start = time.monotonic()
    client = SandboxNotebookClient(
        nb,
        limits,
        os.path.realpath(workdir),
        startup_code=startup_code,
        cell_handler=cell_handler,
        kernel_manager=kernel_manager,
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
    if fatal.get("status") in ("kernel died", "out of memory") and km is not None and km.fork_server_lost():
        # the notebook is not at fault: the caller's error, not a result (a grader retries or keeps the old grade)
        raise ForkServerError(f"the fork server died, and the kernel with it, during cell {fatal['index']}")
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
