"""Grading on top of nbgrader, one module per step of the path a submission takes.

:mod:`~nnlab.grading.pipeline` runs a class through the steps: :mod:`~nnlab.grading.submissions` (find
and repair the notebook), :mod:`~nnlab.grading.sandbox` (run it in a sandboxed kernel),
:mod:`~nnlab.grading.decide` (decide each test outside the kernel, over
:mod:`~nnlab.grading.kernel_link` and :mod:`~nnlab.grading.wire_format`), :mod:`~nnlab.grading.record`
(record in nbgrader's gradebook, write feedback) and :mod:`~nnlab.grading.table` (the grade table).
See docs/architecture.md.

Nothing is imported here: a student's kernel imports :mod:`~nnlab.grading.kernel_link` alone, without
nbgrader.
"""
