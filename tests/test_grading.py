"""`nnlab grade` on a class of hostile, faulty, broken and odd submissions of 02-softmax.

One temporary course is built (source/, samples/, nbgrader_config.py copied, release and sample class
generated), a crafted submission per case is written next to the sample class, and the whole class is
graded ONCE by :func:`nnlab_instructor.grading.pipeline.grade` with 2 workers and small limits. Then every
student's row of
``grades/02-softmax.csv`` is compared with what it must be (score, status, a piece of the detail), the
gradebook with the grade table, the feedback with what it may show, and two more runs check that
re-grading one student replaces only that row and that a failure of the grader keeps the previous one.

The course lives under ``out/`` (git-ignored), not under /tmp: the sandboxed kernel has a private /tmp,
so a course in /tmp would be out of the student's sight whatever the grader hides, and the "nothing
leaks" cases would prove nothing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, build_course_copy
from nbgrader.api import Gradebook

from nnlab_instructor.authoring.build import solution_source
from nnlab_instructor.grading.pipeline import grade
from nnlab_instructor.grading.sandbox import MB, GiB, Limits
from nnlab_instructor.grading.table import db_url, read_grade_table

ASSIGNMENT = "02-softmax"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
TEST_IDS = ("test_softmax_columns", "test_softmax_values", "test_softmax_overflow", "test_softmax_shift_invariance")
MAX_SCORE = 10.0  # 8 automatic points + a 2-point written answer

# Every test here grades a class with nbgrader and sandboxed kernels.
pytestmark = pytest.mark.slow

# Small limits so that the faulty submissions are stopped quickly; a normal kernel (numpy, matplotlib,
# nnlab, MNIST loaded by the set-up cell: ~4 s alone, more on a busy machine) runs well within them.
LIMITS = Limits(
    cell_timeout=25,
    notebook_timeout=120,
    interrupt_grace=1.5,
    startup_timeout=60,
    memory_bytes=1 * GiB,
    file_size_bytes=5 * MB,
    max_output_bytes=100_000,
)

# --------------------------------------------------------------------------- softmax cells

CORRECT = """\
def softmax(Z):
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)
"""

# right on small scores, nan once exp overflows: the visible part of the shift test (constants up to 40)
# passes, the overflow test (scores of +-1000) and the hidden part of the shift test (+-800) fail: 4 points
NAIVE = """\
def softmax(Z):
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)
"""

# fails every test cell (scores are not probabilities, and change with a shift)
WRONG = """\
def softmax(Z):
    return Z + 0.0
