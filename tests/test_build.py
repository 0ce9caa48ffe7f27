"""The generated copies (release/, submitted/ samples, notebooks/) are what `nnlab build` makes from source/."""

import ast
import json
import re

import nbformat
import pytest
from conftest import REPO

from nnlab_instructor.authoring.course_files import assignments, grade_id, run_nbgrader
from nnlab_instructor.authoring.released import EARLIER_STEPS, earlier_steps_source, graded_functions

ASSIGNMENTS = assignments(REPO)
EXPECTED = [
    "01-data",
    "02-softmax",
    "03-loss",
    "04-backprop",
    "05-batch-gd",
    "06-sgd",
    "07-overfitting",
    "08-initialisation",
    "09-weight-decay",
    "10-capstone",
]


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def test_the_course_has_its_notebooks_in_order():
    assert ASSIGNMENTS == EXPECTED


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["release", "submitted"])
def test_generated_folders_are_up_to_date(rebuilt_course, folder):
    fresh = {
        p.relative_to(rebuilt_course / folder): p.read_bytes()
        for p in (rebuilt_course / folder).rglob("*")
        if p.is_file()
    }
    committed = {p.relative_to(REPO / folder): p.read_bytes() for p in (REPO / folder).rglob("*") if p.is_file()}
    assert sorted(fresh) == sorted(committed), f"{folder}/ holds other files than a fresh build: run `nnlab build`"
    stale = [str(path) for path in fresh if fresh[path] != committed[path]]
    assert not stale, f"{folder}/ differs from a fresh build in {stale}: run `nnlab build` and commit the result"


@pytest.mark.parametrize("name", EXPECTED)
def test_release_holds_no_solution_no_hidden_test_and_no_output(name):
    source = nbformat.read(REPO / "source" / name / f"{name}.ipynb", as_version=4)
    release_text = (REPO / "release" / name / f"{name}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in release_text, f"release/{name} still contains {marker!r}"
    release = nbformat.reads(release_text, as_version=4)
    for cell in release.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"release/{name} cell {grade_id(cell)} has outputs"
            )
    # A line that exists only inside a solution or hidden-test region must not reach the release.
    regions = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
    public = "\n".join(regions.sub("", cell.source) for cell in source.cells)
    secret = {
        line.strip() for cell in source.cells for m in regions.finditer(cell.source) for line in m.group(2).splitlines()
    }
    release_source = "\n".join(cell.source for cell in release.cells)
    leaked = sorted(line for line in secret if len(line) > 12 and line not in public and line in release_source)
    assert not leaked, f"release/{name} reveals solution or hidden-test lines {leaked}"
    answers = [c for c in release.cells if c.cell_type == "markdown" and nbgrader_meta(c).get("solution")]
    assert all(c.source == "YOUR ANSWER HERE" for c in answers), f"release/{name} reveals a model written answer"


@pytest.mark.slow
def test_nbgrader_validate_button_works_with_the_course_config():
    # The Validate button a student presses, on one notebook, each way nbgrader offers. That every source
    # passes and every release fails each test is proven for all of them by the sample class (the solution
    # gets full marks, the untouched release zero: tests/test_autograde.py) and by nbval on notebooks/.
    name = "03-loss"
    result = run_nbgrader(REPO, "validate", f"source/{name}/{name}.ipynb", check=False)
    assert "Success!" in result.stdout and result.returncode == 0, f"source/{name}: {result.stdout}{result.stderr}"
    inverted = run_nbgrader(REPO, "validate", "--invert", f"release/{name}/{name}.ipynb", check=False)
    assert "Success!" in inverted.stdout and inverted.returncode == 0, (
        f"release/{name} --invert: {inverted.stdout}{inverted.stderr}"
    )
    failing = run_nbgrader(REPO, "validate", f"release/{name}/{name}.ipynb", check=False)
    assert "Success!" not in failing.stdout and "NotImplementedError" in failing.stdout, failing.stdout


