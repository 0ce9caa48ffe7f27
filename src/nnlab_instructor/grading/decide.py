"""Grading one notebook: the student's cells run in a sandboxed kernel, the test cells run here.

The student's kernel only computes: when a test cell calls ``checks.call_own(softmax, Z, ...)``, this
process sends ``Z`` to the kernel, the kernel runs the student's ``softmax`` on it and sends back what
it returned (:mod:`nnlab_instructor.grading.wire_format`, never pickle). The test cell itself -- the
instructor's source, hidden tests included -- runs in this process with the real numpy and nnlab, so
nothing a student does inside the kernel (patching numpy or nnlab, redefining ``assert`` or the checks,
IPython input or AST transformers, ``skip-execution`` tags, ``sys.displayhook``, printing "tests
passed", a fake module next to the notebook) can decide a point. The kernel never sees a hidden
test, and the course's answer key (:mod:`nnlab_instructor.reference`) cannot be imported or read
there; the test cells' expected values are computed here, from it.

Locked cells run in the kernel only when the student's cells need what they define (the set-up
cell), so slow demos are not repeated for every student; the test cells get, in this process, the
locked cells they need.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import copy
import dataclasses
import functools
import hashlib
import io
import logging
import os
import re
import symtable
import sys
import tempfile
import traceback
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import nbformat
import numpy as np
from nbgrader.utils import is_grade, is_solution

from nnlab import checks

from .. import reference as reference_module
from . import kernel_link, wire_format
from .sandbox import ExecutionReport, Limits, SandboxNotebookClient, execute_notebook

if TYPE_CHECKING:
    from .sandbox.ahead import KernelAhead

HIDDEN_REGION = re.compile(r"^\s*### BEGIN HIDDEN TESTS\s*$(.*?)^\s*### END HIDDEN TESTS\s*$", re.S | re.M)
MAGIC_LINE = re.compile(r"^\s*[%!].*$", re.M)
T = TypeVar("T")


@dataclass
class Verdict:
    """Outcome of one test cell: passed or not, and what the student is told."""

    passed: bool
    message: str = ""


@dataclass
class GradedNotebook:
    """One executed notebook: test outputs decided here, other outputs from the kernel."""

    notebook: nbformat.NotebookNode
    verdicts: dict[str, Verdict]
    execution: ExecutionReport
    tampering: list[str] = field(default_factory=list)


class KernelFault(Exception):
    """The kernel timed out, ran out of memory or died while running the student's function."""


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _is_test(cell) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def _cached_by_source(function: Callable[[str], T]) -> Callable[[str], T]:
    """``function`` of a cell's source, remembered for sources of the course's size: a worker asks the same
    questions of the same locked cells for every student, while a student's own (possibly huge) cells
    are asked about once and not kept."""
    cached = functools.lru_cache(maxsize=1024)(function)

    @functools.wraps(function)
    def call(source: str) -> T:
        return cached(source) if len(source) <= 20_000 else function(source)

    call.cache_info = cached.cache_info  # type: ignore[attr-defined]
    return call


@_cached_by_source
def _names(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """Top-level names a cell defines, and all names it reads (nothing when it does not parse)."""
    try:
        tree = ast.parse(MAGIC_LINE.sub("", source))
    except SyntaxError:
        return frozenset(), frozenset()
    defined: set[str] = set()
    used: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in statement.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else used).add(node.id)
    return frozenset(defined), frozenset(used)


@_cached_by_source
def _free_names(source: str) -> frozenset[str]:
    """Names a cell reads from the notebook's global namespace (not the ones it defines first)."""
    try:
        top = symtable.symtable(MAGIC_LINE.sub("", source), "<cell>", "exec")
    except SyntaxError:
        return frozenset()
    free = {
        s.get_name() for s in top.get_symbols() if s.is_referenced() and not s.is_assigned() and not s.is_imported()
    }
    stack = list(top.get_children())
    while stack:
        table = stack.pop()
        stack.extend(table.get_children())
        for symbol in table.get_symbols():
            name = symbol.get_name()
            if symbol.is_global() and symbol.is_referenced() and not _assigned_at_top(top, name):
                free.add(name)
    return frozenset(free)