"""

WRITTEN_ANSWER = (
    "Subtracting c multiplies numerator and denominator by exp(-c); the column maximum makes every term <= 1."
)


def _correct_unless(condition: str, action: str) -> str:
    """A correct softmax that does ``action`` when ``condition`` holds for the scores ``Z``."""
    return (
        "def softmax(Z):\n"
        f"    if {condition}:\n"
        + "".join(f"        {line}\n" for line in action.splitlines())
        + "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n"
        "    return E / E.sum(axis=0, keepdims=True)\n"
    )


# The scores of test_softmax_columns and test_softmax_values stay below 100 in absolute value; the
# overflow test's are in the hundreds: a fault "on large scores" keeps the first two tests' 4 points.
LARGE = "np.abs(Z).max() > 200"

# --------------------------------------------------------------------------- notebook surgery


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _index(notebook, grade_id: str) -> int:
    return next(i for i, c in enumerate(notebook.cells) if _meta(c).get("grade_id") == grade_id)


def make_notebook(
    release,
    softmax: str | None = CORRECT,
    *,
    before_tests: tuple[str, ...] = (),
    after_tests: tuple[str, ...] = (),
    at_end: tuple[str, ...] = (),
    answer: str | None = None,
):
    """The release with ``softmax`` as the answer, extra code cells the student added right after it
    (so, before the test cells), right after the last test cell or at the end of the notebook, and
    optionally a written answer."""
    notebook = nbformat.from_dict(json.loads(json.dumps(release)))
    last_test = _index(notebook, TEST_IDS[-1])
    for offset, source in enumerate(after_tests, start=1):
        notebook.cells.insert(last_test + offset, nbformat.v4.new_code_cell(source))
    position = _index(notebook, "softmax")
    if softmax is not None:
        notebook.cells[position].source = softmax
    for offset, source in enumerate(before_tests, start=1):
        notebook.cells.insert(position + offset, nbformat.v4.new_code_cell(source))
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in at_end)
    if answer is not None:
        notebook.cells[_index(notebook, "answer_max_shift")].source = answer
    return notebook


def write(root: Path, student: str, notebook, filename: str = NOTEBOOK) -> Path:
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    if isinstance(notebook, bytes):
        path.write_bytes(notebook)
    else:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False))
    return path


# --------------------------------------------------------------------------- the class


@dataclass(frozen=True)
class Expected:
    score: float
    status: str
    detail: str = ""  # a piece of the row's detail


EXPECTED: dict[str, Expected] = {
    # the sample class made by `nnlab build`
    "sample-solution": Expected(8, "graded", "2 points of written answers await manual grading"),
    "sample-partial": Expected(4, "graded", "await manual grading"),
    "sample-blank": Expected(0, "graded"),
    # wrong code cannot earn points, whatever it does inside the kernel
    "wrong-patches-numpy": Expected(0, "graded"),
    "wrong-patches-checks": Expected(0, "graded"),
    "wrong-patches-serve-call": Expected(0, "graded"),
    "wrong-reloads-reference": Expected(0, "graded"),
    "wrong-redefines-assert": Expected(0, "graded"),
    "wrong-input-transformer": Expected(0, "graded"),
    "wrong-ast-transformer": Expected(0, "graded"),
    "wrong-skip-execution": Expected(0, "tampering detected", "skip-execution"),
    "wrong-displayhook": Expected(0, "graded"),
    "wrong-prints-passed": Expected(0, "graded"),
    "wrong-fake-modules": Expected(0, "graded"),
    # faults stay with their student and their cell
    "fault-infinite-loop": Expected(
        4, "timed out", f"ran for more than {LIMITS.cell_timeout:g} s; the kernel ignored the interrupt"
    ),
    "fault-memory-bomb": Expected(4, "out of memory", "ran out of memory"),
    "fault-os-exit": Expected(4, "kernel died", "exit code 1"),
    "fault-segfault": Expected(0, "kernel died", "SIGSEGV"),
    "fault-exit-after-tests": Expected(8, "kernel died", "exit code 3"),
    "fault-huge-output": Expected(8, "graded"),
    "fault-detached-child": Expected(8, "graded"),
    "fault-big-file": Expected(8, "graded"),
    "fault-user-namespace": Expected(8, "graded"),
    # bad files
    "bad-invalid-json": Expected(0, "invalid notebook", "is not valid JSON"),
    "bad-not-utf8": Expected(8, "graded", "is not UTF-8 (byte 0xb7 at offset 316); read as cp1252"),
    "bad-binary": Expected(0, "invalid notebook", "is not text"),
    "bad-deep-nesting": Expected(0, "invalid notebook", "nested too deeply"),
    "big-saved-output": Expected(8, "graded"),
    "bad-nbformat3": Expected(8, "graded", "nbformat 3"),
    "bad-kernel-ir": Expected(8, "graded", "asked for the kernel 'ir'"),
    "bad-duplicate-ids": Expected(8, "graded"),
    "bad-split-answer": Expected(8, "graded", "copied or split"),
    "bad-deleted-test": Expected(4, "graded", "test cell test_softmax_overflow was deleted; restored"),
    "bad-edited-test": Expected(4, "tampering detected", "test cell test_softmax_overflow was edited; restored"),
    "bad-test-to-markdown": Expected(4, "tampering detected", "turned into a markdown cell"),
    "bad-renamed": Expected(8, "graded", "notebook renamed"),
    "bad-missing": Expected(0, "notebook missing", "no 02-softmax.ipynb"),
    # only regular files in the student's own folder are read: links are reported, never followed
    "bad-link-notebook": Expected(0, "notebook missing", "02-softmax.ipynb is a symbolic link; links are not followed"),
    "bad-link-folder": Expected(0, "invalid notebook", "02-softmax/ is a symbolic link; links are not followed"),
    "bad-link-student": Expected(0, "invalid notebook", "bad-link-student/ is a symbolic link"),
    "bad-timestamp": Expected(8, "graded", "timestamp.txt holds no time"),
    "bad-link-timestamp": Expected(8, "graded", "timestamp.txt is not a regular file"),
    # nothing leaks
    "leak-reads-course": Expected(8, "graded"),
    "leak-answer-key": Expected(8, "graded"),
    "leak-network": Expected(8, "graded"),
    # correct code always earns its points
    "ok-warnings": Expected(8, "graded"),
    "ok-slow-loop": Expected(8, "graded"),
    "ok-float32": Expected(8, "graded"),
    # re-graded by the last tests
    "regrade-me": Expected(0, "graded"),
}

HIDDEN_TEST_LINE = (
    'checks.assert_close(P, np.ones((1, 5)), name="for Z of shape (1, 5), softmax(Z)", rtol=0, atol=1e-12)'
)
CHILD_MARKER = "86317"  # `sleep 86317`: the detached child to look for once grading is over
LEAKED = "LEAKED:"  # what the leak-* submissions print when they got hold of something


def write_class(root: Path, port: int) -> None:
    """Every crafted submission of the table, next to the sample class `nnlab build` wrote."""
    release = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    source = nbformat.read(root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    model = solution_source(source.cells[_index(source, "softmax")])
    assert "Z.max(axis=0, keepdims=True)" in model

    def put(student, *args, **kwargs):
        write(root, student, make_notebook(release, *args, **kwargs))

    # -- wrong code ------------------------------------------------------------------------------
    put(
        "wrong-patches-numpy",
        WRONG,
        before_tests=(
            "import numpy\n"
            "np.allclose = numpy.allclose = lambda *a, **k: True\n"
            "np.array_equal = lambda *a, **k: True\n"
            "np.isfinite = lambda x: np.ones(np.shape(x), dtype=bool)\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n",
        ),
    )
    put(
        "wrong-patches-checks",
        WRONG,
        before_tests=(
            "import nnlab, nnlab.checks\n"
            "for _name in ('assert_close', 'assert_array', 'assert_columns_sum_to_one', 'assert_scalar_close'):\n"
            "    setattr(nnlab.checks, _name, lambda *a, **k: None)\n"
            "nnlab.checks.call_own = lambda f, *a, reference=None, **k: f(*a, **k)\n"
            "checks.assert_close = lambda *a, **k: None\n",
        ),
    )
    put(
        "wrong-patches-serve-call",
        WRONG,
        before_tests=(
            "import nnlab_instructor.grading.kernel_link as _link, nnlab_instructor.grading.wire_format as _wire\n"
            "from pathlib import Path\n"
            "try:\n"
            "    from nnlab_instructor.reference import softmax as _answer  # the answer key: not importable here\n"
            "except ImportError:\n"
            "    _answer = None\n"
            "def _serve(namespace, function_name, request, reply):\n"
            "    args, kwargs = _wire.load(Path(request))\n"
            "    output = (_answer or namespace[function_name])(*args)\n"
            "    _wire.save(Path(reply), {'output': output, 'after': [list(args), kwargs]})\n"
            "_link.serve_call = _serve\n",
        ),
    )
    # the answer key's file read and executed by hand, its softmax served as the result
    put(
        "wrong-reloads-reference",
        WRONG,
        before_tests=(
            "import importlib.util, nnlab_instructor\n"
            "import nnlab_instructor.grading.kernel_link as _link, nnlab_instructor.grading.wire_format as _wire\n"
            "from pathlib import Path\n"
            "try:\n"
            "    _spec = importlib.util.spec_from_file_location(\n"
            "        '_key', Path(nnlab_instructor.__file__).parent / 'reference.py')\n"
            "    _key = importlib.util.module_from_spec(_spec)\n"
            "    _spec.loader.exec_module(_key)\n"
            "    _answer = _key.softmax\n"
            "except Exception:\n"
            "    _answer = None\n"
            "def _serve(namespace, function_name, request, reply):\n"
            "    args, kwargs = _wire.load(Path(request))\n"
            "    output = (_answer or namespace[function_name])(*args)\n"
            "    _wire.save(Path(reply), {'output': output, 'after': [list(args), kwargs]})\n"
            "_link.serve_call = _serve\n",
        ),
    )
    put(
        "wrong-redefines-assert",
        WRONG,
        before_tests=(
            "import builtins\n"
            "class AssertionError(Exception):\n"
            "    pass\n"
            "builtins.AssertionError = AssertionError\n"
            "class checks:\n"
            "    def __getattr__(self, name):\n"
            "        return lambda *a, **k: None\n"
            "checks = checks()\n"
            "def assert_close(*args, **kwargs):\n"
            "    return None\n",
        ),
    )
    put(
        "wrong-input-transformer",
        WRONG,
        before_tests=(
            "def _everything_passes(lines):\n"
            "    return ['pass\\n']\n"
            "get_ipython().input_transformers_post.append(_everything_passes)\n",
        ),
    )
    put(
        "wrong-ast-transformer",
        WRONG,
        before_tests=(
            "import ast\n"
            "class _Nothing(ast.NodeTransformer):\n"
            "    def visit_Module(self, node):\n"
            "        return ast.Module(body=[ast.Pass()], type_ignores=[])\n"
            "get_ipython().ast_transformers.append(_Nothing())\n",
        ),
    )
    skip = make_notebook(release, WRONG)
    for grade_id in TEST_IDS:
        skip.cells[_index(skip, grade_id)].metadata.setdefault("tags", []).append("skip-execution")
    write(root, "wrong-skip-execution", skip)
    put(
        "wrong-displayhook",
        WRONG,
        before_tests=(
            "import sys\n"
            "def _hook(value):\n"
            "    print('All tests passed! 8 / 8 points')\n"
            "sys.displayhook = _hook\n"
            "get_ipython().displayhook.write_output_prompt = lambda: None\n"
            "{'test_softmax_columns': 2, 'score': 8}\n",
        ),
    )
    put(
        "wrong-prints-passed",
        WRONG,
        before_tests=("print('tests passed')\nprint('All tests passed!')\n",),
        at_end=("print('tests passed')\n",),
    )
    put("wrong-fake-modules", WRONG)
    fake = root / "submitted" / "wrong-fake-modules" / ASSIGNMENT
    (fake / "numpy.py").write_text("def allclose(*a, **k):\n    return True\ndef zeros_like(x):\n    return x\n")
    (fake / "nnlab.py").write_text("raise SystemExit('fake nnlab')\n")
    (fake / "checks.py").write_text("def assert_close(*a, **k):\n    pass\n")

    # -- faults ----------------------------------------------------------------------------------
    put(
        "fault-infinite-loop",
        _correct_unless(LARGE, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
    )
    put("fault-memory-bomb", _correct_unless(LARGE, "hog = []\nwhile True:\n    hog.append(np.ones(10_000_000))"))
    put("fault-os-exit", _correct_unless(LARGE, "import os\nos._exit(1)"))
    put("fault-segfault", _correct_unless("True", "import ctypes\nctypes.string_at(0)"))
    put("fault-exit-after-tests", CORRECT, after_tests=("import os\nos._exit(3)\n",), answer=WRITTEN_ANSWER)
    put(
        "fault-huge-output",
        CORRECT,
        before_tests=("print('x' * 10_000_000)\n",),
        at_end=("for i in range(100_000):\n    print('line', i, 'of a long output ' * 5)\n",),
    )
    put(
        "fault-detached-child",
        CORRECT,
        before_tests=(
            "import subprocess\n"
            f"child = subprocess.Popen(['sleep', '{CHILD_MARKER}'], start_new_session=True,\n"
            "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "import os\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            f"    os.execvp('sleep', ['sleep', '{CHILD_MARKER}'])\n",
        ),
    )
    put(
        "fault-big-file",
        CORRECT,
        before_tests=(
            "with open('big.bin', 'wb') as handle:\n    for _ in range(100):\n        handle.write(b'0' * 1_000_000)\n",
        ),
    )

    # a new user namespace is refused (seccomp), and the notebook is graded as usual
    put(
        "fault-user-namespace",
        CORRECT,
        before_tests=(
            "import ctypes\n"
            "_libc = ctypes.CDLL(None, use_errno=True)\n"
            "print('unshare:', _libc.unshare(0x10000000), ctypes.get_errno())\n",
        ),
    )

    # -- bad files -------------------------------------------------------------------------------
    good = make_notebook(release, CORRECT)
    write(root, "bad-invalid-json", json.dumps(good, indent=1)[:-200].encode())
    # a byte that is never valid UTF-8, in a string of the notebook (e.g. a Latin-1 editor's save)
    raw = json.dumps(
        make_notebook(release, CORRECT.replace("def softmax", "# r\u00e9sum\u00e9\ndef softmax")), ensure_ascii=False
    )
    write(root, "bad-not-utf8", raw.encode("latin-1", errors="replace"))
    write(root, "bad-binary", b"\x00\xff\xfe" * 1000)
    classmate = root / "submitted" / "sample-solution" / ASSIGNMENT
    (root / "submitted" / "bad-link-notebook" / ASSIGNMENT).mkdir(parents=True)
    (root / "submitted" / "bad-link-notebook" / ASSIGNMENT / NOTEBOOK).symlink_to(classmate / NOTEBOOK)
    (root / "submitted" / "bad-link-folder").mkdir()
    (root / "submitted" / "bad-link-folder" / ASSIGNMENT).symlink_to(classmate)
    (root / "submitted" / "bad-link-student").symlink_to(classmate.parent)
    write(root, "bad-timestamp", make_notebook(release, CORRECT)).with_name("timestamp.txt").write_text("garbage!!")
    stamp = write(root, "bad-link-timestamp", make_notebook(release, CORRECT)).with_name("timestamp.txt")
    stamp.symlink_to(root / "gradebook.db")
    write(root, "bad-deep-nesting", b"[" * 200_000 + b"]" * 200_000)
    # an honest notebook, 55 MB only because of a saved output (outputs are discarded before grading)
    big = make_notebook(release, CORRECT)
    big.cells[_index(big, "softmax")].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="0123456789" * 5_500_000)
    ]
    assert write(root, "big-saved-output", big).stat().st_size > 55_000_000
    v3 = nbformat.convert(make_notebook(release, CORRECT), 3)
    write(root, "bad-nbformat3", nbformat.writes(v3, version=3).encode())
    ir = make_notebook(release, CORRECT)
    ir.metadata["kernelspec"] = {"display_name": "R", "language": "R", "name": "ir"}
    ir.metadata["language_info"] = {"name": "R"}
    write(root, "bad-kernel-ir", ir)
    dup = make_notebook(release, CORRECT, before_tests=("print('scratch')",))
    for cell in dup.cells:
        cell["id"] = "same-id"
    write(root, "bad-duplicate-ids", dup)
    split = make_notebook(release, "def _exp_shifted(Z):\n    return np.exp(Z - Z.max(axis=0, keepdims=True))\n")
    at = _index(split, "softmax")
    second = nbformat.from_dict(json.loads(json.dumps(split.cells[at])))
    second.source = "def softmax(Z):\n    E = _exp_shifted(Z)\n    return E / E.sum(axis=0, keepdims=True)\n"
    split.cells.insert(at + 1, second)
    write(root, "bad-split-answer", split)
    deleted = make_notebook(release, NAIVE)
    del deleted.cells[_index(deleted, "test_softmax_overflow")]
    write(root, "bad-deleted-test", deleted)
    edited = make_notebook(release, NAIVE)
    edited.cells[_index(edited, "test_softmax_overflow")].source = "pass  # this test was too strict"
    write(root, "bad-edited-test", edited)
    markdown = make_notebook(release, NAIVE)
    at = _index(markdown, "test_softmax_overflow")
    turned = nbformat.v4.new_markdown_cell(markdown.cells[at].source, metadata=markdown.cells[at].metadata)
    turned["id"] = markdown.cells[at]["id"]
    markdown.cells[at] = turned
    write(root, "bad-test-to-markdown", markdown)
    write(root, "bad-renamed", make_notebook(release, CORRECT), filename="02-softmax (1).ipynb")
    missing = root / "submitted" / "bad-missing" / ASSIGNMENT
    missing.mkdir(parents=True)
    (missing / "my answers.txt").write_text("I could not open Jupyter, sorry\n")

    # -- nothing leaks ---------------------------------------------------------------------------
    secrets = [
        root / "source" / ASSIGNMENT / NOTEBOOK,
        root / "gradebook.db",
        root / "submitted" / "sample-solution" / ASSIGNMENT / NOTEBOOK,
        root / "release" / ASSIGNMENT / NOTEBOOK,
        root / "nbgrader_config.py",
        # the course's own checkout, outside the graded course root (another clone on the machine)
        REPO / "source" / ASSIGNMENT / NOTEBOOK,
        REPO / "nbgrader_config.py",
    ]
    put(
        "leak-reads-course",
        (
            "import os\n"
            f"_SECRETS = {[str(p) for p in secrets]!r}\n"
            "def _steal():\n"
            "    got = []\n"
            "    for path in _SECRETS:\n"
            "        try:\n"
            "            with open(path, 'rb') as handle:\n"
            "                got.append((path, handle.read(200)))\n"
            "        except OSError:\n"
            "            pass\n"
            f"    for folder in ({str(root)!r}, {str(root / 'source')!r}, {str(root / 'submitted')!r}, "
            f"{str(REPO / 'source')!r}):\n"
            "        try:\n"
            "            got.append((folder, os.listdir(folder)))\n"
            "        except OSError:\n"
            "            pass\n"
            "    return [(p, c) for p, c in got if c]\n"
            f"print({LEAKED!r}, _steal())\n"
            "def softmax(Z):\n"
            "    if _steal():  # anything read makes the answer wrong: full marks prove nothing was readable\n"
            "        return np.zeros_like(Z)\n"
            "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n"
            "    return E / E.sum(axis=0, keepdims=True)\n"
        ),
    )
    # the answer key: not importable, and its file on disk says nothing
    put(
        "leak-answer-key",
        (
            "import importlib, pathlib, nnlab_instructor\n"
            "def _answer_key():\n"
            "    try:\n"
            "        importlib.import_module('nnlab_instructor.reference')\n"
            "        return 'imported'\n"
            "    except ImportError as error:\n"
            "        pass\n"
            "    try:\n"
            "        text = (pathlib.Path(nnlab_instructor.__file__).parent / 'reference.py').read_text()\n"
            "    except OSError:\n"
            "        return 'unreadable'\n"
            "    return 'read the solution' if 'def softmax' in text else 'no solution in the file'\n"
            f"print({LEAKED!r}, _answer_key())\n"
            "def softmax(Z):\n"
            "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n"
            "    return E / E.sum(axis=0, keepdims=True)\n"
        ),
    )
    put(
        "leak-network",
        (
            "import socket\n"
            "def _phone_home():\n"
            "    try:\n"
            f"        with socket.create_connection(('127.0.0.1', {port}), timeout=3) as s:\n"
            "            s.sendall(b'softmax is easy')\n"
            "        return True\n"
            "    except OSError as error:\n"
            "        print('no network:', error)\n"
            "        return False\n"
            f"print({LEAKED!r}, _phone_home())\n"
            "def softmax(Z):\n"
            "    if _phone_home():  # a connection makes the answer wrong\n"
            "        return np.zeros_like(Z)\n"
            "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n"
            "    return E / E.sum(axis=0, keepdims=True)\n"
        ),
    )

    # -- correct code ----------------------------------------------------------------------------
    put(
        "ok-warnings",
        (
            "import sys, warnings\n"
            "def softmax(Z):\n"
            "    warnings.warn('x', RuntimeWarning)\n"
            "    with np.errstate(divide='warn'):\n"
            "        np.log(np.zeros(1))  # RuntimeWarning: divide by zero encountered in log\n"
            "    print('a note on stderr', file=sys.stderr)\n"
            "    E = np.exp(Z - Z.max(axis=0, keepdims=True))\n"
            "    return E / E.sum(axis=0, keepdims=True)\n"
        ),
        before_tests=("import warnings\nwarnings.simplefilter('always')\nwarnings.warn('careful', RuntimeWarning)\n",),
    )
    put(
        "ok-slow-loop",
        (
            "import math\n"
            "def softmax(Z):\n"
            "    P = np.empty_like(Z, dtype=float)\n"
            "    for j in range(Z.shape[1]):\n"
            "        column = [float(z) for z in Z[:, j]]\n"
            "        m = max(column)\n"
            "        e = [math.exp(z - m) for z in column]\n"
            "        total = math.fsum(e)\n"
            "        for k in range(len(e)):\n"
            "            P[k, j] = e[k] / total\n"
            "    return P\n"
        ),
    )
    # exp and the division in float32 (about 7 significant digits), after the max-shift: what the
    # course's float32-friendly tolerance checks.RTOL accepts. (Casting the scores themselves to float32
    # first cannot be right to 1e-5 near +-1000: a float32 near 1000 is only known to ~6e-5.)
    put(
        "ok-float32",
        (
            "def softmax(Z):\n"
            "    E = np.exp((Z - Z.max(axis=0, keepdims=True)).astype(np.float32))\n"
            "    return E / E.sum(axis=0, keepdims=True)\n"
        ),
    )
    shutil.copytree(root / "submitted" / "sample-blank", root / "submitted" / "regrade-me")


# --------------------------------------------------------------------------- fixtures


class Listener:
    """A TCP server on 127.0.0.1 of the host that records every connection it gets."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    self.connections.append(connection.recv(1000) or b"(connected)")
                except OSError:
                    self.connections.append(b"(connected)")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@dataclass
