"""What the aid index holds: rows written in the same transaction as the events that cause them.

Money columns hold integer fen as text (the index has text columns); every sum is done in integers.
"""

from __future__ import annotations

import json
from typing import Any

from services.aid.domain import AidCase, Batch, Budget, Disbursement, Program, Referral, Training
from services.eventstore import Put, Table

CASES = Table("aid_cases", key="case_id",
              columns=("federation", "state", "category", "causes", "people", "periods", "name", "account"),
              indexes=(("state", "federation"), ("federation",)))
PROGRAMS = Table("aid_programs", key="program_id",
                 columns=("name", "kind", "year", "federation", "festival", "version"), indexes=(("year",),))
BUDGETS = Table("aid_budgets", key="budget_id",
                columns=("program_id", "federation", "kind", "year", "amount", "children", "reserved", "spent",
                         "failed", "reversed"),
                indexes=(("program_id",), ("federation",)))
DISBURSEMENTS = Table(
    "aid_disbursements", key="disbursement_id",
    columns=("case_id", "federation", "program_id", "kind", "help_kind", "year", "form", "amount", "state",
             "budget_federation", "batch_id", "requested_by", "person", "requested_on", "paid_on"),
    indexes=(("case_id",), ("batch_id",), ("state", "federation"), ("federation",)),
)
REFERRALS = Table("aid_referrals", key="referral_id",
                  columns=("case_id", "federation", "person", "employer", "position", "outcome", "referred_on",
                           "outcome_on"),
                  indexes=(("case_id",), ("federation",)))
TRAININGS = Table("aid_trainings", key="training_id",
                  columns=("course", "provider", "federation", "starts_on", "ends_on"), indexes=(("federation",),))
ENROLMENTS = Table("aid_enrolments", key="enrolment_id",
                   columns=("training_id", "case_id", "federation", "person", "state", "enrolled_on", "completed_on"),
                   indexes=(("case_id",), ("federation",)))
TABLES = (CASES, PROGRAMS, BUDGETS, DISBURSEMENTS, REFERRALS, TRAININGS, ENROLMENTS)
# The list of batches (migration 2): a batch's standing without loading it, rewritten with each of its steps.
BATCHES = Table("aid_batches", key="batch_id",
                columns=("program_id", "kind", "federation", "reason", "started_at", "made_on", "made_by", "amount",
                         "included", "excluded", "assembled", "approved_on", "approved_by", "complete", "paid",
                         "failed"),
                indexes=(("federation",), ("program_id",)))


def budget_key(program_id: str, federation: str) -> str:
    return f"{program_id}:{federation}"


def case_put(case: AidCase) -> Put:
    return Put(CASES, {
        "case_id": case.case_id, "federation": case.federation, "state": case.state, "category": case.category,
        "causes": ",".join(case.causes), "people": str(1 + len(case.members)),
        "periods": json.dumps([[p["filed_on"], p["exited_on"]] for p in case.periods]),
        "name": case.worker.get("name"), "account": case.worker.get("id_number_masked"),
    })


def program_put(program: Program) -> Put:
    return Put(PROGRAMS, {
        "program_id": str(program.id), "name": program.name, "kind": program.kind, "year": str(program.year),
        "federation": program.federation, "festival": program.festival, "version": str(program.rule_version),
    })


def budget_put(budget: Budget) -> Put:
    return Put(BUDGETS, {
        "budget_id": budget_key(budget.program_id, budget.federation), "program_id": budget.program_id,
        "federation": budget.federation, "kind": budget.kind, "year": str(budget.year),
        "amount": str(budget.amount), "children": str(budget.children), "reserved": str(budget.reserved),
        "spent": str(budget.spent), "failed": str(budget.failed), "reversed": str(budget.reversed),
    })


def disbursement_put(d: Disbursement) -> Put:
    paid = next((s["on"] for s in d.steps if s["state"] == "paid"), None)
    return Put(DISBURSEMENTS, {
        "disbursement_id": str(d.id), "case_id": d.case_id, "federation": d.federation, "program_id": d.program_id,
        "kind": d.kind, "help_kind": d.help_kind, "year": str(d.year), "form": d.form, "amount": str(d.amount),
        "state": d.state, "budget_federation": d.budget_federation, "batch_id": d.batch_id,
        "requested_by": d.requested_by, "person": d.beneficiary, "requested_on": d.requested_on, "paid_on": paid,
    })


def batch_put(b: Batch) -> Put:
    """Counts as text (the index has text columns); flags as "1" or "0"."""
    return Put(BATCHES, {
        "batch_id": str(b.id), "program_id": b.program_id, "kind": b.kind, "federation": b.federation,
        "reason": b.reason, "started_at": b.created_on.isoformat(), "made_on": b.made_on, "made_by": b.by,
        "amount": str(b.amount), "included": str(len(b.disbursements)), "excluded": str(len(b.excluded)),
        "assembled": "1" if b.assembled else "0", "approved_on": (b.approval or {}).get("on"),
        "approved_by": (b.approval or {}).get("by"),
        "complete": "1" if b.approved else "0",
        "paid": str(sum(r["paid"] for r in b.results)), "failed": str(sum(r["failed"] for r in b.results)),
    })


def referral_put(r: Referral) -> Put:
    last = r.outcomes[-1] if r.outcomes else None
    return Put(REFERRALS, {
        "referral_id": str(r.id), "case_id": r.case_id, "federation": r.federation, "person": r.person,
        "employer": r.employer, "position": r.position, "outcome": r.outcome, "referred_on": r.referred_on,
        "outcome_on": last["recorded_on"] if last else None,
    })


def training_put(t: Training) -> Put:
    return Put(TRAININGS, {"training_id": str(t.id), "course": t.course, "provider": t.provider,
                           "federation": t.federation, "starts_on": t.starts_on, "ends_on": t.ends_on})


def enrolment_put(t: Training, case_id: str, person: str) -> Put:
    e = t.enrolment(case_id, person)
    return Put(ENROLMENTS, {
        "enrolment_id": f"{t.id}/{Training.key(case_id, person)}", "training_id": str(t.id), "case_id": case_id,
        "federation": e["federation"], "person": person, "state": e["state"], "enrolled_on": e["enrolled_on"],
        "completed_on": e["completed_on"],
    })


FIGURES = ("amount", "children", "reserved", "spent", "failed", "reversed")


def figures(row: dict[str, Any]) -> dict[str, int]:
    """A budget row's money in fen, and what remains of it (as `Budget.remaining` counts it)."""
    found = {name: int(row[name] or 0) for name in FIGURES}
    found["remaining"] = found["amount"] - found["children"] - found["reserved"] - found["spent"]
    return found
