"""The audit application (Trail): record consumed events and replay a case's history."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking

from services.audit.domain import CaseHistory
from services.contracts import Envelope
from services.eventstore import IndexedApplication


class HistoryNotFound(Exception):
    """No history for this case is visible to the caller."""


class Trail(IndexedApplication):
    """Every domain event of every service, per case, with each consumed position."""

    name = "Audit"

    def record_event(self, envelope: Envelope, tracking: Tracking | None = None) -> bool:
        """Append the event to its case's history; False if it is a resend already there.

        Called from a consumer's batch, the save joins the batch's unit of work and its position.
        """
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


def history_view(history: CaseHistory) -> dict[str, Any]:
    return {
        "case_id": history.case_id,
        "federation": history.federation,
        "events": [
            {
                "seq": seq,
                "event_id": entry["event_id"],
                "type": entry["type"],
                "version": entry["version"],
                "service": entry["service"],
                "federation": entry["federation"],
                "occurred_at": entry["occurred_at"],
                "recorded_at": entry["recorded_at"],
                "payload": entry["payload"],
            }
            for seq, entry in enumerate(history.entries, start=1)
        ],
    }