class Graded:
    root: Path
    rows: dict
    seconds: float
    connections: list


@pytest.fixture(scope="module")
def graded() -> Graded:
    """The course built, the class written and graded once; the course is removed afterwards."""
    (REPO / "out").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="test-grading-", dir=REPO / "out"))
    listener = Listener()
    opened = _open_the_way_to(root)
    try:
        root.chmod(0o755)  # as readable as a real course: only the sandbox may keep students out
        build_course_copy(root, [ASSIGNMENT])
        write_class(root, listener.port)
        assert sorted(p.name for p in (root / "submitted").iterdir()) == sorted(EXPECTED)
        started = time.monotonic()
        rows = grade(root, ASSIGNMENT, workers=2, limits=LIMITS)
        seconds = time.monotonic() - started
        yield Graded(root, {row.student_id: row for row in rows}, seconds, listener.connections)
    finally:
        listener.close()
        shutil.rmtree(root, ignore_errors=True)
        for folder, mode in opened:
            folder.chmod(mode)


def _open_the_way_to(root: Path) -> list[tuple[Path, int]]:
    """Let others traverse every folder above the course (a clone in a 0700 temporary folder would
    otherwise keep students out by its permissions, and the leak tests would prove nothing about the
    sandbox); returns the folders changed and their modes, to restore."""
    changed = []
    for folder in root.parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH and folder.stat().st_uid == os.getuid():
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append((folder, stat.S_IMODE(mode)))
    return changed


