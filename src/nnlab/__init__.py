"""Course library of "Neural networks from scratch in numpy, on MNIST".

What students import: :mod:`nnlab.data` (the built-in MNIST, one-hot labels, the split),
:mod:`nnlab_instructor.reference` (the reference maths), :mod:`nnlab.checks` (the test cells' assertions),
:mod:`nnlab.plots`. For instructors: :mod:`nnlab_instructor.authoring` and :mod:`nnlab_instructor.grading`; the ``nnlab``
command is :mod:`nnlab_instructor.cli`. See docs/architecture.md.
"""

__version__ = "0.1.0"
