"""How aid shows its records to a caller: money in yuan strings, every response through its schema."""

from __future__ import annotations

from typing import Any

from services.aid.domain import Batch, Budget, Disbursement, Program, Referral, Training
from services.aid.index import figures
from services.aid.money import yuan
from services.aid.schemas import (
    BatchList,
    BatchView,
    BudgetList,
    BudgetView,
    DisbursementList,
    DisbursementView,
    ProgramList,
    ProgramView,
    ReferralView,
    TrainingView,
)

# One instance each: building a schema per response costs more than the dump.
PROGRAM_VIEW, PROGRAM_LIST, BUDGET_VIEW, BUDGET_LIST = ProgramView(), ProgramList(), BudgetView(), BudgetList()
DISBURSEMENT_VIEW, DISBURSEMENT_LIST, BATCH_VIEW = DisbursementView(), DisbursementList(), BatchView()
REFERRAL_VIEW, TRAINING_VIEW, BATCH_LIST = ReferralView(), TrainingView(), BatchList()


def terms_view(terms: dict[str, Any]) -> dict[str, Any]:
    rule, rules = terms["rule"], terms["eligibility"]
    shown_rule = None if rule is None else {k: (v if k == "share" else yuan(v)) for k, v in rule.items()}
    cap = rules.get("household_cap")
    return {
        "amount": yuan(terms["amount"]) if terms["amount"] is not None else None, "rule": shown_rule,
        "eligibility": {"include_exited": bool(rules.get("include_exited")), "categories": rules.get("categories", []),
                        "causes": rules.get("causes", []), "household_cap": yuan(cap) if cap is not None else None,
                        "min_members": rules.get("min_members"), "max_members": rules.get("max_members")},
    }


def program_view(p: Program) -> dict[str, Any]:
    return PROGRAM_VIEW.dump({
        "program_id": str(p.id), "name": p.name, "kind": p.kind, "year": p.year, "federation": p.federation,
        "festival": p.festival, "help": p.help_kind, "version": p.rule_version, **terms_view(p.terms),
        "versions": [{"version": n, **terms_view(t)} for n, t in enumerate(p.versions, start=1)],
    })


def program_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return PROGRAM_LIST.dump({"programs": [{**r, "year": int(r["year"]), "version": int(r["version"])} for r in rows]})


def budget_figures(row: dict[str, Any]) -> dict[str, Any]:
    """A budget row (or a Budget's figures) as the API shows it."""
    f = figures(row)
    return {
        "program_id": row["program_id"], "federation": row["federation"], "kind": row["kind"], "year": int(row["year"]),
        "budget": yuan(f["amount"]), "allocated_to_children": yuan(f["children"]), "reserved": yuan(f["reserved"]),
        "paid": yuan(f["spent"]), "failed": yuan(f["failed"]), "reversed": yuan(f["reversed"]),
        "remaining": yuan(f["remaining"]),
    }


def budget_view(b: Budget) -> dict[str, Any]:
    return BUDGET_VIEW.dump(budget_figures({
        "program_id": b.program_id, "federation": b.federation, "kind": b.kind, "year": b.year, "amount": b.amount,
        "children": b.children, "reserved": b.reserved, "spent": b.spent, "failed": b.failed, "reversed": b.reversed,
    }))


def budget_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return BUDGET_LIST.dump({"budgets": [budget_figures(r) for r in rows]})


def disbursement_list(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return DISBURSEMENT_LIST.dump({"disbursements": [{**r, "amount": yuan(int(r["amount"]))} for r in rows]})


def batch_list(rows: list[dict[str, Any]], total: int, offset: int) -> dict[str, Any]:
    return BATCH_LIST.dump({"batches": [{
        "batch_id": r["batch_id"], "program_id": r["program_id"], "kind": r["kind"], "federation": r["federation"],
        "reason": r["reason"], "amount": yuan(int(r["amount"])), "created_by": r["made_by"],
        "created_on": r["made_on"], "included": int(r["included"]), "excluded": int(r["excluded"]),
        "total": yuan(int(r["amount"]) * int(r["included"])), "assembled": r["assembled"] == "1",
        "approved_on": r["approved_on"], "approved_by": r["approved_by"], "complete": r["complete"] == "1",
        "paid": int(r["paid"]), "failed": int(r["failed"]),
    } for r in rows], "total": total, "offset": offset})


def batch_view(b: Batch) -> dict[str, Any]:
    return BATCH_VIEW.dump({
        "batch_id": str(b.id), "program_id": b.program_id, "federation": b.federation, "reason": b.reason,
        "idempotency_key": b.idempotency_key, "rule_version": b.rule_version, "amount": yuan(b.amount),
        "created_by": b.by, "created_on": b.made_on, "included": len(b.disbursements),
        "total": yuan(b.amount * len(b.disbursements)), "excluded": b.excluded, "disbursements": b.disbursements,
        "assembled": b.assembled,
        "approval": None if b.approval is None else {
            "by": b.approval["by"], "on": b.approval["on"], "approved": b.approval["approved"],
            "total": yuan(b.approval["total"]), "complete": b.approved,
            "applied": b.approval["applied"], "released": b.approval["released"]},
        "results": b.results,
    })


def training_view(t: Training) -> dict[str, Any]:
    return TRAINING_VIEW.dump({
        "training_id": str(t.id), "course": t.course, "provider": t.provider, "federation": t.federation,
        "starts_on": t.starts_on, "ends_on": t.ends_on, "enrolments": list(t.enrolments.values()),
    })


def disbursement_view(d: Disbursement) -> dict[str, Any]:
    return DISBURSEMENT_VIEW.dump({
        "disbursement_id": str(d.id), "case_id": d.case_id, "federation": d.federation, "program_id": d.program_id,
        "kind": d.kind, "form": d.form, "amount": yuan(d.amount), "state": d.state, "reason": d.reason,
        # A batch's requests are keyed by the batch's key and the case, joined by a character no client
        # key may hold; shown with a slash.
        "beneficiary": d.beneficiary, "idempotency_key": d.idempotency_key.replace("\x1f", "/"),
        "batch_id": d.batch_id,
        "budget_federation": d.budget_federation, "requested_by": d.requested_by, "requested_on": d.requested_on,
        "delivered_on": d.delivered_on, "bank_reference": d.bank_reference,
        "items": [{**item, "value": yuan(item["value"])} for item in d.items] if d.items is not None else None,
        "decision": {"rule_version": d.decision["rule_version"], "passed": d.decision["passed"],
                     "checks": d.decision["checks"]},
        "steps": d.steps,
    })


def referral_view(r: Referral) -> dict[str, Any]:
    return REFERRAL_VIEW.dump({
        "referral_id": str(r.id), "case_id": r.case_id, "federation": r.federation, "person": r.person,
        "employer": r.employer, "position": r.position,
        "monthly_wage_offered": yuan(r.wage_offered) if r.wage_offered is not None else None,
        "referred_on": r.referred_on, "outcome": r.outcome, "by": r.by,
        "outcomes": [{**o, "monthly_wage": yuan(o["monthly_wage"]) if o["monthly_wage"] is not None else None}
                     for o in r.outcomes],
    })
