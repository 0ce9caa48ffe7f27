"""The class in a browser: a student's JupyterLab (the profile in deploy/student) and the instructor's
(the course's nbgrader_config.py), on 127.0.0.1, driven by Playwright through Debian's Chromium.

Everything happens in a temporary copy of the course, with its own exchange and, per role, its own home,
Jupyter config, data and runtime folders. Screenshots of every step go to test-artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, REPORTS
from playwright.sync_api import Browser, Frame, Locator, Page, expect, sync_playwright

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ASSIGNMENT = "01-data"
GRADED_STUDENT = "sample-partial"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
BIN = Path(sys.executable).parent
# Generous: two JupyterLabs, kernels and nbgrader share two cores with other jobs.
UI_TIMEOUT_MS = 60_000
SERVER_START_SECONDS = 120


def release_cells(course: Path) -> list:
    return nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells


def first_test_cell_index(course: Path) -> int:
    return next(
        i
        for i, cell in enumerate(release_cells(course))
        if cell.cell_type == "code" and cell.metadata["nbgrader"]["grade"]
    )


def written_answer_id(course: Path) -> str:
    return next(
        cell.metadata["nbgrader"]["grade_id"]
        for cell in release_cells(course)
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("answer_")
    )


# --------------------------------------------------------------------------- the machine


@dataclass
class Deployment:
    """A temporary course folder and exchange, and an environment per role that keeps Jupyter, IPython
    and matplotlib out of the real home."""

    base: Path
    course: Path
    exchange: Path

    def env(self, role: str) -> dict[str, str]:
        home = self.base / role
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("JUPYTER", "NNLAB_")) and name not in ("IPYTHONDIR", "MPLCONFIGDIR")
        }
        env.update(
            HOME=str(home),
            JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
            JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
            JUPYTER_RUNTIME_DIR=str(home / ".local" / "share" / "jupyter" / "runtime"),
            IPYTHONDIR=str(home / ".ipython"),
            MPLCONFIGDIR=str(home / ".config" / "matplotlib"),
            NNLAB_EXCHANGE=str(self.exchange),
            # nbgrader calls alembic, and the course's commands, from this environment.
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return env

    def run(self, *command: str, role: str = "instructor") -> str:
        done = subprocess.run(
            command, cwd=self.course, env=self.env(role), capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr


@dataclass
class Lab:
    """One running JupyterLab."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen

    def get(self, path: str) -> int:
        request = urllib.request.Request(f"{self.url}/{path}", headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def is_up(self) -> bool:
        try:
            return self.get("api/status") == 200
        except urllib.error.URLError:
            return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch_lab(deployment: Deployment, role: str, root: Path) -> Lab:
    port, token = free_port(), f"{role}-{os.urandom(8).hex()}"
    with open(deployment.base / f"{role}-jupyterlab.log", "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                # CI containers run as root; for anyone else this changes nothing.
                "--allow-root",
            ],
            cwd=root,
            env=deployment.env(role),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Lab(f"http://127.0.0.1:{port}", token, root, process)


def wait_until_up(deployment: Deployment, role: str, lab: Lab) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not lab.is_up():
        if lab.process.poll() is not None or time.monotonic() > deadline:
            log = (deployment.base / f"{role}-jupyterlab.log").read_text()
            pytest.fail(f"{role}'s JupyterLab did not start:\n{log}")
        time.sleep(0.25)


def stop_lab(lab: Lab) -> None:
    # SIGTERM: the server shuts its kernels down (they run in sessions of their own) before it exits.
    if lab.process.poll() is None:
        os.killpg(lab.process.pid, signal.SIGTERM)
        try:
            lab.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, signal.SIGKILL)
            lab.process.wait()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, rebuilt_course) -> Deployment:
    # The release and sample class as the build makes them (the suite's shared rebuild), not the committed
    # copies: those can lag behind source/ while it changes, and tests/test_build.py reports that.
    base = tmp_path_factory.mktemp("browser")
    course = base / "course"
    for folder in ("source", "samples", "release"):
        shutil.copytree(rebuilt_course / folder, course / folder)
    shutil.copytree(REPO / "deploy", course / "deploy")
    shutil.copy(REPO / "nbgrader_config.py", course)
    sample = Path("submitted") / GRADED_STUDENT / ASSIGNMENT
    shutil.copytree(rebuilt_course / sample, course / sample)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return Deployment(base, course, base / "exchange")


