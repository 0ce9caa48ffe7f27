"""The HTML feedback a student reads: maths typeset offline, whole test messages, the notebook's demos."""

import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import REPO

from nnlab_instructor.grading import feedback
from nnlab_instructor.grading.pipeline import grade

ASSIGNMENT = "02-softmax"
STUDENT = "sample-partial"


@pytest.fixture(scope="module")
def feedback_page(tmp_path_factory) -> BeautifulSoup:
    """The feedback `nnlab grade` writes for one half-right submission, in a copy of the course."""
    root = tmp_path_factory.mktemp("feedback-course")
    for folder in ("source", "release", "samples", "notebooks"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copytree(REPO / "submitted" / STUDENT / ASSIGNMENT, root / "submitted" / STUDENT / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", root)
    (row,) = grade(root, ASSIGNMENT, workers=1, students=[STUDENT])
    assert row.status == "graded", row
    html = root / "feedback" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.html"
    return BeautifulSoup(html.read_text(), "html.parser")


@pytest.mark.slow
def test_the_maths_loads_mathjax_from_a_local_file_and_nothing_from_the_network(feedback_page):
    sources = [script["src"] for script in feedback_page.find_all("script", src=True)]
    assert sources, "the feedback loads no script: no MathJax"
    assert not [s for s in sources if not s.startswith("file:")], f"scripts from the network: {sources}"
    (mathjax,) = [s for s in sources if "MathJax.js" in s]
    url = urlparse(mathjax)
    path = Path(url2pathname(url.path))
    assert path.read_text().startswith("/*\n *  /MathJax.js"), path
    # what that URL asks MathJax to load next, from the same folder
    config, extension = url.query.removeprefix("config=").split(",")
    assert (path.parent / "config" / f"{config}.js").is_file()
    assert (path.parent / "extensions" / f"{extension}.js").is_file()
    assert "Apache License" in (path.parent / "LICENSE").read_text()
    assert "$$" in feedback_page.get_text(), "no display maths left for MathJax to typeset"


@pytest.mark.slow
def test_failure_messages_wrap_instead_of_scrolling(feedback_page):
    styles = "\n".join(style.get_text() for style in feedback_page.find_all("style"))
    ours = feedback.STYLE_SHEET.read_text()
    assert ours in styles
    # after Bootstrap's, whose `pre` scrolls long lines, so that it wins where they conflict
    assert styles.rindex(ours) > styles.index("Bootstrap v3")
    failures = [pre.get_text() for pre in feedback_page.select("div.output_area pre") if "TestFailed" in pre.get_text()]
    assert failures, "the half-right submission's feedback shows no failed test"


def _outputs_after(page: BeautifulSoup, code_start: str):
    """The output area of the code cell whose source starts with ``code_start``."""
    for cell in page.select("div.code_cell"):
        source = cell.select_one("div.input_area")
        if source is not None and source.get_text().lstrip().startswith(code_start):
            return cell.select_one("div.output_wrapper")
    raise AssertionError(f"no code cell starts with {code_start!r}")


@pytest.mark.slow
def test_demos_show_the_course_run_or_say_why_they_do_not(feedback_page):
    scores = _outputs_after(feedback_page, "params = init_params")
    assert feedback.FROM_THE_COURSE in scores.get_text()
    assert "Z has shape (10, 4)" in scores.get_text()
    figure = _outputs_after(feedback_page, "z = np.array([[1.0], [-0.5]")
    assert feedback.FROM_THE_COURSE in figure.get_text() and figure.find("img") is not None
    # this demo calls the student's softmax: the course's output would not be theirs
    vectorise = _outputs_after(feedback_page, "calls = 0")
    assert feedback.USES_YOUR_CODE in vectorise.get_text()
    assert "np.apply_along_axis called" not in vectorise.get_text()


@pytest.mark.slow
def test_the_set_up_cells_line_is_plain_output(feedback_page):
    setup = _outputs_after(feedback_page, "%matplotlib inline")
    (line,) = [area for area in setup.select("div.output_subarea") if "nnlab: loaded" in area.get_text()]
    assert "output_stdout" in line["class"] and "output_stderr" not in line["class"]


def _cell(
    source: str, *, locked: bool = True, solution: bool = False, cell_id: str, outputs=()
) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, id=cell_id, outputs=list(outputs))
    cell.metadata["nbgrader"] = {"locked": locked, "solution": solution, "grade": False, "grade_id": cell_id}
    return cell


def test_demo_outputs_come_from_the_course_only_for_demos_independent_of_the_student(tmp_path):
    printed = [nbformat.v4.new_output("stream", name="stdout", text="course output\n")]
    course = nbformat.v4.new_notebook()
    course.cells = [
        _cell("def softmax(Z):\n    return Z", locked=False, solution=True, cell_id="student"),
        _cell("print(1)", cell_id="independent", outputs=printed),
        _cell("P = softmax(2)", cell_id="uses-student"),
        _cell("print(P)", cell_id="uses-it-through-P", outputs=printed),
        _cell("print(3)", cell_id="changed", outputs=printed),
    ]
    (tmp_path / "nb").mkdir()
    nbformat.write(course, tmp_path / "nb" / "nb.ipynb")
    graded = nbformat.v4.new_notebook()
    graded.cells = [
        _cell("def softmax(Z):\n    return 0", locked=False, solution=True, cell_id="student"),
        _cell("print(1)", cell_id="independent"),
        _cell("P = softmax(2)", cell_id="uses-student"),
        _cell("print(P)", cell_id="uses-it-through-P"),
        _cell("print(4)", cell_id="changed"),
    ]
    demos = feedback.DemoOutputs(executed_directory=str(tmp_path))
    result, _ = demos.preprocess(graded, {"nbgrader": {"notebook": "nb"}})
    outputs = {cell.id: cell.outputs for cell in result.cells}
    assert [o.get("text") or o.data["text/plain"] for o in outputs["independent"]] == [
        feedback.FROM_THE_COURSE,
        "course output\n",
    ]
    assert [o.data["text/plain"] for o in outputs["uses-it-through-P"]] == [feedback.USES_YOUR_CODE]
    assert outputs["uses-student"] == [] and outputs["changed"] == [] and outputs["student"] == []
