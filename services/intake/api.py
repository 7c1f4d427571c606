"""What every intake route shares: the error table, the role groups and how a case is shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.intake.application import CaseNotFound, Cases, ConcurrentChange, DuplicatePerson, RepeatedPerson
from services.intake.domain import Case, IllegalTransition
from services.intake.identity import mask_id_number, mask_phone
from services.intake.schemas import CaseView
from services.web.auth import Principal
from services.web.entrypoint import routes

route = routes(
    {
        IllegalTransition: (409, "illegal_transition"),
        DuplicatePerson: (409, "duplicate_person"),
        ConcurrentChange: (409, "concurrent_change"),
        RepeatedPerson: (400, "bad_request"),
        CaseNotFound: (404, "not_found"),
    }
)
STAFF = ("caseworker",)
DECIDERS = ("caseworker", "approver")
APPROVERS = ("approver",)
READERS = ("caseworker", "approver", "cadre", "auditor", "admin")
SEES_PERSONAL_DATA = ("caseworker", "approver")
CASE_VIEW = CaseView()  # one instance: building a schema per response costs more than the dump


class Routes:
    """Base of the route mixins: the application they work on."""

    cases: Cases

    def changed(self, principal: Principal, case_id: str, command: Callable[[Case], Any]) -> tuple[int, Any]:
        """Run one command on a case in the caller's scope and answer 201 with the case as it now is."""
        case, _ = self.cases.change(case_id, principal.federation, command)
        return 201, case_view(case, principal)


def case_view(case: Case, principal: Principal) -> dict[str, Any]:
    """Render a case; only staff who work the case see ID numbers and the phone in full."""
    worker, household = dict(case.worker), dict(case.household)
    if principal.role not in SEES_PERSONAL_DATA:
        worker["id_number"] = mask_id_number(worker["id_number"])
        worker["phone"] = mask_phone(worker["phone"])
        household["members"] = [
            {**m, "id_number": mask_id_number(m["id_number"])} if m.get("id_number") else m
            for m in household["members"]
        ]
    view = {
        "case_id": str(case.id),
        "federation": case.federation,
        "state": case.state,
        "category": case.category,
        "causes": case.causes,
        "worker": worker,
        "household": household,
        "verification": case.verification,
        "deliberation": case.deliberation,
        "notice": case.notice,
        "objections": [{"objection_id": oid, **o} for oid, o in case.objections.items()],
        "approval": case.approval,
        "closure": case.closure,
        "filed_on": case.filed_on,
        "reviews": case.reviews,
        "exits": case.exits,
        "refilings": case.refilings,
        "returns_to_hardship": len(case.refilings),
        "measures": [{"measure_id": mid, **m} for mid, m in case.measures.items()],
        "amendments": case.amendments,
        "opened_by": case.opened_by,
        "opened_at": case.created_on.isoformat(),
        "updated_at": case.modified_on.isoformat(),
        "version": case.version,
    }
    return CASE_VIEW.dump(view)