def autograded(root: Path, student: str):
    return nbformat.read(root / "autograded" / student / ASSIGNMENT / NOTEBOOK, as_version=4)


def feedback(root: Path, student: str) -> str:
    return (root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()


def stdout_of(notebook) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_error(notebook, grade_id: str) -> str:
    cell = notebook.cells[_index(notebook, grade_id)]
    return " ".join(o.evalue for o in cell.get("outputs", []) if o.get("output_type") == "error")


test_error.__test__ = False  # a helper, not a test

# --------------------------------------------------------------------------- the grade table


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_grade_table_row(graded: Graded, student: str):
    expected = EXPECTED[student]
    row = graded.rows[student]
    assert (row.score, row.status) == (expected.score, expected.status), f"{student}: {row}"
    assert expected.detail in row.detail, f"{student}: {row.detail!r} does not say {expected.detail!r}"
    assert row.max_score == MAX_SCORE, row


def test_the_class_is_graded_in_one_run_and_the_table_is_written(graded: Graded):
    assert set(graded.rows) == set(EXPECTED)
    table = {row.student_id: row for row in read_grade_table(graded.root / "grades" / f"{ASSIGNMENT}.csv")}
    assert table == graded.rows
    print(f"\n{len(graded.rows)} students graded in {graded.seconds:.0f} s")


# --------------------------------------------------------------------------- the gradebook


def test_gradebook_agrees_with_the_grade_table(graded: Graded):
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", str(graded.root / "export.csv")],
        cwd=graded.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with open(graded.root / "export.csv", newline="") as handle:
        exported = {r["student_id"]: r for r in csv.DictReader(handle) if r["assignment"] == ASSIGNMENT}
    for student, row in graded.rows.items():
        # every student of the table is in the gradebook, a notebook that could not be executed with 0
        assert student in exported, f"{student} ({row.status}) is not in the gradebook"
        if row.status in ("invalid notebook", "notebook missing"):
            assert float(exported[student]["raw_score"]) == 0 == row.score, (student, exported[student], row)
        assert float(exported[student]["raw_score"]) == row.score, (student, exported[student], row)
        assert float(exported[student]["max_score"]) == row.max_score


def test_only_written_answers_await_manual_grading(graded: Graded):
    with Gradebook(db_url(graded.root)) as gradebook:
        for student in graded.rows:
            try:
                submission = gradebook.find_submission(ASSIGNMENT, student)
            except Exception:
                continue
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in TEST_IDS:
                        assert not grade.needs_manual_grade, f"{student}: {grade.name} needs manual grading"
                        assert grade.auto_score is not None, f"{student}: {grade.name} has no automatic score"
                    elif grade.needs_manual_grade:
                        assert grade.name == "answer_max_shift", f"{student}: {grade.name} needs manual grading"


# --------------------------------------------------------------------------- what the cases leave behind


def test_tests_ran_in_the_grader_not_in_the_patched_kernel(graded: Graded):
    for student in [s for s in EXPECTED if s.startswith("wrong-") and s != "wrong-fake-modules"]:
        notebook = autograded(graded.root, student)
        failed = [grade_id for grade_id in TEST_IDS if test_error(notebook, grade_id)]
        assert failed == list(TEST_IDS), f"{student}: tests without an error: {set(TEST_IDS) - set(failed)}"


def test_huge_output_is_capped_in_the_notebook_and_the_feedback(graded: Graded):
    notebook = autograded(graded.root, "fault-huge-output")
    size = len(json.dumps(notebook))
    assert size < 1_000_000, f"the autograded notebook is {size:,} bytes"
    assert "output truncated" in stdout_of(notebook)
    html = feedback(graded.root, "fault-huge-output")
    assert len(html) < 2_000_000, f"the feedback is {len(html):,} bytes"


def test_detached_children_die_with_the_kernel(graded: Graded):
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().split(b"\0")[:2] == [
                b"sleep",
                CHILD_MARKER.encode(),
            ]:
                left.append(entry.name)
        except OSError:
            continue
    assert not left, f"the detached children {left} outlived their kernel"


def test_file_writes_past_the_limit_fail(graded: Graded):
    notebook = autograded(graded.root, "fault-big-file")
    errors = [
        o.evalue
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert any("File too large" in e for e in errors), errors


def test_later_cells_of_a_dead_kernel_are_not_run_and_earlier_ones_keep_their_points(graded: Graded):
    notebook = autograded(graded.root, "fault-os-exit")
    assert not test_error(notebook, "test_softmax_columns") and not test_error(notebook, "test_softmax_values")
    assert "did not return" in test_error(notebook, "test_softmax_overflow")
    assert "not run" in test_error(notebook, "test_softmax_shift_invariance")


# --------------------------------------------------------------------------- nothing leaks


def test_course_files_were_readable_but_not_from_the_kernel(graded: Graded):
    # the files are world-readable on disk: only the sandbox can have kept the student out
    source = graded.root / "source" / ASSIGNMENT / NOTEBOOK
    for path in [source, *source.parents]:
        if path == Path("/"):
            break
        mode = path.stat().st_mode
        assert mode & (stat.S_IXOTH if path.is_dir() else stat.S_IROTH), f"{path} is not world-accessible"
    printed = stdout_of(autograded(graded.root, "leak-reads-course"))
    assert f"{LEAKED} []" in printed, printed
    assert graded.rows["leak-reads-course"].score == 8


def test_the_kernel_cannot_import_or_read_the_answer_key(graded: Graded):
    # the grader itself imports it (hidden tests' values): only the sandbox keeps it from the kernel
    printed = stdout_of(autograded(graded.root, "leak-answer-key"))
    assert f"{LEAKED} no solution in the file" in printed, printed


def test_a_user_namespace_is_refused_and_the_notebook_still_graded(graded: Graded):
    assert "unshare: -1 1\n" in stdout_of(autograded(graded.root, "fault-user-namespace"))  # EPERM
    assert graded.rows["fault-user-namespace"].score == 8


def test_no_network_from_the_kernel(graded: Graded):
    assert graded.connections == [], f"the kernel reached the host: {graded.connections}"
    printed = stdout_of(autograded(graded.root, "leak-network"))
    assert f"{LEAKED} False" in printed, printed


def test_feedback_never_shows_hidden_tests_or_reference_values(graded: Graded):
    source = (graded.root / "source" / ASSIGNMENT / NOTEBOOK).read_text()
    assert json.dumps(HIDDEN_TEST_LINE)[1:-1] in source, (
        "the hidden test line to look for is not in the source any more"
    )
    for student in ("sample-solution", "sample-partial", "sample-blank", "wrong-patches-numpy"):
        html = feedback(graded.root, student)
        assert "np.ones((1, 5))" not in html and "BEGIN HIDDEN TESTS" not in html, (
            f"{student}: a hidden test is in the feedback"
        )
    # the naive softmax passes the visible part of the shift-invariance test and fails its hidden part
    message = test_error(autograded(graded.root, "sample-partial"), "test_softmax_shift_invariance")
    assert message.startswith("a hidden test failed"), message
    assert "expected" not in message, message
    assert message in feedback(graded.root, "sample-partial").replace("&#39;", "'").replace("&quot;", '"')


# --------------------------------------------------------------------------- grading again


def test_regrading_one_student_replaces_only_their_row(graded: Graded):
    root = graded.root
    before = {row.student_id: row for row in read_grade_table(root / "grades" / f"{ASSIGNMENT}.csv")}
    release = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    write(root, "regrade-me", make_notebook(release, CORRECT))
    rows = {row.student_id: row for row in grade(root, ASSIGNMENT, workers=2, students=["regrade-me"], limits=LIMITS)}
    assert (rows["regrade-me"].score, rows["regrade-me"].status) == (8, "graded"), rows["regrade-me"]
    assert {s: r for s, r in rows.items() if s != "regrade-me"} == {
        s: r for s, r in before.items() if s != "regrade-me"
    }
    with Gradebook(db_url(root)) as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, "regrade-me").score == 8


def test_a_failure_of_the_grader_keeps_the_previous_row(graded: Graded):
    root = graded.root
    before = {row.student_id: row for row in read_grade_table(root / "grades" / f"{ASSIGNMENT}.csv")}
    # a grader misconfigured so that no kernel can start (not the student's fault)
    broken = Limits(**{**LIMITS.__dict__, "memory_bytes": 20 * MB, "startup_timeout": 20})
    rows = {row.student_id: row for row in grade(root, ASSIGNMENT, workers=1, students=["regrade-me"], limits=broken)}
    row = rows["regrade-me"]
    assert row.status == "grader error", row
    assert (row.score, row.max_score) == (before["regrade-me"].score, before["regrade-me"].max_score), row
    assert "previous result kept" in row.detail, row
    assert {s: r for s, r in rows.items() if s != "regrade-me"} == {
        s: r for s, r in before.items() if s != "regrade-me"
    }
    with Gradebook(db_url(root)) as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, "regrade-me").score == before["regrade-me"].score


