"""Turn intake's stored events into its integration events, with personal data masked."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.persistence import Notification

from services.contracts import Envelope
from services.eventstore import IndexedApplication
from services.intake.identity import mask_id_number, mask_phone, person_digest

EVENT_IDS = uuid5(NAMESPACE_URL, "urn:relief:event")

# Stored event class name -> integration event type (version 1).
TYPES = {
    "Opened": "CaseOpened",
    "Verified": "CaseVerified",
    "Deliberated": "CaseDeliberated",
    "NoticePublished": "NoticePublished",
    "ObjectionRaised": "ObjectionRaised",
    "ObjectionResolved": "ObjectionResolved",
    "Approved": "CaseApproved",
    "Filed": "CaseFiled",
    "Rejected": "CaseRejected",
    "Withdrawn": "CaseWithdrawn",
}
SKIPPED = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def event_id(originator_id: UUID, version: int) -> str:
    """The same stored event always gets the same id, so a resend is recognisable downstream."""
    return str(uuid5(EVENT_IDS, f"{originator_id}:{version}"))


def case_event(app: IndexedApplication, notification: Notification, now: datetime) -> Envelope | None:
    domain_event: Any = app.mapper.to_domain_event(notification)
    event_type = TYPES.get(type(domain_event).__name__)
    if event_type is None:
        return None
    payload = {k: _plain(v) for k, v in domain_event.__dict__.items() if k not in SKIPPED}
    if event_type == "CaseOpened":
        federation = payload.pop("federation")
        payload["worker"] = public_worker(payload["worker"], app.env.get("PERSON_KEY") or "")
    else:
        federation = app.federation_of(domain_event.originator_id)  # type: ignore[attr-defined]
    return Envelope(
        event_id=event_id(domain_event.originator_id, domain_event.originator_version),
        type=event_type,
        version=1,
        occurred_at=domain_event.timestamp,
        recorded_at=now,
        federation=federation,
        case_id=str(domain_event.originator_id),
        service="intake",
        payload=payload,
    )


def public_worker(worker: dict[str, Any], person_key: str) -> dict[str, Any]:
    """The worker as other services may see them: no ID number or phone in the clear."""
    return {
        "name": worker["name"],
        "id_number_masked": mask_id_number(worker["id_number"]),
        "id_digest": person_digest(person_key, worker["id_number"]),
        "phone_masked": mask_phone(worker["phone"]),
        "employer": worker["employer"],
        "migrant": worker["migrant"],
    }


def _plain(value: Any) -> Any:
    """Make stored values JSON-ready: decimals as strings, containers recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
