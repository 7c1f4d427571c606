"""A small event-sourced application for tests of the consumer runtime: it records each consumed event in
its case's history aggregate, as the audit service did before its trail became a Merkle log."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking

from services.contracts import Envelope
from services.eventstore import IndexedApplication

HISTORIES = uuid5(NAMESPACE_URL, "urn:relief:test:case-history")


class CaseHistory(Aggregate):
    """Every event about one case, in the order it was consumed."""

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
        if envelope["event_id"] in self.event_ids:
            return False
        self._appended(envelope)
        return True

    @event("Appended")
    def _appended(self, envelope: dict[str, Any]) -> None:
        self.entries.append(envelope)
        self.event_ids.add(envelope["event_id"])


class HistoryNotFound(Exception):
    """No history for this case."""


class Recorder(IndexedApplication):
    name = "Recorder"

    def record_event(self, envelope: Envelope, tracking: Tracking | None = None) -> bool:
        """Append the event to its case's history; False if it is a resend already there."""
        history = self._history(envelope.case_id)
        if history is None:
            history = CaseHistory(envelope.case_id, envelope.federation)
        added = history.append(envelope.to_dict())
        self.record(history, tracking=tracking)
        return added

    def history(self, case_id: str) -> CaseHistory:
        history = self._history(case_id)
        if history is None:
            raise HistoryNotFound(case_id)
        return history

    def _history(self, case_id: str) -> CaseHistory | None:
        try:
            history: CaseHistory = self.load(CaseHistory.create_id(case_id))
        except AggregateNotFoundError:
            return None
        return history
