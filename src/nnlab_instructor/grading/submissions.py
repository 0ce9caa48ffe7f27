"""Before grading: find a student's notebook, read it whatever shape it is in, and rebuild its graded cells.

Nothing here runs student code. The outcome is either a notebook ready to execute (with notes on what
was repaired) or a status that names the file and what is wrong with it, so one broken submission is
reported for its student and never stops the others.
"""

from __future__ import annotations

import codecs
import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_solution, parse_utc

from .table import Status

# Outputs are discarded before grading, so a notebook is big only because of what it saved (a plot,
# a printed array): read up to this size; beyond it, reading would cost the grader too much memory.
MAX_NOTEBOOK_BYTES = 200_000_000
#: Prepared.status of a submission that can be executed.
READY = "ready"
PYTHON_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@dataclass
class Prepared:
    """A submission made ready to grade, or the reason it cannot be."""

    status: str  # READY, or the Status value that says why not
    detail: str = ""
    notebook: nbformat.NotebookNode | None = None
    notes: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    filename: str = ""
    #: the submission's timestamp.txt, checked (None: there is none, or it was refused: see notes)
    timestamp: str | None = None


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def find_notebook(folder: Path, expected: str) -> tuple[Path | None, str]:
    """The submitted file for ``expected`` (e.g. ``02-softmax.ipynb``), and a note when it was renamed.

    A missing file is matched to the only notebook in the folder, or to the only one whose name starts
    with the assignment's number, e.g. ``02-softmax (1).ipynb`` or ``02_softmax_final.ipynb``. Only
    regular files inside the folder count: a symbolic link (to a classmate's work, to the gradebook) is
    reported, never followed.
    """
    if not folder.is_dir():
        return None, f"no submission folder {folder.name}/"
    exact = folder / expected
    if exact.is_symlink():
        return None, f"{expected} is a symbolic link; links are not followed"
    if exact.is_file():
        return exact, ""
    candidates = _regular_notebooks(folder)
    number = expected.split("-", 1)[0]
    if len(candidates) > 1:
        candidates = [p for p in candidates if p.name.startswith(number)] or candidates
    if len(candidates) == 1:
        found = candidates[0]
        return found, f"notebook renamed: {found.relative_to(folder)} graded as {expected}"
    if not candidates:
        return None, f"no {expected} (and no other notebook) in the submission"
    names = ", ".join(str(p.relative_to(folder)) for p in candidates)
    return None, f"no {expected}; several notebooks could be it ({names}), so none was graded"


def _regular_notebooks(folder: Path) -> list[Path]:
    """Every ``*.ipynb`` that is a regular file under ``folder``, without entering linked folders."""
    found = []
    for here, folders, files in os.walk(folder, followlinks=False):
        folders[:] = [name for name in folders if name != ".ipynb_checkpoints"]
        for name in files:
            path = Path(here) / name
            if name.endswith(".ipynb") and not path.is_symlink() and path.is_file():
                found.append(path)
    return sorted(found)


def _linked(folder: Path) -> str | None:
    """Why a submission folder is not the student's own (a link to another folder), or None."""
    for path in (folder, folder.parent):
        if path.is_symlink():
            return f"{path.name}/ is a symbolic link; links are not followed"
    return None


def read_timestamp(folder: Path) -> tuple[str | None, str]:
    """The submission's ``timestamp.txt`` if it is a regular file holding a time nbgrader can read;
    else None and a note (a garbage timestamp must not stop nbgrader from recording the class)."""
    path = folder / "timestamp.txt"
    if not path.exists() and not path.is_symlink():
        return None, ""
    if path.is_symlink() or not path.is_file():
        return None, "timestamp.txt is not a regular file; ignored (links are not followed)"
    raw = _read_no_follow(path, limit=1000)
    try:
        text = raw.decode("utf-8").strip()
        parse_utc(text)
    except Exception:
        return None, f"timestamp.txt holds no time ({raw[:40]!r}); ignored, the submission counts as on time"
    return text, ""


