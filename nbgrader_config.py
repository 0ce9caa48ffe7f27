"""nbgrader configuration of the course (read by `nbgrader ...` and by `nnlab build` / `nnlab grade`)."""

import os

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

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Validate and Formgrader stop a hanging cell after the course's one cell time budget.
c.Execute.timeout = int(Limits().cell_timeout)
# Timestamps in the cell metadata would make every autograded notebook differ from the last.
c.Execute.record_timing = False

# `nnlab grade` executes every submission itself (sandboxed kernel, tests decided outside it) and then
# lets nbgrader record the results from the already executed notebooks: see nnlab_instructor.grading.record.

# --- Feedback a student can read offline (nnlab_instructor.grading.feedback) --------------------------
# Kept apart from the recording settings above: these only change the HTML that GenerateFeedback writes.
from nnlab_instructor.grading import feedback as _feedback  # noqa: E402

# nbgrader's feedback page, with MathJax loaded from the installed jupyter-server-mathjax instead of a
# CDN: the course's template folder only replaces the MathJax macro, so it comes before nbgrader's own.
c.HTMLExporter.extra_template_basedirs = [str(_feedback.TEMPLATE_DIRECTORY), _feedback.nbgrader_template_directory()]
c.HTMLExporter.filters = {"local_mathjax_url": "nnlab_instructor.grading.feedback.local_mathjax_url"}
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nnlab_instructor.grading.feedback.FeedbackStyle",
    "nnlab_instructor.grading.feedback.DemoOutputs",
]
# Demos the grader skipped show the outputs of the course's executed notebooks (`nnlab build` writes them).
c.DemoOutputs.executed_directory = os.path.join(c.CourseDirectory.root, "notebooks")