def _assigned_at_top(top: symtable.SymbolTable, name: str) -> bool:
    try:
        symbol = top.lookup(name)
    except KeyError:
        return False
    return symbol.is_assigned() or symbol.is_imported()


def _needed(cells: list, consumers: list) -> set[str]:
    """Ids of the locked cells among ``cells`` that define what ``consumers`` read, transitively."""
    wanted: set[str] = set()
    for cell in consumers:
        wanted |= _free_names(cell.source)
    keep: set[str] = set()
    for cell in reversed(cells):
        if _names(cell.source)[0] & wanted:
            keep.add(cell.id)
            wanted |= _free_names(cell.source)
    return keep


def _hidden_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for match in HIDDEN_REGION.finditer(source):
        first = source[: match.start()].count("\n") + 1
        lines.update(range(first, first + match.group(0).count("\n") + 1))
    return lines


def explain(error: BaseException, filename: str, hidden: set[int]) -> str:
    """What the student is told: the check's message, without reference values when a hidden test failed."""
    # Hidden if the failure passed through a hidden line, whichever frame raised it: a helper defined
    # above the hidden region and called from inside it fails on a hidden case.
    lines = {f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename == filename}
    in_hidden = bool(lines & hidden)
    if isinstance(error, checks.CheckFailure):
        text = error.public if in_hidden else str(error)
    elif isinstance(error, checks.StudentError):
        text = f"your function raised {error}"
    elif isinstance(error, KernelFault):
        text = str(error)
    elif isinstance(error, AssertionError):
        text = str(error) if (str(error) and not in_hidden) else "an assertion failed"
    elif in_hidden:
        text = f"{type(error).__name__} (the hidden case's details are not shown)"
    else:
        text = f"{type(error).__name__}: {error}"
    return ("a hidden test failed: " if in_hidden else "") + text


# Bounds of what the grader computes for a student's code (calls to the course's versions of the other
# graded functions): far above what any test passes (MNIST-sized arrays of the built-in split, a few
# thousand batches), far below what could keep a grading worker busy for long or exhaust its memory.
CALLBACK_LIMITS = {"bytes": 16 * 2**20, "integer": 10**6, "items": 10**5}


def _check_callback_arguments(value: Any) -> None:
    """Refuse arguments whose size would make the course's function run long: huge counts or lists."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, np.integer)) and abs(int(value)) > CALLBACK_LIMITS["integer"]:
        raise ValueError(f"the number {int(value):,} is larger than any test of this course passes")
    if isinstance(value, (list, tuple)):
        if len(value) > CALLBACK_LIMITS["items"]:
            raise ValueError(f"a list of {len(value):,} items is longer than any test of this course passes")
        for item in value:
            _check_callback_arguments(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_callback_arguments(item)


#: per process: the namespace the set-up cells built (never handed out; students get copies), by set-up key
_SET_UP_NAMESPACES: dict[str, dict[str, Any]] = {}


def fresh_namespace(namespace: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of a set-up namespace that shares no mutable object with it; None if it cannot be made.

    Modules are shared (they are the process's); everything else is deep-copied, and the functions the
    set-up cells defined are rebound to the copy (their globals are the namespace they were defined in).
    A class defined by a set-up cell, a closure or an object that cannot be copied: None (the set-up
    cells then run again for each student, as they always may).
    """
    memo: dict[int, Any] = {id(module): module for module in list(sys.modules.values())}
    try:
        fresh = copy.deepcopy(namespace, memo)
    except Exception:
        return None
    for name, value in fresh.items():
        if isinstance(value, type) and value.__module__ == namespace.get("__name__"):
            return None
        if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
            if value.__closure__ is not None:
                return None
            rebound = types.FunctionType(
                value.__code__, fresh, value.__name__, copy.deepcopy(value.__defaults__, memo), None
            )
            rebound.__kwdefaults__ = copy.deepcopy(value.__kwdefaults__, memo)
            rebound.__dict__.update(copy.deepcopy(value.__dict__, memo))
            rebound.__qualname__, rebound.__doc__ = value.__qualname__, value.__doc__
            rebound.__module__ = value.__module__
            fresh[name] = rebound
    return fresh