@pytest.fixture(scope="module")
def released(deployment) -> Deployment:
    # nbgrader's own command creates the exchange the course's configuration names.
    assert not deployment.exchange.exists()
    deployment.run("nbgrader", "release_assignment", ASSIGNMENT)
    assert deployment.exchange.stat().st_mode & 0o777 == 0o777
    assert (deployment.exchange / "nnlab" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    return deployment


@pytest.fixture(scope="module")
def labs(released) -> Iterator[dict[str, Lab]]:
    """The student's JupyterLab (the profile as its config folder, in a home of its own) and the
    instructor's (in the course), started side by side: each spends seconds importing its extensions."""
    student_home = released.base / "student"
    shutil.copytree(released.course / "deploy" / "student", released.env("student")["JUPYTER_CONFIG_DIR"])
    started = {
        "student": launch_lab(released, "student", student_home),
        "instructor": launch_lab(released, "instructor", released.course),
    }
    try:
        for role, lab in started.items():
            wait_until_up(released, role, lab)
        yield started
    finally:
        for lab in started.values():
            stop_lab(lab)


@pytest.fixture(scope="module")
def student_lab(labs) -> Lab:
    return labs["student"]


@pytest.fixture(scope="module")
def instructor_lab(labs) -> Lab:
    return labs["instructor"]


def ensure_chromium() -> None:
    """Debian's Chromium, which Playwright drives (it can download no browser here): .ci/run installs it;
    on another machine where the tests run as root, it is installed the same way, once."""
    if os.path.exists(CHROMIUM):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=quiet, check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
            env=quiet,
            check=True,
            capture_output=True,
        )
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


OPEN_PAGES: list[Page] = []


@pytest.fixture(autouse=True)
def screenshots_of_a_failure(request) -> Iterator[None]:
    yield
    call = request.node.stash.get(REPORTS, {}).get("call")
    for number, page in enumerate(OPEN_PAGES):
        if call is not None and call.failed and not page.is_closed():
            page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}-{number}.png")
        if not page.is_closed():
            page.close()
    OPEN_PAGES.clear()


def open_lab(browser: Browser, lab: Lab) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    OPEN_PAGES.append(page)
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page.goto(f"{lab.url}/lab?reset&token={lab.token}")
    # A fresh workspace ends its restoration by opening the Launcher; a tab opened before that would lose
    # the focus to it.
    expect(page.locator(".jp-Launcher")).to_be_visible()
    return page


def screenshot(target: Page | Locator, name: str) -> None:
    target.screenshot(path=ARTIFACTS / f"{len(list(ARTIFACTS.iterdir())) + 1:02d}-{name}.png")


def nbgrader_menu(page: Page):
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    menu = page.locator("#jp-mainmenu-nbgrader")
    expect(menu).to_be_visible()
    return menu


# --------------------------------------------------------------------------- the student


