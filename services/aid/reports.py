"""Reconciliation, a household's aid (for its clarity card) and the yearly figures, from index rows and
aggregates alone (no I/O here). Every sum is in integer fen; the answer carries yuan strings.

Definitions (docs/decisions.md, "Aid"):
- reconciliation, per budget (a program at a federation): `budget` is what was allocated to it,
  `allocated_to_children` what it passed down, `requested` what waits for approval against it, `reserved`
  what is approved and not yet paid, `paid` what is paid (confirmed or not) and not reversed, `failed` and
  `reversed` what came back, `remaining` = budget − allocated_to_children − reserved − paid. The subtree's
  totals per program add up each budget's own share (budget − allocated_to_children), so money passed
  down is counted once.
- people helped: a disbursement paid (or confirmed) under a program of the year helps its beneficiary, or
  the worker if it names none; a referral made in the year and a training completed in the year help
  their person with employment. Households: the distinct cases among them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from services.aid.domain import (
    COMPLETED,
    CONFIRMED,
    GOODS,
    HELP_KINDS,
    HIRED,
    KINDS,
    PAID,
    AidCase,
    Disbursement,
    Referral,
)
from services.aid.index import figures
from services.aid.money import yuan
from services.aid.views import disbursement_view, referral_view

NAMES = {"amount": "budget", "children": "allocated_to_children", "spent": "paid"}
SUMMED = ("requested", "reserved", "spent", "failed", "reversed", "remaining")  # added up over the subtree


def reconciliation(budgets: list[dict[str, Any]], requested: list[dict[str, Any]]) -> dict[str, Any]:
    waiting: defaultdict[tuple[str, str], int] = defaultdict(int)
    for row in requested:
        waiting[(row["program_id"], row["budget_federation"])] += int(row["amount"])
    lines: list[dict[str, Any]] = []
    totals: dict[str, tuple[dict[str, Any], dict[str, int]]] = {}  # program -> (what it is, its sums)
    for row in sorted(budgets, key=lambda r: (r["program_id"], r["federation"])):
        found = {**figures(row), "requested": waiting[(row["program_id"], row["federation"])]}
        head = {"program_id": row["program_id"], "kind": row["kind"], "year": int(row["year"])}
        lines.append({**head, "federation": row["federation"], **money(found)})
        sums = totals.setdefault(row["program_id"], (head, {"budget": 0, **dict.fromkeys(SUMMED, 0)}))[1]
        sums["budget"] += found["amount"] - found["children"]  # each budget's own share: passed-down money once
        for name in SUMMED:
            sums[name] += found[name]
    return {"budgets": lines, "totals": [{**head, **money(sums)} for head, sums in totals.values()]}


def money(figures: dict[str, int]) -> dict[str, str]:
    """Fen figures as the API's yuan strings, under their public names."""
    return {NAMES.get(name, name): yuan(value) for name, value in figures.items()}


def case_aid(
    case: AidCase, disbursements: list[Disbursement], referrals: list[Referral], enrolments: list[dict[str, Any]],
    trainings: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Everything a household received or was offered (money, goods, referrals, training): its clarity card."""
    received = sum(d.amount for d in disbursements if d.state in (PAID, CONFIRMED))
    return {
        "case_id": case.case_id, "federation": case.federation, "state": case.state,
        "received": yuan(received),
        "money": [disbursement_view(d) for d in disbursements if d.form != GOODS],
        "goods": [disbursement_view(d) for d in disbursements if d.form == GOODS],
        "referrals": [referral_view(r) for r in referrals],
        "trainings": [{"training_id": e["training_id"], "course": trainings[e["training_id"]]["course"],
                       "provider": trainings[e["training_id"]]["provider"], "person": e["person"],
                       "state": e["state"], "enrolled_on": e["enrolled_on"], "completed_on": e["completed_on"]}
                      for e in enrolments],
    }


def aid_stats(
    disbursements: list[dict[str, Any]], referrals: list[dict[str, Any]], enrolments: list[dict[str, Any]], year: int
) -> dict[str, Any]:
    people: dict[str, set[str]] = {kind: set() for kind in HELP_KINDS}
    households: dict[str, set[str]] = {kind: set() for kind in HELP_KINDS}
    by_kind = dict.fromkeys(KINDS, 0)
    for row in disbursements:
        if int(row["year"]) != year or row["state"] not in (PAID, CONFIRMED):
            continue
        help_kind = row["help_kind"]
        people[help_kind].add(f"{row['case_id']}/{row['person'] or 'worker'}")
        households[help_kind].add(row["case_id"])
        by_kind[row["kind"]] += int(row["amount"])

    def in_year(day: str | None) -> bool:
        return day is not None and day[:4] == str(year)

    referred = [r for r in referrals if in_year(r["referred_on"])]
    hires = [r for r in referrals if r["outcome"] == HIRED and in_year(r["outcome_on"])]
    completed = [e for e in enrolments if e["state"] == COMPLETED and in_year(e["completed_on"])]
    for row in [*referred, *completed]:
        people["employment"].add(f"{row['case_id']}/{row['person']}")
        households["employment"].add(row["case_id"])
    finished: dict[str, str] = {}
    for e in enrolments:
        if e["state"] == COMPLETED:
            who = f"{e['case_id']}/{e['person']}"
            finished[who] = min(finished.get(who, e["completed_on"]), e["completed_on"])
    after_training = {f"{r['case_id']}/{r['person']}" for r in hires
                      if f"{r['case_id']}/{r['person']}" in finished
                      and finished[f"{r['case_id']}/{r['person']}"] <= r["outcome_on"]}
    return {
        "helped": [{"kind": kind, "people": len(people[kind]), "households": len(households[kind])}
                   for kind in HELP_KINDS],
        "money_by_kind": [{"kind": kind, "paid": yuan(total)} for kind, total in by_kind.items()],
        "referrals": len(referred),
        "hires": len(hires),
        "trainings_completed": len(completed),
        "hired_after_training": len(after_training),
    }
