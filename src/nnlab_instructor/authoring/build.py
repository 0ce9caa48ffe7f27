"""Regenerating everything derived from source/ (``nnlab build``).

- ``release/<assignment>/``: the student copies, by ``nbgrader generate_assignment``;
- ``submitted/sample-*/<assignment>/``: the sample class (solution, partial, blank) graded by the tests;
- ``source/<assignment>/earlier_steps.py`` and ``expected_values.json``: what the assignment releases
  beside its notebook instead of an answer key (:mod:`nnlab_instructor.authoring.released`);
- ``notebooks/<assignment>/<assignment>.ipynb``: the source notebooks executed with their outputs (the
  nbval baseline), beside the files released with them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbgrader.utils import is_solution

from nnlab.checks import RECORD_ENV

from .course_files import (
    SANITIZE_CONFIG,
    CourseError,
    call_nbgrader,
    grade_id,
    nbgrader_env,
    nbgrader_failure,
    read_notebook,
    released_files,
    sanitize_outputs,
    source_notebook,
    write_notebook,
)
from .released import EXPECTED_VALUES, write_earlier_steps

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def build(root: Path, names: list[str], *, execute: bool = True, workers: int = 1) -> None:
    for name in names:
        source_notebook(root, name)  # fail before any work if one is missing
    for name in names:
        write_earlier_steps(root, name)
        result = call_nbgrader(root, "generate_assignment", name, force=True, create=True)
        if not result["success"]:
            raise CourseError(f"{nbgrader_failure('generate_assignment', result)}\n{result.get('log', '')}")
        complete_language_info(root / "release" / name / f"{name}.ipynb")
        print(f"release/{name}/: generated")
        make_sample_submissions(root, name)
        print(f"submitted/sample-*/{name}/: solution, partial and blank samples written")
    if execute:
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            recorded = pool.map(record_expected_values, [root] * len(names), names)
            for name, seconds in zip(names, recorded):
                print(f"source/{name}/{EXPECTED_VALUES}: recorded from the released notebook in {seconds:.0f} s")
            done = pool.map(
                execute_notebook,
                [source_notebook(root, n) for n in names],
                [root / "notebooks" / n / f"{n}.ipynb" for n in names],
                [root / SANITIZE_CONFIG] * len(names),
            )
            for name, seconds in zip(names, done):
                print(f"notebooks/{name}/{name}.ipynb: executed in {seconds:.0f} s")
        print(f"notebooks executed in {time.perf_counter() - started:.0f} s")
    for name in names:
        place_released_files(root, name)


# What the students' Python 3 kernel reports about its language. JupyterLab writes it into a notebook when
# the kernel starts, and a notebook that changes on opening is marked unsaved: the release carries it
# already. The version is the Python of the course's student environment (docs/deployment.md); students
# on another one see the notebook marked changed once, which changes nothing else.
STUDENT_PYTHON = "3.11.7"
KERNEL_LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": STUDENT_PYTHON,
}


def complete_language_info(path: Path) -> None:
    """Give a released notebook the kernel's full ``language_info`` (see :data:`KERNEL_LANGUAGE_INFO`)."""
    notebook = read_notebook(path)
    notebook.metadata["language_info"] = dict(KERNEL_LANGUAGE_INFO)
    write_notebook(notebook, path)


def place_released_files(root: Path, name: str) -> None:
    """Copy what ``source/<name>/`` releases beside the notebook into every generated folder that holds it."""
    files = released_files(root, name)
    folders = [root / "release" / name]
    if (root / "notebooks" / name).is_dir():
        folders.append(root / "notebooks" / name)
    folders += [root / "submitted" / s / name for s in ("sample-blank", "sample-solution", "sample-partial")]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in [p for p in folder.iterdir() if p.suffix in (".py", ".json") and p.name not in files]:
            stale.unlink()
        for file_name, content in files.items():
            if not (folder / file_name).exists() or (folder / file_name).read_bytes() != content:
                (folder / file_name).write_bytes(content)


def record_expected_values(root: Path, name: str) -> float:
    """Run the release with the model solutions, recording the course's value for every visible check.

    The result is ``source/<name>/expected_values.json`` (none if the notebook checks nothing against the
    course's values). Any error in the run fails the build: the released tests must pass on the solution.
    """
    started = time.perf_counter()
    sample = root / "submitted" / "sample-solution" / name / f"{name}.ipynb"
    target = root / "source" / name / EXPECTED_VALUES
    with tempfile.TemporaryDirectory(prefix="nnlab-record-") as folder:
        work = Path(folder)
        for file_name, content in released_files(root, name).items():
            if file_name != EXPECTED_VALUES:
                (work / file_name).write_bytes(content)
        shutil.copy(sample, work / sample.name)
        record = work / EXPECTED_VALUES
        os.environ[RECORD_ENV] = str(record)
        try:
            notebook = run_notebook(work / sample.name, timeout=600)
        finally:
            del os.environ[RECORD_ENV]
        fail_on_errors(notebook, f"release/{name} with the model solutions")
        if record.exists():
            if not target.exists() or target.read_bytes() != record.read_bytes():
                shutil.copy(record, target)
        else:
            target.unlink(missing_ok=True)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- executed notebooks


