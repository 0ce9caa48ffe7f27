"""nbgrader preprocessors used by `nnlab grade` (passed as configuration when it calls nbgrader's API)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode


class UseGradedNotebook(NbGraderPreprocessor):
    """Stands in for nbgrader's Execute: hands on the notebook `nnlab grade` already executed.

    nnlab executed the student's cells in a sandboxed kernel and decided every test cell in a trusted
    process (:mod:`nnlab.trusted`); nbgrader then records the points (SaveAutoGrades), late penalties
    and the autograded copy exactly as it would after its own execution.
    """

    staged_directory = Unicode(
        "", help="Folder of the executed notebooks, laid out as <student>/<assignment>/<notebook>.ipynb"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        if not self.staged_directory:
            raise ValueError("UseGradedNotebook needs staged_directory: it only runs inside `nnlab grade`")
        info = resources["nbgrader"]
        staged = Path(self.staged_directory) / info["student"] / info["assignment"] / f"{info['notebook']}.ipynb"
        return nbformat.read(staged, as_version=4), resources


def recording_config(staged: Path) -> dict:
    """nbgrader configuration that records already executed notebooks from ``staged`` instead of running them."""
    return {
        "CourseDirectory": {"submitted_directory": str(staged)},
        "UseGradedNotebook": {"staged_directory": str(staged)},
        "Autograde": {
            "autograde_preprocessors": [
                "nnlab.nbgrader_plugins.UseGradedNotebook",
                "nbconvert.preprocessors.ClearMetadataPreprocessor",
                "nbgrader.preprocessors.LimitOutput",
                "nbgrader.preprocessors.SaveAutoGrades",
                "nbgrader.preprocessors.AssignLatePenalties",
                "nbgrader.preprocessors.CheckCellMetadata",
            ]
        },
    }
