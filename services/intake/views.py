"""How intake shows a case and an import to a caller: ID numbers and phones masked, for every role.

Staff who work the case (caseworkers, approvers) see them in full only through a disclosure, which records
who saw them and why before showing them (POST /cases/{id}/disclosure; the read goes to the audit trail).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.intake.domain import Case
from services.intake.identity import mask_id_number, mask_phone
from services.intake.import_runner import Progress
from services.intake.imports import ImportJob
from services.intake.schemas import CaseSummary, CaseView, Disclosure, ImportView
from services.web.auth import Principal

SEES_PERSONAL_DATA = ("caseworker", "approver")  # may ask for a disclosure
# One instance each: building a schema per response costs more than the dump.
CASE_VIEW = CaseView()
DISCLOSURE = Disclosure()
SUMMARIES = CaseSummary(many=True)
IMPORT_VIEW = ImportView()


def case_view(case: Case, principal: Principal, digest: Callable[[str], str]) -> dict[str, Any]:
    """Render a case with its ID numbers and phone masked; each member with an ID number has its `id_digest`,
    the keyed digest other services know the person by (aid's referrals and trainings name them so)."""
    worker, household = dict(case.worker), dict(case.household)
    worker["id_number"] = mask_id_number(worker["id_number"])
    worker["phone"] = mask_phone(worker["phone"])
    household["members"] = [
        {**m, "id_number": mask_id_number(m["id_number"]), "id_digest": digest(m["id_number"])}
        if m.get("id_number") else m
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


def disclosure_view(case: Case) -> dict[str, Any]:
    """The personal data of a case in full: only after the read is recorded (Cases.disclose)."""
    worker = case.worker
    return DISCLOSURE.dump({
        "case_id": str(case.id),
        "worker": {"name": worker["name"], "id_number": worker["id_number"], "phone": worker["phone"]},
        "members": [{"name": m["name"], "relation": m["relation"], "id_number": m.get("id_number")}
                    for m in case.household["members"]],
    })


def case_list(rows: list[dict[str, Any]], total: int | None = None, offset: int = 0) -> dict[str, Any]:
    """Index rows as a list of summaries: names and ID numbers masked, nothing else personal."""
    return {"cases": SUMMARIES.dump(rows), "total": len(rows) if total is None else total, "offset": offset}


def import_view(job: ImportJob, progress: Progress | None) -> dict[str, Any]:
    """An import as it stands: running (with its progress), done (with its outcome) or interrupted."""
    if progress is not None:
        rows_total, rows, filed = progress.rows_total, progress.rows_done, progress.filed
        failures, state = progress.failures, "running"
    elif job.outcome is not None:
        rows_total = rows = job.outcome["rows"]
        filed, failures, state = job.outcome["filed"], job.outcome["failures"], "done"
    else:
        rows_total, rows, filed, failures, state = None, 0, 0, [], "interrupted"
    return IMPORT_VIEW.dump({
        "import_id": str(job.id), "state": state, "filename": job.filename, "rows_total": rows_total,
        "rows_done": rows, "filed": filed, "failed_rows": len({f["row"] for f in failures}),
        "failures": list(failures),
    })
