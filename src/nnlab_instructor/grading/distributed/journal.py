"""The coordinator's journal: every finished outcome, appended as it arrives, fsynced in groups.

``grades/<assignment>.journal.jsonl``, one JSON object a line: the student, what the outcome was computed
from (the submission's SHA-256, the assignment files' digest, the grader's version) and the outcome. A
coordinator killed mid-run loses nothing: ``--resume`` takes every outcome still valid from it.

Each line is written to the operating system as it arrives, so a killed coordinator (even SIGKILL) finds
it. ``fsync``, which a machine that loses power needs, costs 5-30 ms here: one per outcome would cap a
coordinator at a few dozen outcomes a second, so the journal syncs at most every ``sync_interval``
seconds and when it closes. A power cut loses at most that interval's outcomes, which ``--resume``
grades again.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..table import Status
from ..worker import Outcome


@dataclass(frozen=True)
class Basis:
    """What an outcome was computed from: equal bases grade equally."""

    submission: str
    files: str
    grader: str


class Journal:
    """Appends to ``path``; one writer (the coordinator)."""

    def __init__(self, path: Path, *, resume: bool, sync_interval: float = 0.5) -> None:
        self.path = path
        self.sync_interval = sync_interval
        self.syncs = 0
        self._synced_at = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.entries = read_journal(path) if resume else []
        self._file = open(path, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        if resume and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            self._file.write("\n")  # the last line was cut short by a kill: it is ignored, not continued
        self._sync()

    def finished(self, bases: dict[str, Basis]) -> dict[str, Outcome]:
        """The journaled outcomes still valid for ``bases`` (student -> basis); a grader error is not one."""
        done = {}
        for student, basis, outcome in self.entries:
            if bases.get(student) == basis and outcome.status != Status.GRADER_ERROR:
                done[student] = outcome
        return done

    def append(self, basis: Basis, outcome: Outcome) -> None:
        self._file.write(json.dumps({"student": outcome.student_id, **asdict(basis), "outcome": asdict(outcome)}))
        self._file.write("\n")
        self._file.flush()
        if time.monotonic() - self._synced_at >= self.sync_interval:
            self._sync()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self.syncs += 1
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._sync()
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> list[tuple[str, Basis, Outcome]]:
    """Every complete line of the journal, oldest first (a line cut short by a kill is skipped)."""
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            entries.append(
                (
                    record["student"],
                    Basis(record["submission"], record["files"], record["grader"]),
                    Outcome(**record["outcome"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return entries
