"""How pairing shows the roster, a pairing and visits to a caller: a cadre's phone in full only to admin."""

from __future__ import annotations

from typing import Any

from services.intake.identity import mask_phone
from services.pairing.domain import ENDED, Cadre, Capacity, Pairing, Unit
from services.pairing.schemas import CadreView, CapacityView, PairingView, UnitList, UnitView, VisitList
from services.web.auth import Principal

SEES_PHONES = ("admin",)
# One instance each: building a schema per response costs more than the dump.
UNIT_VIEW, CADRE_VIEW, CAPACITY_VIEW = UnitView(), CadreView(), CapacityView()
PAIRING_VIEW, VISIT_LIST, UNIT_LIST = PairingView(), VisitList(), UnitList()


def unit_view(unit: Unit) -> dict[str, Any]:
    return UNIT_VIEW.dump({"unit_id": str(unit.id), "name": unit.name, "function": unit.function,
                           "federation": unit.federation})


def unit_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return UNIT_LIST.dump({"units": rows})


def cadre_view(cadre: Cadre, principal: Principal, load: int, capacity: int) -> dict[str, Any]:
    """Render a cadre with their load; the phone masked (138****5678) for everyone but admin."""
    return CADRE_VIEW.dump({
        "cadre_id": str(cadre.id), "name": cadre.name, "unit_id": cadre.unit_id, "function": cadre.function,
        "rank": cadre.rank, "federation": cadre.federation, "user": cadre.user, "active": cadre.active,
        "phone": cadre.phone if principal.role in SEES_PHONES else mask_phone(cadre.phone),
        "load": load, "capacity": capacity, "retirement": cadre.retirement,
    })


def capacity_view(capacity: Capacity) -> dict[str, Any]:
    return CAPACITY_VIEW.dump({"federation": capacity.federation, "leader": capacity.leader,
                               "staff": capacity.staff})


def pairing_view(pairing: Pairing) -> dict[str, Any]:
    """Who helps the household now (`state`: active, uncovered or ended), and every change before."""
    return PAIRING_VIEW.dump({
        "case_id": pairing.case_id, "federation": pairing.federation, "unit_id": pairing.unit_id,
        "cadre_id": pairing.cadre_id, "contact": pairing.contact, "assigned_on": pairing.assigned_on,
        "state": pairing.status, "case_state": pairing.state, "reason": reason_of(pairing), "history": pairing.history,
    })


def reason_of(pairing: Pairing) -> str | None:
    """Why the household is uncovered, or why its pairing ended (the exit reason)."""
    if pairing.status == ENDED and pairing.history:
        return str(pairing.history[-1].get("reason"))
    return pairing.gap


def visit_list(pairing: Pairing) -> dict[str, Any]:
    return VISIT_LIST.dump({"case_id": pairing.case_id, "visits": pairing.visits})
