"""nbgrader configuration of the course (read by `nbgrader ...` and by `nnlab build` / `nnlab grade`)."""

import os

from nnlab_instructor.grading import feedback
from nnlab_instructor.grading.nbgrader_steps import (
    AUTOGRADE_PREPROCESSORS,
    FEEDBACK_PREPROCESSORS,
    SANITIZE_PREPROCESSORS,
)
from nnlab_instructor.grading.sandbox import Limits

c = get_config()

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "nnlab"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = os.environ.get(
    "NNLAB_DB_URL", "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
)
# Only the notebooks are course material; checkpoints and caches never travel with them.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Where `nbgrader release_assignment` puts the release and students' Assignment List submits: one folder that
# every user of the machine (or every hub server, mounted) can reach. `nbgrader release_assignment` creates it
# with the permissions nbgrader wants; deploy/student/nbgrader_config.py must name the same folder.
c.Exchange.root = os.environ.get("NNLAB_EXCHANGE", "/srv/nbgrader/exchange")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# `nbgrader validate` (a student checking their notebook) stops a hanging cell after the course's cell budget.
c.Execute.timeout = int(Limits().cell_timeout)
# Timestamps in the cell metadata would make every autograded notebook differ from the last.
c.Execute.record_timing = False

# Every nbgrader path grades through the course's grader: `nbgrader autograde`, Formgrader's Autograde
# button and `nnlab grade`'s recording run GradeSubmission where nbgrader would execute the notebook in an
# unsandboxed kernel with the hidden tests put back; `nbgrader generate_feedback` and Formgrader's
# Generate Feedback run WithholdFromFeedback first, so feedback never shows a hidden test, its expected
# values or a folder of this machine. See nnlab_instructor.grading.nbgrader_steps.
c.Autograde.sanitize_preprocessors = SANITIZE_PREPROCESSORS
c.Autograde.autograde_preprocessors = AUTOGRADE_PREPROCESSORS
c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
# The student's kernel on nbgrader's paths gets the budgets `nnlab grade` gives it by default.
c.GradeSubmission.limits = Limits()

# --- Feedback a student can read offline (nnlab_instructor.grading.feedback) --------------------------
# nbgrader's feedback page, with MathJax loaded from the installed jupyter-server-mathjax instead of a
# CDN: the course's template folder only replaces the MathJax macro, so it comes before nbgrader's own.
c.HTMLExporter.extra_template_basedirs = [
    str(feedback.TEMPLATE_DIRECTORY),
    feedback.nbgrader_template_directory(),
]
c.HTMLExporter.filters = {"local_mathjax_url": "nnlab_instructor.grading.feedback.local_mathjax_url"}
# Demos the grader skipped show the outputs of the course's executed notebooks (`nnlab build` writes them).
c.DemoOutputs.executed_directory = os.path.join(c.CourseDirectory.root, "notebooks")
