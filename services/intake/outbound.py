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

# Stored event class (Aggregate.Event) -> integration event type (version 1); others stay inside intake.
TYPES = {
    "Case.Opened": "CaseOpened",
    "Case.Verified": "CaseVerified",
    "Case.Deliberated": "CaseDeliberated",
    "Case.NoticePublished": "NoticePublished",
    "Case.ObjectionRaised": "ObjectionRaised",
    "Case.ObjectionResolved": "ObjectionResolved",
    "Case.Approved": "CaseApproved",
    "Case.Filed": "CaseFiled",
    "Case.Rejected": "CaseRejected",
    "Case.Withdrawn": "CaseWithdrawn",
    "Case.Reviewed": "CaseReviewed",
    "Case.Exited": "CaseExited",
    "Case.Refiled": "CaseRefiled",
    "Case.Amended": "CaseAmended",
    "Case.MeasurePlanned": "MeasurePlanned",
    "Case.MeasureDone": "MeasureDone",
}
SKIPPED = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def event_id(originator_id: UUID, version: int) -> str:
    """The same stored event always gets the same id, so a resend is recognisable downstream."""
    return str(uuid5(EVENT_IDS, f"{originator_id}:{version}"))


def case_event(app: IndexedApplication, notification: Notification, now: datetime) -> Envelope | None:
    domain_event: Any = app.mapper.to_domain_event(notification)
    event_type = TYPES.get(type(domain_event).__qualname__)
    if event_type is None:
        return None
    payload = {k: _plain(v) for k, v in domain_event.__dict__.items() if k not in SKIPPED}
    key = app.env.get("PERSON_KEY") or ""
    if event_type == "CaseOpened":
        federation = payload.pop("federation")
        app.remember_federation(domain_event.originator_id, federation)  # type: ignore[attr-defined]
        payload["worker"] = public_worker(payload["worker"], key)
        payload["household"] = public_household(payload["household"], key)
    else:
        federation = app.federation_of(domain_event.originator_id)  # type: ignore[attr-defined]
    if event_type == "CaseAmended":
        payload.pop("before")  # the old values stay in intake; the trail keeps only what is now true
        changes = payload["changes"]
        if "worker" in changes:
            changes["worker"] = public_worker(changes["worker"], key)
        if "household" in changes:
            changes["household"] = public_household(changes["household"], key)
        payload["changed"] = sorted(changes)
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


def public_household(household: dict[str, Any], person_key: str) -> dict[str, Any]:
    """The household as other services may see it: members' ID numbers masked and digested."""
    members = []
    for member in household["members"]:
        shown = {k: v for k, v in member.items() if k != "id_number"}
        if member.get("id_number"):
            shown["id_number_masked"] = mask_id_number(member["id_number"])
            shown["id_digest"] = person_digest(person_key, member["id_number"])
        members.append(shown)
    return {**household, "members": members}


def _plain(value: Any) -> Any:
    """Make stored values JSON-ready: decimals as strings, containers recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
