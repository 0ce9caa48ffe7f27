"""The instructor's side of "Neural networks from scratch in numpy, on MNIST": never installed for students.

:mod:`nnlab_instructor.reference` holds the solution of every graded function (the answer key, used by
the build and by the grader's hidden tests); :mod:`nnlab_instructor.authoring` regenerates what derives
from ``source/``; :mod:`nnlab_instructor.grading` is the grader; the ``nnlab`` command is
:mod:`nnlab_instructor.cli`. Students install only the ``nnlab`` package (data, checks, plots):
``pip install ./student``. See docs/architecture.md.
"""

__version__ = "0.1.0"
