"""Grading on top of nbgrader, one module per step of the path a submission takes.

:mod:`~nnlab_instructor.grading.pipeline` runs a class through the steps:
:mod:`~nnlab_instructor.grading.submissions` (find
and repair the notebook), :mod:`~nnlab_instructor.grading.sandbox` (run it in a sandboxed kernel),
:mod:`~nnlab_instructor.grading.decide` (decide each test outside the kernel, over
:mod:`~nnlab_instructor.grading.kernel_link` and :mod:`~nnlab_instructor.grading.wire_format`),
:mod:`~nnlab_instructor.grading.record`
(record in nbgrader's gradebook, write feedback) and :mod:`~nnlab_instructor.grading.table` (the grade table).
See docs/architecture.md.

Nothing is imported here: a student's kernel imports :mod:`~nnlab_instructor.grading.kernel_link` alone, without
nbgrader.
"""
