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

# Where `nbgrader release_assignment` puts the release and students' Assignment List submits: one folder that
# every user of the machine (or every hub server, mounted) can reach. `nbgrader release_assignment` creates it
# with the permissions nbgrader wants; deploy/student/nbgrader_config.py must name the same folder.
c.Exchange.root = os.environ.get("NNLAB_EXCHANGE", "/srv/nbgrader/exchange")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Validate and Formgrader stop a hanging cell after the course's one cell time budget.
c.Execute.timeout = int(Limits().cell_timeout)
# Timestamps in the cell metadata would make every autograded notebook differ from the last.
c.Execute.record_timing = False

# `nnlab grade` executes every submission itself (sandboxed kernel, tests decided outside it) and then
# lets nbgrader record the results from the already executed notebooks: see nnlab_instructor.grading.record.