def test_student_sees_the_assignment_list_and_no_instructor_tool(browser, student_lab):
    page = open_lab(browser, student_lab)
    visible = nbgrader_menu(page).locator("li.lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    expect(visible).to_have_text(["Assignment List"])
    screenshot(page, "student-nbgrader-menu")
    page.keyboard.press("Escape")
    # The right sidebar would hold Create Assignment.
    expect(page.locator("#jp-right-stack .lm-TabBar-tab", has_text="Create Assignment")).to_have_count(0)
    expect(page.get_by_text("Create Assignment")).to_have_count(0)
    # Not only hidden: the server does not serve them.
    assert student_lab.get("formgrader") == 404
    assert student_lab.get("formgraders") == 404
    assert student_lab.get("assignments?course_id=nnlab") == 200


def test_student_fetches_runs_validates_and_submits_and_the_instructor_collects(browser, student_lab, released):
    page = open_lab(browser, student_lab)
    nbgrader_menu(page).locator('li[data-command="nbgrader:open-assignment-list"]').click()
    released_rows = page.locator("#released_assignments_list > .list_item")
    expect(released_rows).to_have_count(1)
    expect(released_rows.locator(".item_name")).to_have_text(ASSIGNMENT)
    expect(page.locator("#course_list_default")).to_have_text("nnlab")
    screenshot(page, "student-assignment-list")

    released_rows.locator(".item_status button", has_text="Fetch").click()
    fetched = page.locator("#fetched_assignments_list > .list_item")
    expect(fetched).to_have_count(1)
    assert (student_lab.root / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    fetched.locator("a.assignment-notebooks-link").click()
    notebook_link = page.locator(f"#nbgrader-nnlab-{ASSIGNMENT} .nested_list_item .item_name a")
    expect(notebook_link).to_have_text(ASSIGNMENT)
    screenshot(page, "student-fetched")

    notebook_link.click()
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    # Run All before the kernel is connected would ask for a kernel instead of running.
    expect(
        page.locator("#jp-main-statusbar .jp-StatusBar-TextItem", has_text="Python 3 (ipykernel) | Idle")
    ).to_be_visible()
    # The connected kernel's language_info is already in the release: opening it changed nothing.
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(ASSIGNMENT)
    expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0)
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator('li[data-command="runmenu:run-all"]').click()
    # Run All stops at the first failing cell: the first test, since the release's functions raise.
    first_test = notebook.locator(".jp-Notebook .jp-Cell").nth(first_test_cell_index(released.course))
    error = first_test.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    expect(error).to_contain_text("NotImplementedError")
    # Run All leaves the last cell active and in view; the student clicks the failure to read it.
    error.click()
    expect(error).to_be_in_viewport()
    screenshot(page, "student-run-all")

    # Validate saves the notebook, runs it as the grader's validator would and says what fails.
    notebook.locator("jp-button.validate-button").click()
    dialog = page.locator(".nbgrader-ErrorDialog")
    expect(dialog.locator(".validation-failed")).to_be_visible(timeout=3 * UI_TIMEOUT_MS)
    expect(dialog).to_contain_text("NotImplementedError")
    screenshot(page, "student-validate")
    dialog.locator("button.jp-Dialog-button").click()

    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Assignments").click()
    fetched.locator(".item_status button", has_text="Submit").click()
    submitted = page.locator("#submitted_assignments_list > .list_item")
    expect(submitted).to_have_count(1)
    expect(submitted.locator(".item_name").first).to_have_text(ASSIGNMENT)
    screenshot(page, "student-submitted")

    from nbgrader.utils import get_username

    released.run("nbgrader", "collect", ASSIGNMENT)
    collected = released.course / "submitted" / get_username() / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook_cells = nbformat.read(collected, as_version=4).cells
    # What the student ran and saved reached the instructor: the failure is in the collected copy.
    outputs = json.dumps(notebook_cells[first_test_cell_index(released.course)].outputs)
    assert "NotImplementedError" in outputs, outputs


# --------------------------------------------------------------------------- the instructor


def formgrader(page: Page, lab: Lab, path: str) -> Frame:
    """Formgrader opened from the Nbgrader menu, its frame then sent to ``path``."""
    if not page.locator("#formgrader").is_visible():
        nbgrader_menu(page).locator('li[data-command="nbgrader:open-formgrader"]').click()
    frame_element = page.locator("#formgrader iframe")
    expect(frame_element).to_be_visible()
    frame = frame_element.element_handle().content_frame()
    assert frame is not None
    frame.goto(f"{lab.url}/formgrader/{path}")
    return frame


def submissions_row(frame: Frame) -> Locator:
    """The one submission's row of Formgrader's table, once loaded (a "Loading" row stands in before)."""
    row = frame.locator("#main-table tr", has=frame.locator(".needs-manual-grade"))
    expect(row).to_have_count(1)
    return row


def grading_field(frame: Frame, selector: str) -> Locator:
    # Typed before Formgrader has loaded the grades and comments, a value would never be saved.
    frame.wait_for_url("**/formgrader/submissions/**")
    frame.wait_for_function("() => window.formgrader?.grades?.loaded && window.formgrader?.comments?.loaded")
    field = frame.locator(selector)
    expect(field).to_be_visible()
    return field


def test_instructor_grades_a_written_answer_by_hand_and_a_regrade_keeps_it(browser, instructor_lab, released):
    from nbgrader.api import Gradebook

    grade_command = ("nnlab", "grade", ASSIGNMENT, "--student", GRADED_STUDENT, "--workers", "1", "--no-progress")
    released.run(*grade_command)
    answer, comment = (
        written_answer_id(released.course),
        "Right: the test set judges, it never trains. (graded in the browser)",
    )

    page = open_lab(browser, instructor_lab)
    frame = formgrader(page, instructor_lab, f"gradebook/{ASSIGNMENT}/{ASSIGNMENT}")
    row = submissions_row(frame)
    expect(row.locator(".needs-manual-grade .glyphicon-ok")).to_have_count(1)
    expect(row.locator(".written-score")).to_have_text("0 / 2")
    screenshot(page, "instructor-needs-manual-grade")

    row.locator("a", has_text="Submission #1").click()
    score = grading_field(frame, f"input.score#{answer}")
    # Formgrader saves a field when it loses the focus; the saved mark only flashes, the reply is what counts.
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url and r.request.method == "PUT") as saved:
        score.fill("2")
        score.press("Tab")
    assert saved.value.ok
    comment_box = frame.locator(f"textarea#{answer}-comment")
    with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url and r.request.method == "PUT") as saved:
        comment_box.fill(comment)
        comment_box.press("Tab")
    assert saved.value.ok
    score.scroll_into_view_if_needed()
    screenshot(page, "instructor-graded-by-hand")

    released.run(*grade_command)

    frame.goto(f"{instructor_lab.url}/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}")
    row = submissions_row(frame)
    expect(row.locator(".needs-manual-grade")).to_have_attribute("data-order", "0")
    expect(row.locator(".written-score")).to_have_text("2 / 2")
    screenshot(page, "instructor-after-regrade")
    row.locator("a", has_text="Submission #1").click()
    expect(grading_field(frame, f"input.score#{answer}")).to_have_value("2")
    expect(frame.locator(f"textarea#{answer}-comment")).to_have_value(comment)
    frame.locator(f"input.score#{answer}").scroll_into_view_if_needed()
    screenshot(page, "instructor-regraded-answer")

    with Gradebook(f"sqlite:///{released.course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade(answer, ASSIGNMENT, ASSIGNMENT, GRADED_STUDENT)
        assert (grade.manual_score, grade.needs_manual_grade) == (2, False)
        assert gradebook.find_comment(answer, ASSIGNMENT, ASSIGNMENT, GRADED_STUDENT).manual_comment == comment
        assert not gradebook.find_submission(ASSIGNMENT, GRADED_STUDENT).needs_manual_grade
