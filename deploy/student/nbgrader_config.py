"""nbgrader configuration of a student's JupyterLab (the Assignment List, Validate, `nbgrader fetch_assignment`)."""

import os

c = get_config()

c.CourseDirectory.course_id = "nnlab"
# The instructor's exchange: the same default and variable as the course's nbgrader_config.py.
c.Exchange.root = os.environ.get("NNLAB_EXCHANGE", "/srv/nbgrader/exchange")
