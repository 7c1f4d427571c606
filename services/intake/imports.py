"""A bulk import of existing case files (a migration from a previous system); no I/O here."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

IMPORTS = uuid5(NAMESPACE_URL, "urn:relief:intake:import")


class ImportJob(Aggregate):
    """One file imported by one user into one federation subtree, and what became of each row."""

    @staticmethod
    def create_id(digest: str, scope: str) -> UUID:
        """The same file imported into the same subtree is the same job: nothing is filed twice."""
        return uuid5(IMPORTS, f"{scope}:{digest}")

    @event("Started")
    def __init__(self, digest: str, scope: str, filename: str, by: str) -> None:
        self.digest, self.scope, self.filename, self.by = digest, scope, filename, by
        self.state = "running"
        self.attempts = 1
        self.outcome: dict[str, Any] | None = None

    def restart(self, by: str) -> None:
        """Run an interrupted import again; rows it had filed are then reported as duplicates."""
        self._restarted(by)

    @event("Restarted")
    def _restarted(self, by: str) -> None:
        self.attempts += 1
        self.state = "running"
        self.by = by

    def finish(self, rows: int, filed: int, failures: list[dict[str, Any]]) -> None:
        self._finished(rows, filed, failures)

    @event("Finished")
    def _finished(self, rows: int, filed: int, failures: list[dict[str, Any]]) -> None:
        self.state = "done"
        self.outcome = {"rows": rows, "filed": filed, "failures": failures}


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