@pytest.mark.parametrize("name", EXPECTED)
def test_executed_notebook_is_the_source_with_outputs(name):
    source = nbformat.read(REPO / "source" / name / f"{name}.ipynb", as_version=4)
    executed = nbformat.read(REPO / "notebooks" / name / f"{name}.ipynb", as_version=4)
    assert [c.source for c in executed.cells] == [c.source for c in source.cells], (
        f"notebooks/{name}/{name}.ipynb is stale: run `nnlab build`"
    )
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, (
                f"notebooks/{name}/{name}.ipynb: cell {grade_id(cell)} was not executed"
            )
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, (
                f"notebooks/{name}/{name}.ipynb: cell {grade_id(cell)} raised {errors[0].ename}: {errors[0].evalue}"
            )
    for cell in source.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"source/{name}: cell {grade_id(cell)} has outputs"
            )


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_follows_the_authoring_conventions(name):
    notebook = nbformat.read(REPO / "source" / name / f"{name}.ipynb", as_version=4)
    title = notebook.cells[0]
    number = name[:2]
    assert title.cell_type == "markdown" and title.source.startswith(f"# {number} · "), (
        f"{name}: title cell must start with '# {number} · '"
    )
    assert "What you'll learn" in title.source, f'{name}: title cell lacks "What you\'ll learn"'
    ids = [grade_id(c) for c in notebook.cells if grade_id(c)]
    assert len(ids) == len(set(ids)), f"{name}: duplicated grade_ids {sorted({i for i in ids if ids.count(i) > 1})}"
    total = sum(nbgrader_meta(c).get("points", 0) for c in notebook.cells if nbgrader_meta(c).get("grade"))
    stated = re.search(r"worth \*{0,2}(\d+) points", title.source)
    assert stated and int(stated.group(1)) == total, (
        f"{name}: title states {stated and stated.group(1)} points, the cells add up to {total:g}"
    )
    functions = [c for c in notebook.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")]
    tests = [c for c in notebook.cells if c.cell_type == "code" and nbgrader_meta(c).get("grade")]
    assert functions and tests, f"{name}: no graded function or no test cell"
    for cell in functions:
        assert "### BEGIN SOLUTION" in cell.source and "def " in cell.source, (
            f"{name}: {grade_id(cell)} is not a function with a solution region"
        )
        assert "of shape" in cell.source or "shape (" in cell.source, (
            f"{name}: {grade_id(cell)} docstring gives no shapes"
        )
    for cell in tests:
        assert nbgrader_meta(cell).get("locked"), f"{name}: test cell {grade_id(cell)} is not locked"
        assert "call_own(" in cell.source, (
            f"{name}: test cell {grade_id(cell)} does not call the student's function through checks.call_own"
        )
    sample = json.loads((REPO / "samples" / "partial" / f"{name}.json").read_text())
    assert sorted(sample["expected_points"]) == sorted(grade_id(c) for c in tests), (
        f"{name}: the partial sample must predict every test cell"
    )


def test_executed_notebooks_keep_no_machine_specific_text(tmp_path):
    # A rebuild from another folder or machine must write the same notebooks/: kernel file names and
    # memory addresses go through nbval's own sanitize rules, and the data is the built-in MNIST.
    from nnlab_instructor.authoring.course_files import SANITIZE_CONFIG, sanitize_outputs

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("load()")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=["  File /tmp/ipykernel_4021/3144.py:2\n"]),
        nbformat.v4.new_output("execute_result", data={"text/plain": "<Figure at 0x7f3a2b1c>"}, execution_count=1),
    ]
    notebook.cells.append(cell)
    sanitize_outputs(notebook, REPO / SANITIZE_CONFIG)
    assert cell.outputs[0]["text"] == "  File CELL.py:2\n"
    assert cell.outputs[1]["data"]["text/plain"] == "<Figure at 0xADDRESS>"
    for path in sorted([*(REPO / "notebooks").glob("*/*.ipynb"), *(REPO / "autograded").glob("*/*/*.ipynb")]):
        text = path.read_text()
        assert "/shared/mnist" not in text and "MNIST_DIR: " not in text, (
            f"{path} was built on other data than the built-in MNIST"
        )
    for path in sorted((REPO / "notebooks").glob("*/*.ipynb")):
        assert (
            "nnlab: loaded MNIST's official test split, built into nnlab: 10,000 images of 28x28" in path.read_text()
        ), path
    with pytest.raises(Exception, match="no nbval sanitize rules"):
        sanitize_outputs(notebook, tmp_path / "missing.cfg")


@pytest.mark.parametrize("name", EXPECTED)
def test_an_assignment_releases_only_earlier_assignments_solutions(name):
    # earlier_steps.py is the course's code for what earlier notebooks graded; nothing this notebook or
    # a later one grades may be in it (nor anywhere else a student gets).
    later = {f for a in EXPECTED[EXPECTED.index(name) :] for f in graded_functions(REPO, a)}
    earlier = {f for a in EXPECTED[: EXPECTED.index(name)] for f in graded_functions(REPO, a)}
    for folder in ("source", "release", "submitted/sample-blank"):
        path = REPO / folder / name / EARLIER_STEPS
        if not earlier:
            assert not path.exists(), f"{folder}/{name}/{EARLIER_STEPS} exists, but no earlier notebook grades anything"
            continue
        defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert not defined & later, f"{folder}/{name}/{EARLIER_STEPS} gives away {sorted(defined & later)}"
        assert earlier <= defined, f"{folder}/{name}/{EARLIER_STEPS} lacks {sorted(earlier - defined)}"
        assert path.read_text() == earlier_steps_source(REPO, name), f"{path} is stale: run `nnlab build`"


def test_executing_a_notebook_leaves_no_kernel_channel_open_and_says_nothing(tmp_path, caplog):
    import gc
    import logging

    from nnlab_instructor.authoring.build import run_notebook

    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), path)
    with caplog.at_level(logging.DEBUG):
        executed = run_notebook(path, timeout=60)
        gc.collect()  # jupyter_client warns as it collects a client whose channels are still open
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not any("zmq context" in line or "Executing notebook" in line for line in said), said