def _read_no_follow(path: Path, limit: int | None = None) -> bytes:
    """The bytes of ``path``, refusing a symbolic link even if one replaced the file after it was found."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read() if limit is None else handle.read(limit)


def decode(raw: bytes, filename: str) -> tuple[str | None, str]:
    """Text of a notebook file: UTF-8, or UTF-16/UTF-8 with a byte-order mark (Windows editors), or,
    when a few bytes are not UTF-8 (a comment typed in a Windows-1252 or Latin-1 editor), that encoding."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), f"{filename} was UTF-16 encoded; read as such"
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError as error:
        where = f"byte 0x{raw[error.start]:02x} at offset {error.start}"
    if b"\x00" in raw:
        return None, f"{filename} is not text: {where} is not UTF-8 and the file holds NUL bytes"
    for encoding in ("cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, f"{filename} is not UTF-8 ({where}); read as {encoding}"
    return None, f"{filename} is not UTF-8 text: {where} cannot be decoded"  # latin-1 decodes any byte


def read_submission(path: Path, display_name: str) -> tuple[nbformat.NotebookNode | None, list[str], str]:
    """Parse a submitted file into an nbformat 4 notebook; returns (notebook, notes, error)."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return (
            None,
            [],
            f"{display_name} is {size:,} bytes, more than the {MAX_NOTEBOOK_BYTES:,} a notebook may have "
            f"(clear its outputs and submit it again)",
        )
    try:
        raw = _read_no_follow(path)
    except OSError as error:
        return None, [], f"{display_name} could not be read: {error.strerror} (links are not followed)"
    text, note = decode(raw, display_name)
    if text is None:
        return None, [], note  # the note is the error: said once
    notes = [note] if note else []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return (
            None,
            notes,
            f"{display_name} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
        )
    except RecursionError:
        return None, notes, f"{display_name} is JSON nested too deeply to be a notebook"
    if not isinstance(data, dict) or ("cells" not in data and "worksheets" not in data):
        return None, notes, f"{display_name} is JSON but not a notebook (no cells)"
    version = data.get("nbformat")
    if version not in (3, 4):
        return None, notes, f"{display_name} has nbformat {version!r}; only 3 and 4 can be read"
    try:
        notebook = nbformat.reads(text, as_version=4)
    except RecursionError:
        return None, notes, f"{display_name} is nested too deeply to be a notebook"
    except Exception as error:
        return None, notes, f"{display_name} could not be read as a notebook: {error}"
    if version == 3:
        notes.append(f"{display_name} was in the old nbformat 3; converted to nbformat 4")
    return notebook, notes, ""


@dataclass
class _Trusted:
    """The graded cells of an assignment as the instructor wrote them (source) and released them."""

    source_by_id: dict[str, nbformat.NotebookNode]
    release_by_id: dict[str, nbformat.NotebookNode]
    answer_ids: set[str]
    test_ids: set[str]

    @classmethod
    def of(cls, source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> _Trusted:
        source_by_id = {_meta(c)["grade_id"]: c for c in source.cells if _meta(c).get("grade_id")}
        release_by_id = {_meta(c)["grade_id"]: c for c in release.cells if _meta(c).get("grade_id")}
        answers = {gid for gid, c in source_by_id.items() if is_solution(c)}
        tests = {gid for gid, c in source_by_id.items() if is_grade(c) and not is_solution(c)}
        return cls(source_by_id, release_by_id, answers, tests)


@dataclass
class _StudentCells:
    """What a submission holds, sorted by the trusted cell it belongs to or follows."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    extra_after: dict[str | None, list] = field(default_factory=dict)
    seen_tests: dict[str, int] = field(default_factory=dict)
    tampering: list[str] = field(default_factory=list)


def rebuild(
    submitted: nbformat.NotebookNode, source: nbformat.NotebookNode, release: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, list[str], list[str]]:
    """The notebook to grade: the release's cells in the release's order, with the student's answers.

    Locked cells and test cells come from the trusted copies (a deleted, edited, retyped or duplicated
    test cell cannot change what is graded); every answer cell takes the student's text, a copied or
    split answer cell being joined in order; cells the student added are kept after the graded or
    locked cell they followed (so a cell added below the tests still runs after them), without
    nbgrader metadata. Returns (notebook, notes, tampering).
    """
    trusted = _Trusted.of(source, release)
    found = _sort_student_cells(submitted, trusted)
    notes = _missing_and_copied(found, trusted)
    return _assemble(release, found), notes, found.tampering


def _sort_student_cells(submitted: nbformat.NotebookNode, trusted: _Trusted) -> _StudentCells:
    found = _StudentCells()
    last_seen: str | None = None  # the graded or locked cell the student's next own cell follows
    for cell in submitted.cells:
        gid = _meta(cell).get("grade_id")
        if gid is not None and gid in trusted.answer_ids:
            found.answers.setdefault(gid, []).append(
                cell.source if isinstance(cell.source, str) else "".join(cell.source)
            )
            last_seen = gid
        elif gid is not None and gid in trusted.source_by_id:
            last_seen = gid
            found.seen_tests[gid] = found.seen_tests.get(gid, 0) + 1
            if gid in trusted.test_ids:
                found.tampering += _test_cell_changes(cell, gid, trusted)
        elif cell.cell_type == "code" and cell.source.strip():
            found.extra_after.setdefault(last_seen, []).append(nbformat.v4.new_code_cell(cell.source))
    for gid, count in found.seen_tests.items():
        if count > 1 and gid in trusted.test_ids:
            found.tampering.append(f"test cell {gid} appeared {count} times; graded once")
    return found


def _test_cell_changes(cell: nbformat.NotebookNode, gid: str, trusted: _Trusted) -> list[str]:
    """What the student did to a test cell (all of it undone: the trusted copy is graded)."""
    original = trusted.source_by_id[gid]
    changes = []
    if cell.cell_type != original.cell_type:
        changes.append(f"test cell {gid} was turned into a {cell.cell_type} cell; restored")
    elif cell.source.strip() != trusted.release_by_id.get(gid, original).source.strip():
        changes.append(f"test cell {gid} was edited; restored")
    if "skip-execution" in cell.get("metadata", {}).get("tags", []):
        changes.append(f"test cell {gid} was tagged skip-execution; the tag was ignored")
    return changes


def _missing_and_copied(found: _StudentCells, trusted: _Trusted) -> list[str]:
    notes = [f"test cell {gid} was deleted; restored" for gid in sorted(trusted.test_ids - set(found.seen_tests))]
    for gid, parts in found.answers.items():
        if len(parts) > 1:
            notes.append(f"answer cell {gid} was copied or split into {len(parts)} cells; graded as one, in order")
    notes += [
        f"answer cell {gid} was deleted; graded as unanswered"
        for gid in sorted(trusted.answer_ids - set(found.answers))
    ]
    return notes


def _assemble(release: nbformat.NotebookNode, found: _StudentCells) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(release)
    notebook.metadata["kernelspec"] = dict(PYTHON_KERNELSPEC)
    extra_after = dict(found.extra_after)
    cells = []
    for cell in notebook.cells:
        gid = _meta(cell).get("grade_id")
        if gid in found.answers:
            cell.source = "\n\n".join(found.answers[gid])
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
        if gid is not None:
            cells.extend(extra_after.pop(gid, []))
    leftovers = [extra for gid, extras in extra_after.items() if gid is not None for extra in extras]
    notebook.cells = extra_after.get(None, []) + cells + leftovers
    _fresh_cell_ids(notebook)
    return notebook


def _fresh_cell_ids(notebook: nbformat.NotebookNode) -> None:
    """Unique, valid cell ids (students' copies of cells duplicate ids; old notebooks have none).

    Not nbformat's own repair (``validator.normalize``): it draws random ids, and a re-grade must
    record the same autograded notebook.
    """
    used: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        wanted = cell.get("id") or f"cell-{index}"
        wanted = re.sub(r"[^a-zA-Z0-9-_]", "-", wanted)[:64] or f"cell-{index}"
        candidate, n = wanted, 1
        while candidate in used:
            n += 1
            candidate = f"{wanted[:58]}-{n}"
        cell["id"] = candidate
        used.add(candidate)


def prepare(folder: Path, assignment: str, source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> Prepared:
    """Everything before execution for one student's submission of ``assignment``."""
    expected = f"{assignment}.ipynb"
    linked = _linked(folder)
    if linked is not None:
        return Prepared(Status.INVALID_NOTEBOOK.value, linked)
    path, note = find_notebook(folder, expected)
    if path is None:
        return Prepared(Status.NOTEBOOK_MISSING.value, note)
    shown = str(path.relative_to(folder))
    submitted, notes, error = read_submission(path, shown)
    if submitted is None:
        return Prepared(Status.INVALID_NOTEBOOK.value, error, notes=notes, filename=shown)
    if note:
        notes.insert(0, note)
    kernel = submitted.metadata.get("kernelspec", {}).get("name")
    if kernel and kernel != "python3":
        notes.append(f"{shown} asked for the kernel {kernel!r}; graded with python3")
    if not any(_meta(c).get("grade_id") for c in submitted.cells):
        return Prepared(
            Status.INVALID_NOTEBOOK.value,
            f"{shown} holds none of {assignment}'s cells (is it another notebook?)",
            notes=notes,
            filename=shown,
        )
    notebook, rebuild_notes, tampering = rebuild(submitted, source, release)
    timestamp, timestamp_note = read_timestamp(folder)
    notes += rebuild_notes + ([timestamp_note] if timestamp_note else [])
    return Prepared(READY, notebook=notebook, notes=notes, tampering=tampering, filename=shown, timestamp=timestamp)
