"""What a student's notebooks import in "Neural networks from scratch in numpy, on MNIST".

:mod:`nnlab.data` (the built-in MNIST and the course's split), :mod:`nnlab.network` (the blocks no
notebook grades: parameters, sigmoid, finite differences), :mod:`nnlab.checks` (the test cells'
assertions), :mod:`nnlab.plots` and :mod:`nnlab.augment`. No solution of a graded function is here: the
answer key, the build and the grader are the instructor's package, :mod:`nnlab_instructor`, which
students never install (``pip install ./student`` installs this package alone). See docs/architecture.md.
"""

__version__ = "0.1.0"
