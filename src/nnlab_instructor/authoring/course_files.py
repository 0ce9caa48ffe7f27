"""Where things are in a course directory, and how to call nbgrader on it."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat

from nnlab.errors import NnlabError

SAMPLE_STUDENTS = ("sample-solution", "sample-partial", "sample-blank")


class CourseError(NnlabError):
    """The course directory is not what nnlab expects; the message says what is missing."""


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The course root: the nearest folder at or above ``start`` (default: cwd) with nbgrader_config.py."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and (folder / "source").is_dir():
            return folder
    raise CourseError(f"no course here: no folder at or above {here} holds nbgrader_config.py and source/")


def assignments(root: Path) -> list[str]:
    """Assignment names (``01-data``, ...) in order, from ``source/``."""
    names = sorted(p.name for p in (root / "source").iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise CourseError(f"{root / 'source'} holds no assignment folders")
    return names


def source_notebook(root: Path, assignment: str) -> Path:
    """The one authored notebook of an assignment (``source/NN-topic/NN-topic.ipynb``)."""
    path = root / "source" / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        raise CourseError(f"assignment {assignment} has no notebook {path}")
    return path


def released_files(root: Path, assignment: str) -> dict[str, bytes]:
    """The files an assignment releases beside its notebook (``earlier_steps.py``, ``expected_values.json``),
    as the instructor's ``source/`` holds them: what grading trusts, whatever a student handed in."""
    folder = root / "source" / assignment
    return {
        path.name: path.read_bytes()
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in (".py", ".json") and not path.name.startswith(".")
    }


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader subprocesses: this interpreter's bin first, since nbgrader shells out to alembic."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_nbgrader(
    root: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course root as a command (``env`` added to the environment); on
    failure raise with nbgrader's own output. For what the API does not offer (validate, zip_collect)."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=root, env={**nbgrader_env(), **(env or {})}, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise CourseError(
            f"nbgrader {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def nbgrader_config(root: Path, overrides: dict | None = None):
    """The course's ``nbgrader_config.py``, read as nbgrader reads it, with ``overrides`` merged on top."""
    from traitlets.config import Config, PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    if overrides:
        config.merge(Config(overrides))
    return config


def call_nbgrader(root: Path, step: str, assignment: str, *, overrides: dict | None = None, **kwargs) -> dict:
    """Run one step of nbgrader's Python API (``generate_assignment``, ``autograde``,
    ``generate_feedback``...) on the course, in this process.

    Returns nbgrader's result (``success``, ``log``, ``error``), so that the caller decides what a failure
    means; raises only :class:`GradebookError` when the gradebook's database cannot be opened. In-process,
    the ~5 s that importing nbgrader costs are paid once, not once per step.
    """
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy.exc import SAWarning

    # The database is reached (or its problem said) and its schema made once, before nbgrader opens it
    # a dozen times per student; on PostgreSQL, two runs at once cannot both create it.
    with open_gradebook(root):
        pass
    # nbgrader's step-by-step INFO lines would bury nnlab's own report; its warnings still show.
    config = nbgrader_config(root, {"NbGraderAPI": {"log_level": "WARN"}, **(overrides or {})})
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config, log=NBGRADER_LOG)
    with _interpreter_bin_on_path(), warnings.catch_warnings():
        # SQLAlchemy's notes on nbgrader's own session handling: nothing an instructor can act on.
        warnings.filterwarnings("ignore", category=SAWarning)
        return getattr(api, step)(assignment, **kwargs)


class _NothingToDoWithTheStep(logging.Filter):
    """Leaves out nbgrader's warnings about what the steps nnlab runs do not use or do on purpose."""

    #: the exchange, which the API checks when it starts (no grading step uses it); a folder written
    #: again, which nnlab asks for (``force``): once per batch and per student, in the middle of the progress
    IRRELEVANT = ("Unwritable directory, please contact your instructor:", "Removing existing assignment:")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.IRRELEVANT)


#: the log of the nbgrader steps nnlab runs in its own processes: its warnings and errors, without those
NBGRADER_LOG = logging.getLogger("nnlab.nbgrader")
NBGRADER_LOG.addFilter(_NothingToDoWithTheStep())


class GradebookError(CourseError):
    """nbgrader's gradebook database cannot be opened: the message names the database and the problem."""


# Any number: PostgreSQL's advisory lock that nnlab takes while it creates the gradebook's schema or students.
_SCHEMA_LOCK = 0x6E6E6C6162