def fail_on_errors(notebook: nbformat.NotebookNode, what: str) -> None:
    """Raise CourseError naming the first cell that raised (cells tagged ``raises-exception`` may)."""
    for cell in notebook.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and "raises-exception" not in cell.get("metadata", {}).get("tags", []):
            raise CourseError(f"{what}: cell {grade_id(cell)} raised {errors[0].ename}: {errors[0].evalue}")


def run_notebook(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute a notebook in its folder in a fresh kernel of this environment; return it with its outputs.

    A cell that raises does not stop the run: its error is in its outputs.
    """
    from nbclient import NotebookClient

    # The python3 kernel spec runs "python" from PATH: make that this environment's interpreter.
    os.environ["PATH"] = nbgrader_env()["PATH"]
    # One BLAS thread: notebooks run side by side here and in CI, and the nbval baseline must not
    # depend on how a machine splits its matrix products.
    for variable in BLAS_THREAD_VARIABLES:
        os.environ[variable] = "1"
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    notebook = read_notebook(path)
    with tempfile.TemporaryDirectory(prefix="nnlab-kernel-") as sockets:
        # Unix sockets, not TCP ports: kernels started side by side by several workers could
        # otherwise pick the same free port and one of them dies before it starts.
        kernel = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel"))
        client = NotebookClient(
            notebook,
            km=kernel,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            allow_errors=True,
            # How print() output is split into messages depends on timing; merged, it does not.
            coalesce_streams=True,
            resources={"metadata": {"path": str(path.parent)}},
            log=KERNEL_LOG,
        )
        try:
            client.execute()
        finally:
            # nbclient shuts down only kernels it made itself, and leaves their client's channels open
            # (jupyter_client then warns "Could not destroy zmq context" when the client is collected).
            if client.kc is not None:
                client.kc.stop_channels()
            if kernel.has_kernel:
                run_sync(kernel.shutdown_kernel)(now=True)
    return notebook


#: nbclient's log while the build executes notebooks: its warnings, not an "Executing notebook with kernel"
#: line per notebook (it logs through nbgrader's application, at INFO, once nbgrader's config was read)
KERNEL_LOG = logging.getLogger("nnlab.build.kernel")
KERNEL_LOG.setLevel(logging.WARNING)


def execute_notebook(source: Path, destination: Path, sanitize_config: Path, timeout: int = 600) -> float:
    """Execute a source notebook (solutions included) and write it with its outputs; return seconds taken."""
    started = time.perf_counter()
    notebook = run_notebook(source, timeout)
    fail_on_errors(notebook, str(source))
    # The interpreter's patch version is not part of the course and would make rebuilds differ.
    notebook.metadata.get("language_info", {}).pop("version", None)
    sanitize_outputs(notebook, sanitize_config)
    write_notebook(notebook, destination)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- the sample class


def solution_source(cell) -> str:
    """A solution cell as the model student would hand it in: the solution, without nbgrader's markers."""
    return "\n".join(line for line in cell.source.splitlines() if not SOLUTION_MARKER.match(line))


def make_sample_submissions(root: Path, name: str) -> None:
    """Write the sample class for one assignment into ``submitted/``.

    - ``sample-blank``: the release untouched;
    - ``sample-solution``: the release with every answer cell filled in from the source's solution;
    - ``sample-partial``: the solution with the cells of ``samples/partial/<name>.json`` replaced.
    """
    release_path = root / "release" / name / f"{name}.ipynb"
    release = read_notebook(release_path)
    solutions = {
        grade_id(c): solution_source(c) for c in read_notebook(source_notebook(root, name)).cells if is_solution(c)
    }
    partial_spec = partial_sample(root, name)

    for student, replacements in (
        ("sample-blank", {}),
        ("sample-solution", solutions),
        ("sample-partial", {**solutions, **partial_spec["cells"]}),
    ):
        notebook = nbformat.from_dict(json.loads(json.dumps(release)))
        for cell in notebook.cells:
            if is_solution(cell) and grade_id(cell) in replacements:
                cell.source = replacements[grade_id(cell)]
        write_notebook(notebook, root / "submitted" / student / name / f"{name}.ipynb")


def partial_sample(root: Path, name: str) -> dict:
    """The half-right sample of an assignment, with the points each test cell must give it."""
    path = root / "samples" / "partial" / f"{name}.json"
    if not path.is_file():
        raise CourseError(f"assignment {name} has no partial sample {path}")
    spec = json.loads(path.read_text())
    source_ids = {grade_id(c) for c in read_notebook(source_notebook(root, name)).cells}
    unknown = sorted(set(spec["cells"]) - source_ids)
    if unknown:
        raise CourseError(f"{path} replaces cells {unknown} that {name} does not have")
    return spec
