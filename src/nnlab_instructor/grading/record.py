"""Recording in nbgrader: the executed notebooks go into nbgrader's gradebook, autograded/ and feedback/.

The notebooks were already executed (sandboxed) and their tests decided; nbgrader's own Autograde
converter records them (:class:`~nnlab_instructor.grading.nbgrader_steps.GradeSubmission`, in place of its
Execute step, hands on the graded notebooks) and its GenerateFeedback writes the HTML, both through
nbgrader's Python API, once per class, configured as ``nbgrader_config.py`` configures every nbgrader path.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry

from ..authoring.course_files import CourseError, call_nbgrader, nbgrader_config, nbgrader_failure, open_gradebook
from .nbgrader_steps import nbgrader_settings


def recording_config(staged: Path) -> dict:
    """nbgrader configuration that records already graded notebooks from ``staged`` instead of grading them.

    The preprocessor lists are the ones ``nbgrader_config.py`` gives every nbgrader path
    (:func:`~nnlab_instructor.grading.nbgrader_steps.nbgrader_settings`), set here again so that a course
    whose ``nbgrader_config.py`` lacks them still never executes a notebook in nbgrader's kernel;
    ``staged_directory`` turns GradeSubmission into handing on what was graded there.
    """
    settings = nbgrader_settings()
    return {
        **settings,
        "CourseDirectory": {"submitted_directory": str(staged)},
        "GradeSubmission": {"staged_directory": str(staged)},
    }


def register_assignment(root: Path, assignment: str) -> None:
    """Make sure nbgrader's gradebook knows ``assignment``, its notebooks and graded cells.

    A fresh clone has no gradebook.db: nbgrader learns an assignment from generate_assignment, run
    here into a scratch folder so that release/ is left as it is.
    """
    with open_gradebook(root) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    scratch = Path(tempfile.mkdtemp(prefix="nnlab-register-"))
    try:
        result = call_nbgrader(
            root,
            "generate_assignment",
            assignment,
            force=True,
            create=True,
            overrides={"CourseDirectory": {"release_directory": str(scratch)}},
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not result["success"]:
        raise CourseError(
            f"{assignment} could not be registered in nbgrader's gradebook: "
            f"{nbgrader_failure('generate_assignment', result)}"
        )


@dataclass
class Recorded:
    """What recording said: the students it could not record (and why), and a feedback failure."""

    failures: dict[str, str] = field(default_factory=dict)
    feedback_failure: str | None = None


# Below this many students per process, a process of its own costs more than it saves.
STUDENTS_PER_PROCESS = 8


def record_class(
    root: Path,
    assignment: str,
    notebooks: dict[str, tuple[str | None, str | None]],
    *,
    whole_class: bool = True,
    processes: int | None = None,
) -> Recorded:
    """Record ``notebooks`` (student -> (executed notebook JSON or None for a zero, checked timestamp
    or None)) in nbgrader's gradebook and write everyone's feedback.

    The class is recorded in one call; if that fails, student by student, so that what nbgrader cannot
    record for one student never costs another theirs. With ``whole_class`` False (a few students
    re-graded), only their feedback is written again.

    A large class is shared out to ``processes`` processes (default: one per core), each running nbgrader
    on its part of the class: the feedback pages on any database (writing them only reads the gradebook),
    nbgrader's autograde only on a database with several writers (PostgreSQL; SQLite keeps one writer).
    What is written is the same as with one process.
    """
    processes = max(1, processes or os.cpu_count() or 1)
    staging = Path(tempfile.mkdtemp(prefix="nnlab-staged-"))
    try:
        _stage(assignment, notebooks, staging)
        reviewed = _manual_grades_still_valid(root, assignment, notebooks)
        _add_students(root, list(notebooks))
        failures = {}
        writers = processes if _several_writers(root) else 1
        if _autograde_class(root, assignment, sorted(notebooks), staging, writers) is not None:
            for student in notebooks:
                failure = _autograde(root, assignment, student, staging)
                if failure is not None:
                    failures[student] = failure
        _keep_reviewed(root, assignment, {key for key in reviewed if key[0] not in failures})
        feedback_failure = _write_feedback(root, assignment, notebooks, whole_class, processes, failures)
        return Recorded(failures, feedback_failure=feedback_failure)
    except Exception as error:  # the gradebook could not be read or written: still a result for every student
        return Recorded(
            {student: f"recording in nbgrader failed: {type(error).__name__}: {error}" for student in notebooks}
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class RecordWhileGrading:
    """Records a class in nbgrader as its outcomes arrive, in a process of its own, while the rest of the
    class is still being graded.

    Each batch is every outcome that arrived while the batch before was recorded: nbgrader's autograde of
    the staged batch, then the batch's feedback pages (:func:`record_class` with ``whole_class`` False).
    For the whole class, a last pass writes the feedback of the students nbgrader knows from before and
    were not recorded now, as nbgrader's feedback of the whole class would. Each student's grades and
    feedback are the same as when the whole class is recorded at the end: nbgrader records and shows each
    student on their own.

    Recording keeps one writer (a single recording process), and its cost overlaps the grading instead of
    following it. The process is forked when the recorder starts, before any grading begins, and warms up
    (imports nbgrader's converters) while the first students are graded.
    """

    def __init__(self, root: Path, assignment: str, *, whole_class: bool, processes: int | None = None) -> None:
        self.root, self.assignment, self.whole_class, self.processes = root, assignment, whole_class, processes
        self.failures: dict[str, str] = {}
        #: a student's feedback that could not be written: what failed
        self.feedback_failures: dict[str, str] = {}
        self._pending: dict[str, tuple[str | None, str | None]] = {}
        self._recorded: list[str] = []
        self._running: tuple[Future, list[str]] | None = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> RecordWhileGrading:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, student: str, notebook: str | None, timestamp: str | None) -> None:
        """Record ``student``'s executed notebook (None: a zero) soon."""
        self._pending[student] = (notebook, timestamp)
        self._next(wait=False)

    def finish(self) -> None:
        """Record everyone added (and, for the whole class, the others' feedback); returns when done."""
        while self._pending or self._running is not None:
            self._next(wait=True)
        if self.whole_class:
            future = self._submit(_feedback_of_the_rest, self.root, self.assignment, self._recorded, self.processes)
            failure = _process_failure("writing the feedback", future)
            for student in self._recorded:
                if failure is not None:
                    self.feedback_failures.setdefault(student, failure)

    def _start(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        self._pool.submit(_warm_up)

    def _submit(self, function, *args) -> Future:
        assert self._pool is not None
        try:
            return self._pool.submit(function, *args)
        except BrokenProcessPool:  # the recording process died (killed, out of memory): a new one
            self._pool.shutdown(wait=False)
            self._start()
            return self._pool.submit(function, *args)

    def _next(self, *, wait: bool) -> None:
        """Take in the running batch if it finished (or wait for it), then start the next one."""
        if self._running is not None:
            future, batch = self._running
            if not (wait or future.done()):
                return
            self._running = None
            self._take_in(future, batch)
        if self._pending:
            batch = sorted(self._pending)
            notebooks, self._pending = self._pending, {}
            future = self._submit(_record_batch, self.root, self.assignment, notebooks, self.processes)
            self._running = (future, batch)

    def _take_in(self, future: Future, batch: list[str]) -> None:
        try:
            recorded = future.result()
        except Exception as error:  # the process itself failed: nothing of this batch is known to be recorded
            why = f"recording in nbgrader failed: the recording process failed: {type(error).__name__}: {error}"
            recorded = Recorded({student: why for student in batch})
        self.failures.update(recorded.failures)
        for student in batch:
            if student in recorded.failures:
                continue
            self._recorded.append(student)
            if recorded.feedback_failure is not None:
                self.feedback_failures[student] = recorded.feedback_failure


def _record_batch(
    root: Path, assignment: str, notebooks: dict[str, tuple[str | None, str | None]], processes: int | None
) -> Recorded:
    return record_class(root, assignment, notebooks, whole_class=False, processes=processes)


def _warm_up() -> None:
    """What the recording process needs, imported while nothing waits for it."""
    import nbconvert.exporters.html  # noqa: F401
    import nbgrader.apps.api  # noqa: F401


def _feedback_of_the_rest(root: Path, assignment: str, recorded: list[str], processes: int | None) -> str | None:
    """nbgrader's feedback for the students of the class that were not just recorded (their feedback is
    written)."""
    everyone = autograded_students(root, assignment)
    rest = sorted(set(everyone) - set(recorded))
    return feedback(root, assignment, rest, max(1, processes or os.cpu_count() or 1), among=everyone)


def _process_failure(doing: str, future: Future) -> str | None:
    try:
        return future.result()
    except Exception as error:
        return f"{doing} failed: the recording process failed: {type(error).__name__}: {error}"


def _write_feedback(
    root: Path,
    assignment: str,
    notebooks: dict[str, tuple[str | None, str | None]],
    whole_class: bool,
    processes: int = 1,
    failures: dict[str, str] | None = None,
) -> str | None:
    """nbgrader's feedback for the class, or for the students just recorded (not those it could not record:
    ``failures``); None, or what failed.

    A failure here leaves the recorded grades as they are: it is reported, never turned into a grader
    error."""
    everyone = autograded_students(root, assignment)
    if whole_class:
        # Everyone nbgrader autograded, as its generate_feedback of the whole class would find them.
        return feedback(root, assignment, everyone, processes)
    return feedback(root, assignment, sorted(set(notebooks) - set(failures or ())), processes, among=everyone)


def autograded_students(root: Path, assignment: str) -> list[str]:
    """The students with an ``autograded/`` folder for ``assignment``: those nbgrader's feedback finds."""
    return sorted(path.parent.name for path in (root / "autograded").glob(f"*/{assignment}") if path.is_dir())


def feedback(
    root: Path, assignment: str, students: list[str], processes: int = 1, *, among: list[str] | None = None
) -> str | None:
    """nbgrader's feedback pages of ``students`` (of ``among``, the students nbgrader finds; default: the
    same); None, or what failed first."""
    overrides = {"GenerateFeedback": nbgrader_settings()["GenerateFeedback"]}
    return _in_parts(root, "generate_feedback", assignment, students, processes, overrides, among=among)


def _in_parts(
    root: Path,
    step: str,
    assignment: str,
    students: list[str],
    processes: int,
    overrides: dict,
    *,
    among: list[str] | None = None,
    **kwargs,
) -> str | None:
    """nbgrader's ``step`` for all of ``students`` among the students it finds (``among``; default: exactly
    ``students``), in one call or, for a large class, one call per part in ``processes`` processes at
    once; None, or what failed first."""
    if not students:
        return None
    parts = max(1, min(processes, len(students) // STUDENTS_PER_PROCESS))
    everyone = set(students if among is None else among) | set(students)
    calls = []
    for part in range(parts):
        # nbgrader's own way of leaving students out of a step of the whole class.
        others = ",".join(sorted(everyone - set(students[part::parts])))
        directory = {**overrides.get("CourseDirectory", {}), "student_id_exclude": others}
        calls.append({**overrides, "CourseDirectory": directory} if others else overrides)
    if parts == 1:
        return _nbgrader_step(root, step, assignment, "*", calls[0], **kwargs)
    with ProcessPoolExecutor(max_workers=parts) as pool:
        futures = [pool.submit(_nbgrader_step, root, step, assignment, "*", call, **kwargs) for call in calls]
        failures = [_part_failure(step, future) for future in futures]
    return next((failure for failure in failures if failure is not None), None)


def _part_failure(step: str, future: Future) -> str | None:
    try:
        return future.result()
    except Exception as error:  # the process itself failed (killed, out of memory)
        return f"nbgrader {step} failed in a process of its own: {type(error).__name__}: {error}"


def _nbgrader_step(root: Path, step: str, assignment: str, student: str, overrides: dict, **kwargs) -> str | None:
    """nbgrader's ``step`` for ``student`` (``*``: everyone); None, or what failed."""
    try:
        result = call_nbgrader(root, step, assignment, student_id=student, force=True, overrides=overrides, **kwargs)
    except Exception as error:  # the API raised instead of reporting
        doing = "recording in nbgrader" if step == "autograde" else f"nbgrader {step}"
        return f"{doing} failed: {type(error).__name__}: {error}"
    return None if result["success"] else nbgrader_failure(step, result)


def _several_writers(root: Path) -> bool:
    """Whether the gradebook's database takes several writers at once (PostgreSQL, not SQLite)."""
    from sqlalchemy.engine import make_url

    return make_url(nbgrader_config(root).CourseDirectory.db_url).get_backend_name() == "postgresql"


def _add_students(root: Path, students: list[str]) -> None:
    """Add to the gradebook the students it does not know yet, in one transaction, before nbgrader's
    autograde adds each of them on its own: two runs at once (two assignments of one class on PostgreSQL)
    would otherwise both add the same student, and one of them fail for that student."""
    from nbgrader.api import Student

    with open_gradebook(root, exclusive=True) as gradebook:
        known = {student.id for student in gradebook.students}
        gradebook.db.add_all([Student(id=student) for student in students if student not in known])
        gradebook.db.commit()


def _autograde_class(root: Path, assignment: str, students: list[str], staging: Path, processes: int) -> str | None:
    """nbgrader's autograde of everyone staged, in ``processes`` processes for a large class; None, or what
    failed."""
    return _in_parts(root, "autograde", assignment, students, processes, recording_config(staging), create=True)


def _autograde(root: Path, assignment: str, student: str, staging: Path) -> str | None:
    """nbgrader's autograde of the staged notebooks of ``student``; None, or what failed."""
    return _nbgrader_step(root, "autograde", assignment, student, recording_config(staging), create=True)


def _stage(assignment: str, notebooks: dict[str, tuple[str | None, str | None]], staging: Path) -> None:
    """Lay out what nbgrader should record: executed notebooks (or an empty folder, a zero) and the
    timestamps the submissions step checked. Nothing is copied from the student's folder: what nbgrader
    reads here was all checked first."""
    for student, (notebook, timestamp) in notebooks.items():
        folder = staging / student / assignment
        folder.mkdir(parents=True)
        if notebook is not None:
            (folder / f"{assignment}.ipynb").write_text(notebook)
        if timestamp is not None:
            (folder / "timestamp.txt").write_text(timestamp)


# A grade an instructor gave by hand, keyed by (student, notebook, cell).
_GradeKey = tuple[str, str, str]


def _manual_grades_still_valid(
    root: Path, assignment: str, notebooks: dict[str, tuple[str | None, str | None]]
) -> set[_GradeKey]:
    """The hand-given grades that a re-grade leaves valid: the cell they grade is the same as when they
    were given (same text; for a test cell, also the same outcome).

    nbgrader's autograde flags every hand-given grade "needs manual grading" again, to be safe; where
    the cell did not change, that flag is wrong, and Formgrader and the table would ask for work done.
    """
    valid: set[_GradeKey] = set()
    with open_gradebook(root) as gradebook:
        for student, (notebook_json, _) in notebooks.items():
            if notebook_json is None:
                continue
            new_cells = _cells_by_grade_id(nbformat.reads(notebook_json, as_version=4))
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            for notebook in submission.notebooks:
                old_path = root / "autograded" / student / assignment / f"{notebook.name}.ipynb"
                if not old_path.is_file():
                    continue
                old_cells = _cells_by_grade_id(nbformat.read(old_path, as_version=4))
                for grade in notebook.grades:
                    if grade.manual_score is None or grade.needs_manual_grade:
                        continue
                    old, new = old_cells.get(grade.name), new_cells.get(grade.name)
                    if old is not None and new is not None and _same_for_grading(old, new):
                        valid.add((student, notebook.name, grade.name))
    return valid


def _keep_reviewed(root: Path, assignment: str, reviewed: set[_GradeKey]) -> None:
    if not reviewed:
        return
    with open_gradebook(root) as gradebook:
        for student, notebook_name, cell in reviewed:
            grade = gradebook.find_grade(cell, notebook_name, assignment, student)
            grade.needs_manual_grade = False
        gradebook.db.commit()


def _cells_by_grade_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in notebook.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    }


def _same_for_grading(old: nbformat.NotebookNode, new: nbformat.NotebookNode) -> bool:
    def errors(cell: nbformat.NotebookNode) -> list[tuple[str, str]]:
        return [
            (o.get("ename", ""), o.get("evalue", ""))
            for o in cell.get("outputs", [])
            if o.get("output_type") == "error"
        ]

    return old.source == new.source and errors(old) == errors(new)
