"""Anomaly checks (跑冒滴漏) computed from the trail alone, so that they also catch a bug in a service.

Each finding names the check, the case (or the budget), what is wrong, the day it happened and the trail
indexes that prove it. The checks:

- `paid_not_filed`: a payment on a day the case was not filed (business dates: filed_on … exited_on);
- `over_household_cap`: a household paid more by one program than the program's per-household cap;
- `duplicate_festival`: one household paid twice for one festival program;
- `duplicate_student`: one student paid twice by one education program (one academic year);
- `approved_by_requester`, `approved_by_verifier`: separation of duties broken;
- `paid_without_approval`: a payment with no approval before it;
- `budget_overrun`: a federation's budget of a program reserved and passed down beyond what it was given;
- `visit_overdue`: a household behind on its due visit (季季访, 回访) on the last day asked;
- `exit_without_reason`: an exit whose reason is missing, or "other" with no notes.

Money that reached the household and was not taken back (paid or confirmed, not failed or reversed) counts
for caps and duplicates; a payment while not filed is a finding even if it was reversed later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from services.audit.fold import CaseFold, day, money, recorded_on, step_on

RELEASES = ("failed", "reversed", "cancelled")


@dataclass
class Budgets:
    """Every move of every budget of every program: allocations (BudgetAllocated) and reservations (approvals,
    less what was released), replayed in log order by `overruns`."""

    moves: list[tuple[int, str, tuple[str, str], Decimal, date | None]] = field(default_factory=list)

    def allocated(self, entry: Mapping[str, Any]) -> None:
        p = entry["payload"]
        self.moves.append((int(entry["index"]), "allocated", (str(p["program_id"]), str(entry["federation"])),
                           Decimal(p["amount"]), recorded_on(entry)))

    def reserved(self, index: int, program_id: str, federation: str, amount: Decimal, on: date | None) -> None:
        self.moves.append((index, "reserved", (program_id, federation), amount, on))

    def overruns(self) -> list[dict[str, Any]]:
        """Replay every move in log order; a budget whose use (children's budgets plus what it reserved) goes
        above what it was given is one finding, at its first overrun."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        given: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        reserved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        children: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        indexes: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, move, key, amount, on in sorted(self.moves, key=lambda m: m[0]):
            touched = [key]
            indexes[key].append(index)
            if move == "allocated":
                program, federation = key
                before, given[key] = given[key], amount
                if "." in federation:
                    parent = (program, federation.rsplit(".", 1)[0])
                    children[parent] += amount - before
                    indexes[parent].append(index)
                    touched.append(parent)
            else:
                reserved[key] += amount
            for budget in touched:
                used = children[budget] + reserved[budget]
                if used > given[budget] and budget not in found:
                    found[budget] = {
                        "check": "budget_overrun", "case_id": None, "program_id": budget[0], "federation": budget[1],
                        "on": on.isoformat() if on else None,
                        "detail": f"{money(used)} reserved and passed down of a budget of {money(given[budget])}",
                        "indexes": sorted(indexes[budget])}
        return list(found.values())


def anomalies(cases: Iterable[CaseFold], programs: Mapping[str, Mapping[str, Any]], budgets: Budgets,
              start: date | None, end: date, follow_up_months: int) -> list[dict[str, Any]]:
    """Every finding dated from `start` to `end` (inclusive), oldest first; overdue visits as of `end`."""
    found: list[dict[str, Any]] = []
    for case in cases:
        found += case_findings(case, programs, budgets, end, follow_up_months)
    found += budgets.overruns()
    kept = [f for f in found if f["on"] is None or ((start is None or start.isoformat() <= f["on"]) and
                                                      f["on"] <= end.isoformat())]
    return sorted(kept, key=lambda f: (f["on"] or "", f["indexes"][:1], f["check"]))


def case_findings(case: CaseFold, programs: Mapping[str, Mapping[str, Any]], budgets: Budgets, end: date,
                  follow_up_months: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def finding(check: str, detail: str, on: Any, indexes: Iterable[int]) -> None:
        found.append({"check": check, "case_id": case.case_id, "federation": case.federation,
                      "on": str(on) if on else None, "detail": detail, "indexes": sorted(set(indexes))})

    kept: dict[str, list[dict[str, Any]]] = defaultdict(list)  # program id → disbursements paid and kept
    for d in case.disbursements.values():
        steps, approved = d.get("steps", []), False
        for step in steps:
            if step["step"] == "approved":
                approved = True
                _reserve(budgets, d, step, Decimal(d["amount"]))
                if step["by"] and step["by"] == d.get("requested_by"):
                    finding("approved_by_requester", f"{d['disbursement_id']} approved by its requester {step['by']}",
                            step["on"], [d["steps"][0]["index"], step["index"]])
                if step["by"] in case.verifiers:
                    finding("approved_by_verifier",
                            f"{d['disbursement_id']} approved by {step['by']}, who verified the household",
                            step["on"], [step["index"]])
            elif step["step"] in RELEASES and approved:
                approved = False
                _reserve(budgets, d, step, -Decimal(d["amount"]))
            elif step["step"] == "paid":
                paid_on = day(step["on"])
                if not any(s["step"] == "approved" for s in steps[:steps.index(step)]):
                    finding("paid_without_approval", f"{d['disbursement_id']} paid with no approval before it",
                            step["on"], d["indexes"])
                if paid_on is not None and not case.filed_on(paid_on):
                    finding("paid_not_filed", f"{d['disbursement_id']} paid {d['amount']} on {paid_on} while the case "
                            f"was {_standing(case, paid_on)}", step["on"], [step["index"], *_state_indexes(case)])
        if d.get("status") in ("paid", "confirmed") and d.get("program_id"):
            kept[str(d["program_id"])].append(d)
    for program_id, paid in kept.items():
        program = programs.get(program_id, {})
        program_indexes = program.get("indexes", [])[:1]
        cap = _cap(program, paid)
        total = sum((Decimal(d["amount"]) for d in paid), Decimal(0))
        last = max(paid, key=lambda d: step_on(d, "paid") or "")
        if cap is not None and total > cap:
            finding("over_household_cap", f"{money(total)} from {program.get('name', program_id)} of a cap of "
                    f"{money(cap)}", step_on(last, "paid"), [i for d in paid for i in d["indexes"]] + program_indexes)
        if program.get("kind") == "festival" and len(paid) > 1:
            finding("duplicate_festival", f"paid {len(paid)} times for {program.get('festival')} "
                    f"{program.get('year')} ({program.get('name', program_id)})", step_on(last, "paid"),
                    [i for d in paid for i in d["indexes"]] + program_indexes)
        if program.get("kind") == "education":
            students: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for d in paid:
                students[str(d.get("beneficiary"))].append(d)
            for twice in (s for s in students.values() if len(s) > 1):
                finding("duplicate_student", f"one student paid {len(twice)} times by "
                        f"{program.get('name', program_id)} ({program.get('year')})",
                        step_on(max(twice, key=lambda d: step_on(d, "paid") or ""), "paid"),
                        [i for d in twice for i in d["indexes"]] + program_indexes)
    for exit_ in case.exits:
        reason, notes = exit_.get("reason"), exit_.get("notes")
        if not reason or (reason == "other" and not notes):
            finding("exit_without_reason", "exit with no reason" if not reason else "exit for \"other\" with no notes",
                    exit_.get("exited_on"), [exit_["index"]])
    if case.periods:
        behind = case.visits_due(end, follow_up_months)["overdue"]
        if behind is not None:
            finding("visit_overdue", f"the visit due by {behind['due_by']} is {behind['days_overdue']} days overdue "
                    f"({behind['missed']} missed)", end, [v["index"] for v in case.visits[-1:]] + case.indexes[-1:])
    return found


def _reserve(budgets: Budgets, d: Mapping[str, Any], step: Mapping[str, Any], amount: Decimal) -> None:
    if d.get("program_id") and d.get("budget_federation"):
        budgets.reserved(step["index"], str(d["program_id"]), str(d["budget_federation"]), amount, day(step["on"]))


def _cap(program: Mapping[str, Any], paid: list[dict[str, Any]]) -> Decimal | None:
    """The per-household cap of the newest rule version any of these payments was decided on."""
    versions = program.get("versions", {})
    used = max((int(d["rule_version"]) for d in paid if d.get("rule_version") is not None), default=None)
    terms = versions.get(used) or (versions[max(versions)] if versions else None)
    cap = ((terms or {}).get("eligibility") or {}).get("household_cap")
    return Decimal(cap) if cap is not None else None


def _standing(case: CaseFold, on: date) -> str:
    before = [p for p in case.periods if date.fromisoformat(p["filed_on"]) <= on]
    if not before:
        return "not yet filed"
    return f"exited on {before[-1]['exited_on']}"


def _state_indexes(case: CaseFold) -> list[int]:
    """The entries that file and exit the case: what proves it was not filed on a day."""
    return [i for p in case.periods for i in p["indexes"]]
