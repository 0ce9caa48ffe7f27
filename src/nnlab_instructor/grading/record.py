"""Recording in nbgrader: the executed notebooks go into nbgrader's gradebook, autograded/ and feedback/.

The notebooks were already executed (sandboxed) and their tests decided; nbgrader's own Autograde
converter records them (:class:`~nnlab_instructor.grading.nbgrader_steps.GradeSubmission`, in place of its
Execute step, hands on the graded notebooks) and its GenerateFeedback writes the HTML, both through
nbgrader's Python API, configured as ``nbgrader_config.py`` configures every nbgrader path: for a whole class
at once (:func:`record_class`) or batch after batch while the class is graded (:class:`RecordWhileGrading`).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import MissingEntry

from ..authoring.course_files import CourseError, call_nbgrader, nbgrader_config, nbgrader_failure, open_gradebook
from .nbgrader_steps import nbgrader_settings
from .worker import die_with


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
    with_feedback: bool = True,
    processes: int | None = None,
) -> Recorded:
    """Record ``notebooks`` (student -> (executed notebook JSON or None for a zero, checked timestamp
    or None)) in nbgrader's gradebook and write everyone's feedback.

    The class is recorded in one call; if that fails, student by student, so that what nbgrader cannot
    record for one student never costs another theirs. With ``whole_class`` False (a few students
    re-graded, or a batch), only their feedback is written again; with ``with_feedback`` False, none.

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
        if not with_feedback:
            return Recorded(failures)
        return Recorded(failures, _write_feedback(root, assignment, notebooks, whole_class, processes, failures))
    except Exception as error:  # the gradebook could not be read or written: still a result for every student
        return Recorded(
            {student: f"recording in nbgrader failed: {type(error).__name__}: {error}" for student in notebooks}
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class RecordWhileGrading:
    """Records a class in nbgrader as its outcomes arrive, while the rest of the class is still being graded.

    Two processes of its own, each working on what arrived while it was busy: one records batches in
    nbgrader's gradebook (nbgrader's autograde of the staged batch: :func:`record_class` without feedback;
    one writer), the other writes the feedback pages of the students recorded so far (they only read the
    gradebook). For the whole class, a last pass writes the feedback of the students nbgrader knows from
    before and were not recorded now, as nbgrader's feedback of the whole class would. Each student's
    grades and feedback are the same as when the whole class is recorded at the end: nbgrader records and
    shows each student on their own.

    The processes are forked when the recorder starts, before any grading begins, and warm up (import
    nbgrader's converters) while the first students are graded; one that dies (killed, out of memory)
    costs the students it was working on, and the next batch gets a new one.
    """

    def __init__(self, root: Path, assignment: str, *, whole_class: bool, processes: int | None = None) -> None:
        self.root, self.assignment, self.whole_class, self.processes = root, assignment, whole_class, processes
        self.failures: dict[str, str] = {}
        #: a student's feedback that could not be written: what failed
        self.feedback_failures: dict[str, str] = {}
        self._pending: dict[str, tuple[str | None, str | None]] = {}
        self._recorded: list[str] = []
        self._unfed: list[str] = []
        self._running: dict[str, tuple[Future, list[str]]] = {}
        self._pools: dict[str, ProcessPoolExecutor] = {}
        # What finishes hands on the next work at once, from the pools' own threads, hence the lock.
        self._lock = threading.RLock()
        self._owner = threading.get_ident()

    def __enter__(self) -> RecordWhileGrading:
        for step in (AUTOGRADE, FEEDBACK):
            self._start(step)
        return self

    def __exit__(self, *exc) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)

    def add(self, student: str, notebook: str | None, timestamp: str | None) -> None:
        """Record ``student``'s executed notebook (None: a zero) soon."""
        with self._lock:
            self._pending[student] = (notebook, timestamp)
        self._next()

    def finish(self) -> None:
        """Record everyone added (and, for the whole class, the others' feedback); returns when done."""
        while True:
            with self._lock:
                if not (self._pending or self._unfed or self._running):
                    break
                running = [future for future, _ in self._running.values()]
            wait(running, return_when=FIRST_COMPLETED)
            self._next()
        if self.whole_class:
            # the feedback of every other student nbgrader knows, as its feedback of the whole class would
            future = self._submit(FEEDBACK, _feedback_batch, self.root, self.assignment, self._recorded, None, True)
            failure = _part_failure("generate_feedback", future) if future is not None else None
            if failure is not None:
                for student in self._recorded:
                    self.feedback_failures.setdefault(student, failure)

    def _start(self, step: str) -> None:
        self._pools[step] = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=die_with,
            initargs=(os.getpid(),),
        )
        self._pools[step].submit(_warm_up)

    def _submit(self, step: str, function, *args) -> Future | None:
        """``function(*args)`` in the process of ``step``; None if that process died and this thread may not
        start another (only the thread that started the recorder may: the process dies with that thread)."""
        try:
            return self._pools[step].submit(function, *args)
        except BrokenProcessPool:  # the process died (killed, out of memory): a new one
            if threading.get_ident() != self._owner:
                return None
            self._pools[step].shutdown(wait=False)
            self._start(step)
            return self._pools[step].submit(function, *args)

    def _next(self, _finished: Future | None = None) -> None:
        """Take in what finished, then give each idle process what waits for it."""
        started = []
        with self._lock:
            for step, (future, batch) in list(self._running.items()):
                if future.done():
                    del self._running[step]
                    (self._take_in_recorded if step == AUTOGRADE else self._take_in_feedback)(future, batch)
            root, assignment, processes = self.root, self.assignment, self.processes
            if self._pending and AUTOGRADE not in self._running:
                recording = self._submit(AUTOGRADE, _record_batch, root, assignment, self._pending, processes)
                if recording is not None:
                    self._running[AUTOGRADE] = (recording, sorted(self._pending))
                    self._pending = {}
                    started.append(recording)
            if self._unfed and FEEDBACK not in self._running:
                feeding = self._submit(FEEDBACK, _feedback_batch, root, assignment, self._unfed, processes)
                if feeding is not None:
                    self._running[FEEDBACK] = (feeding, self._unfed)
                    self._unfed = []
                    started.append(feeding)
        for work in started:
            # what it finishes is taken in at once, and the next work handed on, without waiting for an arrival
            work.add_done_callback(self._next)

    def _take_in_recorded(self, future: Future, batch: list[str]) -> None:
        try:
            recorded = future.result()
        except Exception as error:  # the process itself failed: nothing of this batch is known to be recorded
            why = f"recording in nbgrader failed: the recording process failed: {type(error).__name__}: {error}"
            recorded = Recorded({student: why for student in batch})
        self.failures.update(recorded.failures)
        done = [student for student in batch if student not in recorded.failures]
        self._recorded += done
        self._unfed += done

    def _take_in_feedback(self, future: Future, batch: list[str]) -> None:
        failure = _part_failure("generate_feedback", future)
        if failure is not None:
            self.feedback_failures.update(dict.fromkeys(batch, failure))


#: the two processes of :class:`RecordWhileGrading`
AUTOGRADE, FEEDBACK = "autograde", "feedback"


def _record_batch(
    root: Path, assignment: str, notebooks: dict[str, tuple[str | None, str | None]], processes: int | None
) -> Recorded:
    return record_class(root, assignment, notebooks, whole_class=False, with_feedback=False, processes=processes)


def _feedback_batch(
    root: Path, assignment: str, students: list[str], processes: int | None, all_but: bool = False
) -> str | None:
    """nbgrader's feedback pages of ``students`` (with ``all_but``: of every other student it knows)."""
    everyone = autograded_students(root, assignment)
    chosen = sorted(set(everyone) - set(students)) if all_but else students
    return feedback(root, assignment, chosen, max(1, processes or os.cpu_count() or 1), among=everyone)


def _warm_up() -> None:
    """What a recording process needs, imported while nothing waits for it."""
    import nbconvert.exporters.html  # noqa: F401
    import nbgrader.apps.api  # noqa: F401


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
