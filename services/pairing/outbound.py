"""Build pairing's integration events from its stored events, field by field, with the cadre's phone masked.

Each published type has one builder that names every payload field it takes from the domain event, so
renaming an attribute inside pairing can never change a public contract (and internal state such as a
pairing's claimed `slot` or a unit's `function` recorded on a cadre never leaves the service).

Published (version 1, services/contracts/pairing_events.py):

- `Pairing.Assigned`, `Pairing.Reassigned`, `Pairing.Ended`, `Pairing.CoverageGap`, `Pairing.VisitRecorded`:
  keyed by the case id the domain event records (not the pairing aggregate's own id, a uuid5 of it).
- `Unit.Registered`, `Cadre.Registered` (the phone only as `phone_masked`), `Cadre.Retired`: roster events
  about no case, keyed by the unit's or cadre's own id, which the envelope carries in `case_id`
  (decisions.md, "Pairing").

Internal (`pairing_event` returns None): `Pairing.Tracked`, `Pairing.Filed`, `Pairing.Exited`,
`Pairing.Closed`, `Pairing.Amended` (pairing's own view of intake's case: intake publishes those facts),
`Capacity.Started` and `Capacity.Set` (a setting of the service). Any other stored type raises, so the
relay stops at it (`relief_outbox_stalled`) until someone decides here whether it is published.

The envelope's federation and case id come from the domain event alone: every stored pairing event
records its federation, and every `Pairing` event its case id. A stored event without them stops the
relay (never published with a guess).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification

from services.contracts import Envelope
from services.contracts.envelope import Publication
from services.eventstore import IndexedApplication
from services.intake.identity import mask_phone

SERVICE = "pairing"

Payload = dict[str, Any]
Builder = Callable[[Any], Payload]  # domain event -> payload

# The fields of a matching (or override) rule that the contract names; anything else stays inside.
RULE_FIELDS = ("summary", "cause", "function", "unit_id", "cadre_federation", "distance", "load_before", "capacity",
               "trigger", "override", "reason", "by")


def public_rule(rule: dict[str, Any]) -> Payload:
    """Why this unit and why this cadre: only the named fields the rule has (all but `summary` are optional)."""
    return {name: rule[name] for name in RULE_FIELDS if name in rule}


def assigned(e: Any) -> Payload:
    return {"unit_id": e.unit_id, "cadre_id": e.cadre_id, "contact": e.contact, "rule": public_rule(e.rule),
            "assigned_on": e.assigned_on, "by": e.by}


def reassigned(e: Any) -> Payload:
    return {"from_cadre_id": e.from_cadre_id, "to_cadre_id": e.to_cadre_id, "unit_id": e.unit_id,
            "contact": e.contact, "rule": public_rule(e.rule), "reason": e.reason,
            "reassigned_on": e.reassigned_on, "by": e.by}


def ended(e: Any) -> Payload:
    return {"cadre_id": e.cadre_id, "reason": e.reason, "ended_on": e.ended_on}


def coverage_gap(e: Any) -> Payload:
    return {"reason": e.reason, "since": e.since, "from_cadre_id": e.from_cadre_id}


def visit_recorded(e: Any) -> Payload:
    return {"visit_id": e.visit_id, "visited_on": e.visited_on, "kind": e.kind, "findings": e.findings,
            "problems_solved": e.problems_solved, "measures": e.measures, "next_steps": e.next_steps,
            "visitor": e.visitor, "cadre_id": e.cadre_id}


def unit_registered(e: Any) -> Payload:
    return {"unit_id": str(e.originator_id), "name": e.name, "function": e.function, "by": e.by}


def cadre_registered(e: Any) -> Payload:
    """Who a cadre is, as audit shows it: the phone masked (139****5678), never in the clear."""
    return {"cadre_id": str(e.originator_id), "name": e.name, "unit_id": e.unit_id, "rank": e.rank,
            "phone_masked": mask_phone(e.phone), "user": e.user, "by": e.by}


def cadre_retired(e: Any) -> Payload:
    return {"cadre_id": str(e.originator_id), "retired_on": e.retired_on, "reason": e.reason, "by": e.by}


def case_key(e: Any) -> str:
    """A household's events: the case id the domain event records."""
    return str(e.case_id)


def own_key(e: Any) -> str:
    """A roster event: the unit's or cadre's own id (decisions.md, "Pairing")."""
    return str(e.originator_id)


# Stored event class -> (integration event type, version 1, its builder, its key); other events stay inside.
BUILDERS: dict[str, tuple[str, Builder, Callable[[Any], str]]] = {
    "Pairing.Assigned": ("PairingAssigned", assigned, case_key),
    "Pairing.Reassigned": ("PairingReassigned", reassigned, case_key),
    "Pairing.Ended": ("PairingEnded", ended, case_key),
    "Pairing.CoverageGap": ("CoverageGap", coverage_gap, case_key),
    "Pairing.VisitRecorded": ("VisitRecorded", visit_recorded, case_key),
    "Unit.Registered": ("UnitRegistered", unit_registered, own_key),
    "Cadre.Registered": ("CadreRegistered", cadre_registered, own_key),
    "Cadre.Retired": ("CadreRetired", cadre_retired, own_key),
}
INTERNAL = ("Pairing.Tracked", "Pairing.Filed", "Pairing.Exited", "Pairing.Closed", "Pairing.Amended",
            "Capacity.Started", "Capacity.Set")
PUBLICATION = Publication(SERVICE, BUILDERS, INTERNAL)
TYPES = PUBLICATION.types


def pairing_event(app: IndexedApplication, notification: Notification, now: datetime) -> Envelope | None:
    """The integration event of one stored event, or None if the event stays inside pairing."""
    return PUBLICATION.of_stored(app.mapper, notification, now)