@contextlib.contextmanager
def _logging_at_least(level: int, name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(max(level, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(before)


class StudentFunction:
    """Stands for a student's function in the trusted namespace: only call_own may use it."""

    def __init__(self, name: str):
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise checks.CheckFailure(f"the test called {self.__name__} directly instead of through checks.call_own")


class Grader:
    """Drives one notebook: decides, cell by cell, what runs in the kernel and what runs here."""

    def __init__(
        self,
        source: nbformat.NotebookNode,
        notebook: nbformat.NotebookNode,
        workdir: Path,
        trusted: Path | None = None,
        trusted_files_digest: str | None = None,
    ):
        self.source = source
        self.trusted = trusted
        #: the trusted files' digest: with it, the set-up cells' namespace is built once per process
        self.trusted_files_digest = trusted_files_digest
        self.notebook = notebook
        self.workdir = workdir
        self.calls_dir = workdir / ".nnlab-calls"
        self.calls = 0
        self.verdicts: dict[str, Verdict] = {}
        self.tests = {_meta(c)["grade_id"]: c for c in source.cells if _is_test(c)}
        self.solutions = [c for c in source.cells if c.cell_type == "code" and _meta(c).get("solution")]
        # The functions this notebook grades: while one of them is tested, the others it calls are the
        # course's versions, so that a mistake in one costs points in its own tests only.
        self.graded_names = sorted(
            {name for cell in self.solutions for name in _names(cell.source)[0] if name.isidentifier()}
        )
        self.course_namespace: dict[str, Any] | None = None
        locked_source = [
            c for c in source.cells if c.cell_type == "code" and not _is_test(c) and not _meta(c).get("solution")
        ]
        self.trusted_setup = [c for c in locked_source if c.id in _needed(locked_source, list(self.tests.values()))]
        student_cells = [c for c in notebook.cells if c.cell_type == "code" and not _meta(c).get("locked")]
        locked_here = [
            c for c in notebook.cells if c.cell_type == "code" and _meta(c).get("locked") and not _is_test(c)
        ]
        self.kernel_locked = _needed(locked_here, student_cells)
        self.namespace: dict[str, Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: SandboxNotebookClient | None = None

    # -- the trusted side ---------------------------------------------------------------------------

    def _trusted_namespace(self) -> dict[str, Any]:
        if self.namespace is None:
            checks.use_answer_key(reference_module)
            key = self._set_up_key()
            built = _SET_UP_NAMESPACES.get(key) if key else None
            # Each student gets a copy of what the set-up cells built: nothing a test (or, through the
            # arguments call_own hands back, a student's function) changes in it reaches the next student.
            self.namespace = fresh_namespace(built) if built is not None else None
            if self.namespace is None:
                self.namespace = self._run_set_up()
                if key and (kept := fresh_namespace(self.namespace)) is not None:
                    _SET_UP_NAMESPACES.clear()  # one assignment at a time: keep memory bounded
                    _SET_UP_NAMESPACES[key] = kept
        return self.namespace

    def _set_up_key(self) -> str | None:
        """What the set-up namespace depends on: the set-up cells, the stand-ins, the trusted files."""
        if self.trusted_files_digest is None:
            return None
        sha = hashlib.sha256(self.trusted_files_digest.encode())
        for cell in self.trusted_setup:
            sha.update(b"\0cell\0" + cell.source.encode())
        for cell in self.solutions:
            sha.update(b"\0solution\0" + " ".join(sorted(_names(cell.source)[0])).encode())
        return sha.hexdigest()

    def _run_set_up(self) -> dict[str, Any]:
        """The set-up cells run here, on the trusted files (the student functions are stand-ins)."""
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        for cell in self.source.cells:
            if cell.cell_type == "code" and _meta(cell).get("solution"):
                for name in _names(cell.source)[0]:
                    namespace[name] = StudentFunction(name)
        if self.trusted is not None:
            # The set-up cell imports the files released with the notebook: the trusted copies, never
            # the student's (this process grades one student, so the path and modules stay put).
            sys.path.insert(0, str(self.trusted))
            for module in [m for m in sys.modules if m.split(".")[0] == "earlier_steps"]:
                del sys.modules[module]
        # What the set-up cells say (nnlab's "loaded MNIST..." line, printed or logged) is for a notebook's
        # reader; here it would land in the grading command's output, in the middle of its progress bar.
        with contextlib.redirect_stdout(io.StringIO()), _logging_at_least(logging.WARNING, "nnlab"):
            for cell in self.trusted_setup:
                exec(
                    compile(MAGIC_LINE.sub("", cell.source), f"<set-up cell {_meta(cell).get('grade_id')}>", "exec"),
                    namespace,
                )
        return namespace

    def _course_functions(self) -> dict[str, Any]:
        """The course's versions of this notebook's graded functions (its solution cells), here, never in the kernel."""
        if self.course_namespace is None:
            namespace = dict(self._trusted_namespace())
            for cell in self.solutions:
                code = compile(MAGIC_LINE.sub("", cell.source), f"<solution {_meta(cell).get('grade_id')}>", "exec")
                exec(code, namespace)
            self.course_namespace = namespace
        return self.course_namespace

    def _answer(self, request: Path, answer: Path) -> None:
        """Run the course's version of a graded function on what the kernel sent; write what it returned.

        The student's code chooses the arguments and this process has no time budget of its own: calls
        beyond :data:`CALLBACK_LIMITS` are refused (the student's function then fails its test), so no
        submission can keep the grader busy or make it run out of memory.
        """
        size = request.stat().st_size
        if size > CALLBACK_LIMITS["bytes"]:
            result: dict[str, Any] = {
                "raised": ["ValueError", f"{size:,} bytes of arguments: more than any test of this course passes"]
            }
            args, kwargs = (), {}
        else:
            name, args, kwargs = wire_format.load(request)
            try:
                if name not in self.graded_names:
                    raise LookupError(f"{name!r} is not a function this notebook grades")
                _check_callback_arguments([args, kwargs])
                result = {"output": self._course_functions()[name](*args, **kwargs)}
            except Exception as error:
                result = {"raised": [type(error).__name__, str(error)]}
        result["after"] = [list(args), kwargs]
        partial = answer.with_name(f".{answer.name}")
        wire_format.save(partial, result)
        partial.chmod(0o644)
        os.replace(partial, answer)  # whole, or not there at all
        request.unlink(missing_ok=True)

    async def _answer_callbacks(self, call: str, done: asyncio.Event) -> None:
        """While a graded call runs, answer its calls to the course's versions of the other graded functions."""
        number, pause = 1, 0.0005
        while True:
            request = self.workdir / kernel_link.CALLBACK.format(call=call, number=number)
            if request.exists():
                answer = self.calls_dir / kernel_link.CALLBACK_REPLY.format(call=call, number=number)
                await asyncio.to_thread(self._answer, request, answer)
                number, pause = number + 1, 0.0005
            elif done.is_set():
                return
            else:
                # woken by the end of the call at once: a sleep here delayed every graded call's result
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), pause)
                pause = min(2 * pause, 0.01)

    def _run_test(self, grade_id: str) -> tuple[Verdict, list]:
        source = self.tests[grade_id].source
        filename = f"<test cell {grade_id}>"
        printed: list = []
        checks.set_remote(lambda *call: self._remote(printed, *call))
        try:
            exec(compile(MAGIC_LINE.sub("", source), filename, "exec"), self._trusted_namespace())
            return Verdict(True), printed
        except BaseException as error:
            return Verdict(False, explain(error, filename, _hidden_lines(source))), printed
        finally:
            checks.set_remote(None)

    def _remote(self, printed: list, function: str, args: tuple, kwargs: dict) -> tuple:
        """Called from the test's thread: run the student's function in the kernel, on the event loop."""
        assert self.loop is not None  # handle() set it before it started the test
        future = asyncio.run_coroutine_threadsafe(self._call_in_kernel(printed, function, args, kwargs), self.loop)
        return future.result()

    async def _call_in_kernel(self, printed: list, function: str, args: tuple, kwargs: dict) -> tuple:
        assert self.client is not None  # handle() set it before it started the test
        self.calls += 1
        self.calls_dir.mkdir(exist_ok=True)
        request = self.calls_dir / f"call-{self.calls}.npy"
        # the kernel runs as another user: it writes its reply into its own working copy
        reply = self.workdir / f"reply-{self.calls}.npy"
        wire_format.save(request, [list(args), kwargs])
        request.chmod(0o644)
        stand_ins = tuple(name for name in self.graded_names if name != function)
        code = (
            f"__import__('nnlab_instructor.grading.kernel_link', fromlist=['serve_call']).serve_call("
            f"get_ipython().user_ns, {function!r}, {str(request)!r}, {str(reply)!r}, {stand_ins!r})"
        )
        cell = nbformat.v4.new_code_cell(code)
        done = asyncio.Event()
        answering = asyncio.create_task(self._answer_callbacks(reply.stem, done))
        try:
            status = await self.client.execute_in_kernel(cell, self.current_index)
        finally:
            done.set()
            await answering
        printed.extend(o for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")
        if status in ("timed out", "kernel died", "not run") or (status == "out of memory" and not reply.exists()):
            detail = self.client.fatal.get("detail") or next(
                (o.evalue for o in cell.outputs if o.get("output_type") == "error"), status
            )
            raise KernelFault(f"{function} did not return: {detail}")
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        if not reply.exists():
            what = f"{errors[0].ename}: {errors[0].evalue}" if errors else "no result came back"
            raise checks.StudentError(f"{what} (was nnlab.checks changed in your notebook?)")
        result = wire_format.load(reply)
        request.unlink(missing_ok=True)
        reply.unlink(missing_ok=True)
        if "raised" in result:
            kind, message = result["raised"]
            if kind == "CheckFailure":
                raise checks.CheckFailure(message)
            raise checks.StudentError(f"{kind}: {message}")
        args_after, kwargs_after = result["after"]
        kernel_link.apply_changes(args, kwargs, args_after, kwargs_after)
        return result["output"]

    # -- the sandbox's cell handler ---------------------------------------------------------------

    async def handle(self, client, index: int, cell) -> bool:
        """Take over test cells (run here) and locked cells the student's code does not need (skipped)."""
        self.client, self.loop, self.current_index = client, asyncio.get_running_loop(), index
        if _is_test(cell):
            grade_id = _meta(cell)["grade_id"]
            verdict, printed = await asyncio.to_thread(self._run_test, grade_id)
            client.nb.cells[index] = cell  # nbclient put the kernel calls' cells in the test cell's place
            self.verdicts[grade_id] = verdict
            cell.outputs = list(printed)
            if not verdict.passed:
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error",
                        ename="TestFailed",
                        evalue=verdict.message,
                        traceback=[f"TestFailed: {verdict.message}"],
                    )
                )
            cell.execution_count = None
            return True
        if _meta(cell).get("locked") and cell.id not in self.kernel_locked:
            cell.outputs, cell.execution_count = [], None
            return True
        return False


def withheld_answer_key_source() -> str:
    """The answer key's file as the grading kernel sees it: a module that refuses to be imported."""
    message = (
        f"{checks.ANSWER_KEY}, the course's answer key, is not available in a student's kernel: "
        "the graded functions must be your own"
    )
    return f"raise ImportError({message!r})\n"


#: this process's kernel started ahead for its next notebook (None: every kernel is started when needed)
_kernels_ahead: KernelAhead | None = None


def keep_kernels_ahead() -> None:
    """From now on, keep one sandboxed kernel started ahead for this process's next notebook.

    For a process that grades notebook after notebook (a grading worker): the next student's kernel
    starts while this one is graded. Each kernel and working folder still serves one notebook only.
    """
    global _kernels_ahead
    if _kernels_ahead is None:
        from .sandbox.ahead import KernelAhead

        _kernels_ahead = KernelAhead(withhold_answer_key)


def withhold_answer_key(scratch: str, limits: Limits) -> Limits:
    """``limits`` with the answer key replaced, in the sandbox, by a module that refuses to be imported
    (and its compiled copies by an empty folder); the replacements are written in ``scratch``."""
    os.chmod(scratch, 0o755)
    replacement = Path(scratch) / "reference.py"
    replacement.write_text(withheld_answer_key_source())
    empty = Path(scratch) / "empty"
    empty.mkdir()
    real = Path(reference_module.__file__)
    replace = [(str(real), str(replacement))]
    if (real.parent / "__pycache__").is_dir():
        replace.append((str(real.parent / "__pycache__"), str(empty)))
    return dataclasses.replace(limits, replace_paths=(*limits.replace_paths, *replace))


def _files_digest(files: Mapping[str, bytes]) -> str:
    sha = hashlib.sha256()
    for name, content in sorted(files.items()):
        sha.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return sha.hexdigest()


def preloaded_modules(source: nbformat.NotebookNode, files: Mapping[str, bytes]) -> list[str]:
    """The installed modules the set-up cells import (not the files released beside the notebook)."""
    grader = Grader(source, source, Path("."))
    local = {Path(name).stem for name in files}
    found: list[str] = []
    for cell in grader.trusted_setup:
        try:
            tree = ast.parse(MAGIC_LINE.sub("", cell.source))
        except SyntaxError:
            continue
        for statement in tree.body:
            if isinstance(statement, ast.Import):
                names = [alias.name for alias in statement.names]
            elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
                names = [statement.module]
            else:
                continue
            found += [n for n in names if n.split(".")[0] not in local and n not in found]
    return found


def kernel_startup_code(preload: Sequence[str] = ()) -> str:
    """What the kernel runs before any cell: the answer key withheld, then (a kernel started ahead)
    the installed modules the set-up cell will import anyway. Each line leaves no name in the
    student's namespace."""
    link = "__import__('nnlab_instructor.grading.kernel_link', fromlist=['withhold'])"
    code = f"{link}.withhold({checks.ANSWER_KEY!r})\n"
    if preload:
        code += f"[__import__('importlib').import_module(name) for name in {tuple(preload)!r}]\n"
    return code


def grade_notebook(
    source: nbformat.NotebookNode,
    notebook: nbformat.NotebookNode,
    limits: Limits | None = None,
    files: Mapping[str, bytes] | None = None,
) -> GradedNotebook:
    """Execute ``notebook`` (a prepared submission) in the sandbox with this process deciding every test.

    ``files`` are the assignment's trusted files released beside the notebook (``earlier_steps.py``...):
    the kernel's working copy gets them, whatever the student handed in under those names, and the
    test cells here import them too. The kernel sees an answer key (``nnlab_instructor/reference.py``)
    that refuses to be imported, and no compiled copy of the real one; where mount namespaces are
    missing, it is still unimportable in memory.
    """
    files = dict(files or {})
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="nnlab-trusted-") as trusted:
        for name, content in files.items():
            (Path(trusted) / name).write_bytes(content)
            (Path(trusted) / name).chmod(0o644)
        digest = _files_digest(files)
        if _kernels_ahead is not None:
            from .sandbox.ahead import Launch

            preload = preloaded_modules(source, files)
            startup = kernel_startup_code(preload)
            # the fork server imports what every kernel's startup code would: the link and the set-up's modules
            link = ("nnlab_instructor.grading.kernel_link",)
            kernel = _kernels_ahead.take(Launch(limits, startup, tuple(sorted(files.items())), (*link, *preload)))
            try:
                grader = Grader(source, notebook, Path(kernel.workdir), Path(trusted), digest)
                report = execute_notebook(
                    notebook,
                    kernel.workdir,
                    kernel.limits,
                    startup_code=startup,
                    cell_handler=grader.handle,
                    kernel_manager=kernel.kernel_manager(),
                )
            finally:
                kernel.remove_folders()
        else:
            with (
                tempfile.TemporaryDirectory(prefix="nnlab-work-") as workdir,
                tempfile.TemporaryDirectory(prefix="nnlab-withheld-") as withheld,
            ):
                for name, content in files.items():
                    (Path(workdir) / name).write_bytes(content)
                    (Path(workdir) / name).chmod(0o644)
                grader = Grader(source, notebook, Path(workdir), Path(trusted), digest)
                report = execute_notebook(
                    notebook,
                    workdir,
                    withhold_answer_key(withheld, limits),
                    startup_code=kernel_startup_code(),
                    cell_handler=grader.handle,
                )
    for grade_id in grader.tests:
        grader.verdicts.setdefault(grade_id, Verdict(False, f"not run: {report.detail}"))
    return GradedNotebook(report.notebook, grader.verdicts, report)
