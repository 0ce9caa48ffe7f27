"""The instructor's side of "Neural networks from scratch in numpy, on MNIST": never installed for students.

:mod:`nnlab_instructor.reference` holds the solution of every graded function (the answer key, used by
the build and by the grader's hidden tests); :mod:`nnlab_instructor.authoring` regenerates what derives
from ``source/``; :mod:`nnlab_instructor.grading` is the grader; the ``nnlab`` command is
:mod:`nnlab_instructor.cli`. Students install only the ``nnlab`` package (data, checks, plots):
``pip install ./student``. See docs/architecture.md.
"""

__version__ = "0.1.0"

import sys

# jsonschema (under nbformat and nbgrader) imports rfc3987_syntax, when it is installed, for its "iri"
# format checker, and that module compiles 38 grammars as it is imported: about 3 s in every process of
# the command, for a format checker that nbformat, nbconvert and nbgrader never use
# (python-jsonschema/jsonschema#1428). Marked absent here, jsonschema goes without that one checker.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