def test_manual_grades_stay_true_across_regrades(graded: Graded):
    # An instructor grades a written answer and overrides a test cell in Formgrader; re-grading the same
    # submission keeps both, and nothing asks for manual grading again. A changed answer does.
    root, student = graded.root, "manual-grades"

    def regrade(root: Path, student: str):
        rows = grade(root, ASSIGNMENT, workers=1, students=[student], limits=LIMITS)
        return next(row for row in rows if row.student_id == student)

    release = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    write(root, student, make_notebook(release, CORRECT, answer="Shift by the column maximum."))
    row = regrade(root, student)
    assert (row.score, row.detail) == (8, "2 points of written answers await manual grading"), row
    with Gradebook(db_url(root)) as gradebook:
        answer = gradebook.find_grade("answer_max_shift", ASSIGNMENT, ASSIGNMENT, student)
        answer.manual_score, answer.needs_manual_grade = 1.5, False
        overridden = gradebook.find_grade(TEST_IDS[0], ASSIGNMENT, ASSIGNMENT, student)
        auto_points = overridden.auto_score
        overridden.manual_score, overridden.needs_manual_grade = 0.5, False
        gradebook.db.commit()
    expected = 8 - auto_points + 0.5 + 1.5

    row = regrade(root, student)
    assert (row.score, row.status, row.detail) == (expected, "graded", ""), row
    with Gradebook(db_url(root)) as gradebook:
        for cell, manual in (("answer_max_shift", 1.5), (TEST_IDS[0], 0.5)):
            kept = gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student)
            assert (kept.manual_score, kept.needs_manual_grade) == (manual, False), (cell, kept)

    write(root, student, make_notebook(release, CORRECT, answer="Subtract the maximum of each column."))
    row = regrade(root, student)
    assert "2 points of written answers await manual grading" in row.detail, row
    with Gradebook(db_url(root)) as gradebook:
        assert gradebook.find_grade("answer_max_shift", ASSIGNMENT, ASSIGNMENT, student).needs_manual_grade
        assert not gradebook.find_grade(TEST_IDS[0], ASSIGNMENT, ASSIGNMENT, student).needs_manual_grade


