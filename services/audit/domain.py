"""A case's history as the audit service received it; entries are only ever appended."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

HISTORIES = uuid5(NAMESPACE_URL, "urn:relief:audit:case-history")


class CaseHistory(Aggregate):
    """Every event about one case, from any service (一户一档的全部记录)."""

    @staticmethod
    def create_id(case_id: str) -> UUID:
        return uuid5(HISTORIES, case_id)

    @event("Started")
    def __init__(self, case_id: str, federation: str) -> None:
        self.case_id = case_id
        self.federation = federation
        self.entries: list[dict[str, Any]] = []
        self.event_ids: set[str] = set()

    def append(self, envelope: dict[str, Any]) -> bool:
        """Add an event unless it is already here; say whether it was added."""
        if envelope["event_id"] in self.event_ids:
            return False
        self._appended(envelope)
        return True

    @event("Appended")
    def _appended(self, envelope: dict[str, Any]) -> None:
        self.entries.append(envelope)
        self.event_ids.add(envelope["event_id"])
        self.federation = envelope["federation"]
