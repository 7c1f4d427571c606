"""The audit HTTP service (nameko): consume every topic, serve case histories."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from services.audit.application import HistoryNotFound, Trail, history_view
from services.audit.schemas import CaseHistoryView
from services.contracts.topics import TOPICS
from services.runtime.batch import Batch
from services.runtime.consumer import consume
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.auth import Principal
from services.web.entrypoint import routes
from services.web.operations import Operations

route = routes({HistoryNotFound: (404, "not_found")})
HISTORY_READERS = ("auditor", "caseworker", "approver", "admin")


class AuditService(Operations):
    name = "audit"
    title = "Audit: every event of every case (审计)"

    trail: Trail = EventStore(Trail)
    waker = HubWaker()

    @consume(topics=sorted(TOPICS.values()))
    def on_events(self, batch: Batch) -> None:
        for delivery in batch:
            if not self.trail.record_event(delivery.envelope):
                batch.already_had(delivery)

    @route("GET", "/cases/<case_id>/history", roles=HISTORY_READERS, response=CaseHistoryView,
           summary="A case's full history across all services, in order")
    def case_history(self, request: Request, principal: Principal, case_id: str) -> tuple[int, Any]:
        history = self.trail.history(case_id)
        if not principal.covers(history.federation):
            raise HistoryNotFound(case_id)
        return 200, history_view(history)
