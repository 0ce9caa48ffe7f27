"""nbgrader preprocessors used by `nnlab grade` (configured in nbgrader_config.py when it runs nbgrader)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

STAGED_VARIABLE = "NNLAB_STAGED_SUBMISSIONS"


class UseGradedNotebook(NbGraderPreprocessor):
    """Stands in for nbgrader's Execute: hands on the notebook `nnlab grade` already executed.

    nnlab executed the student's cells in a sandboxed kernel and decided every test cell in a trusted
    process (:mod:`nnlab.trusted`); nbgrader then records the points (SaveAutoGrades), late penalties
    and the autograded copy exactly as it would after its own execution.
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        staged = Path(os.environ[STAGED_VARIABLE]) / info["student"] / info["assignment"] / f"{info['notebook']}.ipynb"
        return nbformat.read(staged, as_version=4), resources