@contextlib.contextmanager
def open_gradebook(root: Path, *, exclusive: bool = False) -> Iterator:
    """nbgrader's gradebook of the course (created, with its schema, if there is none yet): the database of
    ``c.CourseDirectory.db_url`` in ``nbgrader_config.py`` (``NNLAB_DB_URL`` there: SQLite or PostgreSQL).

    On PostgreSQL, opening holds an advisory lock while nbgrader creates what is missing (schema, course),
    so that several grading runs can start at once on one database; with ``exclusive`` the lock is held for
    the whole ``with`` block (for adding rows that other runs may add too, such as students). A database
    that cannot be reached raises :class:`GradebookError`, which names it and the problem.
    """
    from nbgrader.api import Gradebook

    directory = nbgrader_config(root).CourseDirectory
    url = directory.db_url
    with contextlib.ExitStack() as lock:
        with _gradebook_errors(url), _interpreter_bin_on_path():
            lock.enter_context(_schema_lock(url))
            # The course_id nbgrader's own converters open it with; its preprocessors open it with none, which
            # adds "default_course": made here too, under the lock, or two first runs would both add it.
            gradebook = Gradebook(url, directory.course_id)
            gradebook.check_course()
        with gradebook:
            if not exclusive:
                lock.close()
            yield gradebook


def describe_database(url: str) -> str:
    """``url`` as a message may show it: the password hidden, and where it was configured."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = url
    from_environment = os.environ.get("NNLAB_DB_URL") == url
    origin = "NNLAB_DB_URL" if from_environment else "c.CourseDirectory.db_url in nbgrader_config.py"
    return f"{shown!r} ({origin})"


@contextlib.contextmanager
def _gradebook_errors(url: str) -> Iterator[None]:
    """What goes wrong while the gradebook's database is opened, said in one line."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, ProgrammingError

    where = f"nbgrader's gradebook database {describe_database(url)}"
    try:
        yield
    except NoSuchModuleError as error:
        raise GradebookError(f"{where} is of a kind SQLAlchemy does not know: {error}") from None
    except ArgumentError as error:
        raise GradebookError(
            f"{where} is not a database URL ({error}); expected e.g. sqlite:////path/gradebook.db "
            "or postgresql+psycopg://user:password@host:5432/database"
        ) from None
    except ModuleNotFoundError as error:
        raise GradebookError(
            f"{where} needs the database driver {error.name!r}, which is not installed: "
            "pip install 'nnlab-course[postgres]' (psycopg) for PostgreSQL"
        ) from None
    except (OperationalError, ProgrammingError) as error:
        reason = " ".join(str(error.orig or error).split())
        raise GradebookError(f"{where} cannot be opened: {reason}") from None


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """PostgreSQL's advisory lock ``_SCHEMA_LOCK`` held on a connection of its own; nothing on other databases
    (SQLite serialises its writers itself)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK})
    finally:
        engine.dispose()


@contextlib.contextmanager
def _interpreter_bin_on_path() -> Iterator[None]:
    # A new gradebook asks the `alembic` command for its schema version: the one of this environment.
    saved = os.environ.get("PATH")
    os.environ["PATH"] = nbgrader_env()["PATH"]
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def nbgrader_failure(step: str, result: dict) -> str:
    """The last useful line of a failed API call, for a grade table or an error message."""
    text = (result.get("error") or "") + (result.get("log") or "")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return f"nbgrader {step} failed: {lines[-1] if lines else 'no message'}"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def write_notebook(notebook: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


SANITIZE_CONFIG = "nbval_sanitize.cfg"


def sanitize_outputs(notebook, config: Path) -> None:
    """Apply nbval's sanitize rules (``nbval_sanitize.cfg``) to the text outputs, in place.

    The rules replace what differs by machine (the MNIST folder, kernel file names, addresses), so
    a rebuild on another machine, or from another folder, writes the same notebooks/ files.
    """
    if not config.is_file():
        raise CourseError(f"no nbval sanitize rules at {config}: notebooks/ would keep machine-specific outputs")
    sanitize_rules(notebook, config.read_text(), str(config))


def sanitize_rules(notebook, config_text: str, where: str) -> None:
    """:func:`sanitize_outputs` with the rules' text (``where`` names it in errors)."""
    from nbval.plugin import get_sanitize_patterns

    # nbval's own reader, so that the build and nbval apply exactly the same rules in the same order.
    rules = dict(get_sanitize_patterns(config_text))
    if not rules:
        raise CourseError(f"no nbval sanitize rules in {where}: notebooks/ would keep machine-specific outputs")
    patterns = [(re.compile(regex), replacement) for regex, replacement in rules.items()]

    def clean(text):
        joined = "".join(text) if isinstance(text, list) else text
        for pattern, replacement in patterns:
            joined = pattern.sub(replacement, joined)
        return joined

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = clean(output["text"])
            elif "text/plain" in output.get("data", {}):
                output["data"]["text/plain"] = clean(output["data"]["text/plain"])