def _reuse_source() -> nbformat.NotebookNode:
    """A notebook whose test changes, in place, what its set-up cell built (as the arguments a student's
    function changed come back through call_own) and checks it first."""

    def cell(source: str, **nbgrader) -> nbformat.NotebookNode:
        made = nbformat.v4.new_code_cell(source)
        made.metadata["nbgrader"] = {"schema_version": 3, "locked": True, **nbgrader}
        return made

    setup = (
        "import numpy as np\nvalues = np.zeros(3)\nseen = []\n\n\n"
        "def total():\n    return float(values.sum()) + len(seen)\n"
    )
    answer = cell("def double(x):\n    return 2 * x", grade_id="double", solution=True, locked=False)
    test = cell(
        'assert total() == 0.0, f"total() is {total()} after an earlier student"\nvalues += 1\nseen.append(1)\n'
        "assert total() == 4.0",
        grade_id="test_double",
        grade=True,
        points=1,
    )
    return nbformat.v4.new_notebook(cells=[cell(setup, grade_id="setup"), answer, test])


def test_the_set_up_namespace_is_built_once_and_each_student_gets_a_fresh_copy(monkeypatch, tmp_path):
    from nnlab_instructor.grading import decide

    source = _reuse_source()
    runs = []
    build = decide.Grader._run_set_up
    monkeypatch.setattr(decide.Grader, "_run_set_up", lambda self: runs.append(1) or build(self))
    monkeypatch.setattr(decide, "_SET_UP_NAMESPACES", {})
    graders = [decide.Grader(source, source, tmp_path, None, "files-digest") for _ in range(3)]
    for grader in graders:
        verdict, _ = grader._run_test("test_double")
        assert verdict.passed, verdict.message
    assert len(runs) == 1, f"the set-up cells ran {len(runs)} times for 3 students of one assignment"
    first, second = graders[0].namespace, graders[1].namespace
    assert first is not None and second is not None
    assert first["values"] is not second["values"] and first["seen"] is not second["seen"]
    # a function the set-up cell defined reads the student's own copy, not the one kept for the next
    assert second["total"].__globals__ is second and second["total"]() == 4.0
    # without the files' digest (no key), nothing is kept: the set-up cells run for every grader
    decide.Grader(source, source, tmp_path)._trusted_namespace()
    assert len(runs) == 2
