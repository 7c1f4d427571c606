"""Build intake's integration events from its stored events, field by field, with personal data masked.

Each published type has one builder that names every payload field it takes from the domain event, so
renaming an attribute inside intake can never change a public contract. The envelope's federation comes
from the domain event; events stored before they carried it take it from the case's index row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from services.contracts import Envelope
from services.contracts.envelope import from_stored
from services.eventstore import IndexedApplication
from services.intake.case_index import CASES
from services.intake.identity import mask_id_number, mask_phone, person_digest

Payload = dict[str, Any]
Builder = Callable[[Any, str], Payload]  # (domain event, person key) -> payload


def opened(e: Any, key: str) -> Payload:
    return {
        "worker": public_worker(e.worker, key),
        "household": public_household(e.household, key),
        "category": e.category,
        "causes": list(e.causes),
        "opened_by": e.opened_by,
        "imported": getattr(e, "imported", None),  # absent from events stored before imports existed
    }


def verified(e: Any, key: str) -> Payload:
    return {"visitors": list(e.visitors), "visited_on": e.visited_on, "per_capita_income": str(e.per_capita_income),
            "findings": e.findings, "by": e.by}


def deliberated(e: Any, key: str) -> Payload:
    return {"decided_on": e.decided_on, "outcome": e.outcome, "notes": e.notes, "by": e.by}


def notice_published(e: Any, key: str) -> Payload:
    return {"starts_on": e.starts_on, "days": e.days, "ends_on": e.ends_on, "by": e.by}


def objection_raised(e: Any, key: str) -> Payload:
    return {"objection_id": e.objection_id, "raised_on": e.raised_on, "reason": e.reason, "by": e.by}


def objection_resolved(e: Any, key: str) -> Payload:
    return {"objection_id": e.objection_id, "upheld": e.upheld, "notes": e.notes, "by": e.by}


def approved(e: Any, key: str) -> Payload:
    return {"approved_on": e.approved_on, "approver": e.approver}


def filed(e: Any, key: str) -> Payload:
    return {"filed_on": e.filed_on}


def closed(e: Any, key: str) -> Payload:
    """A rejection or a withdrawal: who ended the application and why."""
    return {"reason": e.reason, "by": e.by}


def reviewed(e: Any, key: str) -> Payload:
    return {"reviewed_on": e.reviewed_on, "findings": e.findings, "still_qualifies": e.still_qualifies, "by": e.by}


def exited(e: Any, key: str) -> Payload:
    return {"reason": e.reason, "exited_on": e.exited_on, "notes": e.notes, "by": e.by}


def refiled(e: Any, key: str) -> Payload:
    return {"refiled_on": e.refiled_on, "reason": e.reason, "by": e.by}


def amended(e: Any, key: str) -> Payload:
    """The new values only: the old ones stay in intake, the trail keeps what is now true."""
    sections: dict[str, Callable[[Any], Any]] = {
        "worker": lambda worker: public_worker(worker, key),
        "household": lambda household: public_household(household, key),
        "category": str,
        "causes": list,
    }
    changes = {name: sections[name](value) for name, value in e.changes.items()}
    return {"changed": sorted(changes), "changes": changes, "reason": e.reason, "by": e.by}


def measure_planned(e: Any, key: str) -> Payload:
    return {"measure_id": e.measure_id, "kind": e.kind, "description": e.description, "planned_on": e.planned_on,
            "due_on": e.due_on, "by": e.by}


def measure_done(e: Any, key: str) -> Payload:
    return {"measure_id": e.measure_id, "done_on": e.done_on, "result": e.result, "by": e.by}


def personal_data_viewed(e: Any, key: str) -> Payload:
    """Who saw the ID numbers and phone in full, and why; when is the envelope's occurred_at."""
    return {"reason": e.reason, "by": e.by}


# Stored event class -> (integration event type, version 1, its builder); other events stay inside intake.
BUILDERS: dict[str, tuple[str, Builder]] = {
    "Case.Opened": ("CaseOpened", opened),
    "Case.Verified": ("CaseVerified", verified),
    "Case.Deliberated": ("CaseDeliberated", deliberated),
    "Case.NoticePublished": ("NoticePublished", notice_published),
    "Case.ObjectionRaised": ("ObjectionRaised", objection_raised),
    "Case.ObjectionResolved": ("ObjectionResolved", objection_resolved),
    "Case.Approved": ("CaseApproved", approved),
    "Case.Filed": ("CaseFiled", filed),
    "Case.Rejected": ("CaseRejected", closed),
    "Case.Withdrawn": ("CaseWithdrawn", closed),
    "Case.Reviewed": ("CaseReviewed", reviewed),
    "Case.Exited": ("CaseExited", exited),
    "Case.Refiled": ("CaseRefiled", refiled),
    "Case.Amended": ("CaseAmended", amended),
    "Case.MeasurePlanned": ("MeasurePlanned", measure_planned),
    "Case.MeasureDone": ("MeasureDone", measure_done),
    "Case.PersonalDataViewed": ("PersonalDataViewed", personal_data_viewed),
}
TYPES = {stored: published for stored, (published, _) in BUILDERS.items()}


def case_event(app: IndexedApplication, notification: Notification, now: datetime) -> Envelope | None:
    """The integration event of one stored event, or None if the event stays inside intake."""
    domain_event: Any = app.mapper.to_domain_event(notification)
    found = BUILDERS.get(type(domain_event).__qualname__)
    if found is None:
        return None
    event_type, build = found
    return from_stored(
        domain_event,
        type=event_type,
        service="intake",
        federation=getattr(domain_event, "federation", None) or stored_federation(app, domain_event.originator_id),
        case_id=str(domain_event.originator_id),
        payload=build(domain_event, app.env.get("PERSON_KEY") or ""),
        recorded_at=now,
    )


def stored_federation(app: IndexedApplication, case_id: UUID) -> str:
    """The federation of a case from its index row, for events stored before they carried it."""
    rows = app.select_rows(CASES, equal={"case_id": str(case_id)}, limit=1)
    if not rows:
        raise LookupError(f"case {case_id} has an event without a federation and no index row")
    return str(rows[0]["federation"])


def public_worker(worker: dict[str, Any], person_key: str) -> Payload:
    """The worker as other services may see them: no ID number or phone in the clear."""
    return {
        "name": worker["name"],
        "id_number_masked": mask_id_number(worker["id_number"]),
        "id_digest": person_digest(person_key, worker["id_number"]),
        "phone_masked": mask_phone(worker["phone"]),
        "employer": worker["employer"],
        "migrant": worker["migrant"],
    }


def public_household(household: dict[str, Any], person_key: str) -> Payload:
    """The household as other services may see it: members' ID numbers masked and digested, money as text."""
    return {
        "members": [public_member(m, person_key) for m in household["members"]],
        "monthly_income": str(household["monthly_income"]),
        "subsistence_line": str(household["subsistence_line"]),
        "per_capita_income": str(household["per_capita_income"]),
    }


def public_member(member: dict[str, Any], person_key: str) -> Payload:
    shown = {k: member[k] for k in ("name", "relation", "age", "health", "schooling")}
    if "employment" in member:
        shown["employment"] = member["employment"]
    if member.get("id_number"):
        shown["id_number_masked"] = mask_id_number(member["id_number"])
        shown["id_digest"] = person_digest(person_key, member["id_number"])
    return shown
