"""A case folded from the trail alone: as it stood on a date, its clarity card, the household-clear check.

Everything here is a pure function of trail entries (the events as the log holds them, personal values
revealed where they are still kept, "erased" where not), so it checks the services rather than trusting them:
a bug in aid shows up here as an anomaly (services/audit/anomalies.py), not as a missing line.

Two clocks, kept apart on purpose:
- *recorded*: an entry counts for "as of day D" if its event occurred (in its service) by the end of D, in
  the machine's time zone like every service's "today" (China Standard Time in production). The as-of view
  is what the record said on that day.
- *business dates* carried by the events (filed_on, exited_on, paid_on, visited_on…): the filed periods and
  the visits owed are computed from them, as the services compute them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services import clock
from services.pairing.visits import FOLLOW_UP_MONTHS, Period, next_due, overdue

ERASED = "erased"
# What state each intake event puts a case in (CaseDeliberated and ObjectionResolved depend on the payload).
STATES = {"CaseOpened": "applied", "CaseVerified": "verified", "NoticePublished": "on_notice",
          "CaseApproved": "approved", "CaseFiled": "filed", "CaseRejected": "rejected", "CaseWithdrawn": "withdrawn",
          "CaseExited": "exited", "CaseRefiled": "filed"}
STEPS = {"DisbursementApproved": "approved", "DisbursementRejected": "rejected", "DisbursementPaid": "paid",
         "DisbursementConfirmed": "confirmed", "DisbursementFailed": "failed", "DisbursementReversed": "reversed",
         "DisbursementCancelled": "cancelled"}
REFERRAL_WAIT = timedelta(days=30)  # a referral without an outcome after this long is not "clear"
REVIEW_EVERY = timedelta(days=366)  # 年度复核: a filed case is reviewed at least yearly


def recorded_on(entry: Mapping[str, Any]) -> date:
    """The business day (services.clock) the entry's event occurred on in its service."""
    return clock.day_of(datetime.fromisoformat(str(entry["occurred_at"])))


def day(text: Any) -> date | None:
    return date.fromisoformat(str(text)) if text else None


@dataclass
class CaseFold:
    """One case as its entries, in log order, describe it. `lines` of every kind carry their trail indexes."""

    case_id: str
    federation: str | None = None
    state: str | None = None
    worker: Any = None
    household: Any = None
    category: str | None = None
    causes: list[str] = field(default_factory=list)
    dates: dict[str, str] = field(default_factory=dict)
    periods: list[dict[str, Any]] = field(default_factory=list)  # business dates: filed_on, exited_on
    verifiers: set[str] = field(default_factory=set)
    exits: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    pairing: dict[str, Any] | None = None
    visits: list[dict[str, Any]] = field(default_factory=list)
    disbursements: dict[str, dict[str, Any]] = field(default_factory=dict)
    referrals: dict[str, dict[str, Any]] = field(default_factory=dict)
    trainings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    indexes: list[int] = field(default_factory=list)
    verification: dict[str, Any] | None = None  # the home visit that verified the household (入户核查)
    imported: bool = False  # filed from its first event (migrated from a previous system: no verification here)

    def apply(self, entry: Mapping[str, Any]) -> None:
        kind, p, index = entry["type"], entry.get("payload") or {}, int(entry["index"])
        self.indexes.append(index)
        self.federation = entry.get("federation") or self.federation
        handler = getattr(self, f"_{kind}", None)
        if kind in STATES:
            self.state = STATES[kind]
        if handler is not None:
            handler(p, index, entry)
        elif kind in STEPS:
            self._step(kind, p, index)

    # Intake.

    def _CaseOpened(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.worker, self.household = p.get("worker"), p.get("household")
        self.category, self.causes = p.get("category"), list(p.get("causes") or [])
        self.dates["opened_on"] = recorded_on(entry).isoformat()
        imported = p.get("imported")
        if imported:
            self.state, self.imported = "filed", True
            self._filed(imported["filed_on"], index)

    def _CaseVerified(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.dates["verified_on"] = str(p.get("visited_on"))
        self.verification = {"index": index, "visited_on": p.get("visited_on"), "findings": p.get("findings")}
        self.verifiers |= {str(v) for v in [p.get("by"), *(p.get("visitors") or [])] if v}

    def _CaseDeliberated(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.dates["deliberated_on"] = str(p.get("decided_on"))
        self.state = "deliberated" if p.get("outcome") == "recommend" else "rejected"

    def _NoticePublished(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.dates["notice_starts_on"], self.dates["notice_ends_on"] = str(p.get("starts_on")), str(p.get("ends_on"))

    def _ObjectionResolved(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        if p.get("upheld"):
            self.state = "applied"

    def _CaseApproved(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.dates["approved_on"] = str(p.get("approved_on"))

    def _CaseFiled(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self._filed(p["filed_on"], index)

    def _CaseRefiled(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self._filed(p["refiled_on"], index)
        self.dates["refiled_on"] = str(p["refiled_on"])

    def _filed(self, on: Any, index: int) -> None:
        self.dates.setdefault("filed_on", str(on))
        self.periods.append({"filed_on": str(on), "exited_on": None, "indexes": [index]})

    def _CaseExited(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.dates["exited_on"] = str(p.get("exited_on"))
        if self.periods and self.periods[-1]["exited_on"] is None:
            self.periods[-1]["exited_on"] = str(p.get("exited_on"))
            self.periods[-1]["indexes"].append(index)
        self.exits.append({"index": index, "reason": p.get("reason"), "exited_on": p.get("exited_on"),
                           "notes": p.get("notes")})

    def _CaseReviewed(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.reviews.append({"index": index, "reviewed_on": p.get("reviewed_on"),
                             "still_qualifies": p.get("still_qualifies"), "findings": p.get("findings")})

    def _CaseAmended(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        changes = p.get("changes")
        if isinstance(changes, Mapping):  # "erased" once the household's data is gone
            self.worker = changes.get("worker", self.worker)
            self.household = changes.get("household", self.household)
            self.category = changes.get("category", self.category)
            self.causes = list(changes.get("causes", self.causes))

    def _MeasurePlanned(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.measures[str(p["measure_id"])] = {
            "measure_id": str(p["measure_id"]), "kind": p.get("kind"), "description": p.get("description"),
            "planned_on": p.get("planned_on"), "due_on": p.get("due_on"), "done_on": None, "result": None,
            "indexes": [index]}

    def _MeasureDone(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        measure = self.measures.setdefault(str(p["measure_id"]), {"measure_id": str(p["measure_id"]), "indexes": []})
        measure.update(done_on=p.get("done_on"), result=p.get("result"))
        measure["indexes"].append(index)

    # Pairing.

    def _PairingAssigned(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.pairing = {"unit_id": str(p["unit_id"]), "cadre_id": str(p["cadre_id"]), "contact": p.get("contact"),
                        "since": p.get("assigned_on"), "ended_on": None, "indexes": [index]}

    def _PairingReassigned(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.pairing = {"unit_id": str(p["unit_id"]), "cadre_id": str(p["to_cadre_id"]), "contact": p.get("contact"),
                        "since": p.get("reassigned_on"), "ended_on": None, "indexes": [index]}

    def _PairingEnded(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        if self.pairing is not None:
            self.pairing["ended_on"] = p.get("ended_on")
            self.pairing["indexes"].append(index)

    def _VisitRecorded(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.visits.append({"index": index, "visit_id": p.get("visit_id"), "visited_on": p.get("visited_on"),
                            "kind": p.get("kind"), "findings": p.get("findings"),
                            "problems_solved": p.get("problems_solved"), "measures": p.get("measures"),
                            "next_steps": p.get("next_steps"), "visitor": p.get("visitor")})

    # Aid.

    def _DisbursementRequested(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        decision = p.get("decision") or {}
        self.disbursements[str(p["disbursement_id"])] = {
            "disbursement_id": str(p["disbursement_id"]), "program_id": str(p["program_id"]), "kind": p.get("kind"),
            "form": p.get("form"), "amount": p.get("amount"), "items": p.get("items"),
            "beneficiary": p.get("beneficiary"), "batch_id": p.get("batch_id"),
            "budget_federation": p.get("budget_federation"), "rule_version": decision.get("rule_version"),
            "requested_on": p.get("requested_on"), "requested_by": p.get("by"), "status": "requested",
            "steps": [{"step": "requested", "on": p.get("requested_on"), "by": p.get("by"), "index": index}],
            "indexes": [index]}

    def _step(self, kind: str, p: Mapping[str, Any], index: int) -> None:
        did = str(p["disbursement_id"])
        d = self.disbursements.get(did) or self.disbursements.setdefault(did, {  # a step with no request seen
            "disbursement_id": did, "program_id": None, "kind": p.get("kind"), "form": None,
            "amount": p.get("amount"), "requested_by": None, "steps": [], "indexes": []})
        step = {"step": STEPS[kind], "on": p.get("on"), "by": p.get("by"), "reason": p.get("reason"), "index": index}
        for extra in ("bank_reference", "confirmed_by"):
            if extra in p:
                step[extra] = p[extra]
        d["steps"].append(step)
        d["indexes"].append(index)
        d["status"] = STEPS[kind]

    def _ReferralMade(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self.referrals[str(p["referral_id"])] = {
            "referral_id": str(p["referral_id"]), "person": p.get("person"), "employer": p.get("employer"),
            "position": p.get("position"), "monthly_wage_offered": p.get("monthly_wage_offered"),
            "referred_on": p.get("referred_on"), "outcome": None, "monthly_wage": None, "indexes": [index]}

    def _ReferralOutcome(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        referral = self.referrals.setdefault(str(p["referral_id"]), {"referral_id": str(p["referral_id"]),
                                                                     "indexes": []})
        referral.update(outcome=p.get("outcome"), monthly_wage=p.get("monthly_wage"),
                        outcome_on=p.get("recorded_on"))
        referral["indexes"].append(index)

    def _training(self, p: Mapping[str, Any], index: int, status: str, on: str, **extra: Any) -> None:
        key = (str(p["training_id"]), str(p.get("person")))
        training = self.trainings.setdefault(key, {"training_id": key[0], "person": key[1], "indexes": []})
        training.update(status=status, **{f"{status}_on": p.get(on)}, **extra)
        training["indexes"].append(index)

    def _TrainingEnrolled(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self._training(p, index, "enrolled", "enrolled_on")

    def _TrainingCompleted(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self._training(p, index, "completed", "completed_on", certificate=p.get("certificate"))

    def _TrainingDroppedOut(self, p: Mapping[str, Any], index: int, entry: Mapping[str, Any]) -> None:
        self._training(p, index, "dropped", "dropped_on", drop_reason=p.get("reason"))

    # Questions the views and checks ask.

    def filed_periods(self) -> list[Period]:
        return [Period(date.fromisoformat(p["filed_on"]), day(p["exited_on"])) for p in self.periods]

    def filed_on(self, when: date) -> bool:
        """Was the case filed on that (business) day? Filed from its filing day, no longer from its exit day."""
        return any(p.filed_on <= when and (p.exited_on is None or when < p.exited_on) for p in self.filed_periods())

    def visit_days(self) -> list[date]:
        return [d for d in (day(v["visited_on"]) for v in self.visits) if d is not None]

    def visits_due(self, as_of: date, follow_up_months: int = FOLLOW_UP_MONTHS) -> dict[str, Any]:
        """The household's visit standing on `as_of` (季季访, 回访), as pairing computes it."""
        periods, visits = self.filed_periods(), self.visit_days()
        behind = overdue(periods, visits, as_of, follow_up_months) if periods else None
        ahead = next_due(periods, visits, as_of, follow_up_months) if periods else None
        last = max(visits, default=None)
        return {"last_visit_on": last.isoformat() if last else None,
                "next_due_by": ahead.ends_on.isoformat() if ahead else None,
                "overdue": None if behind is None else {"due_by": behind[0].ends_on.isoformat(),
                                                        "days_overdue": behind[1], "missed": behind[2]}}

    def paid(self) -> list[dict[str, Any]]:
        """The disbursements whose money (or goods) reached the household and was not taken back."""
        return [d for d in self.disbursements.values() if d.get("status") in ("paid", "confirmed")]


def fold(case_id: str, entries: Iterable[Mapping[str, Any]], until: date | None = None) -> CaseFold:
    """The case from its entries in log order; with `until`, only those recorded by the end of that day."""
    case = CaseFold(case_id)
    for entry in entries:
        if until is None or recorded_on(entry) <= until:
            case.apply(entry)
    return case


def as_of_view(case: CaseFold, on: date) -> dict[str, Any]:
    """The case as it stood on a date: what GET /cases/{id}/as-of returns."""
    paid = case.paid()
    return {
        "case_id": case.case_id, "as_of": on.isoformat(), "federation": case.federation, "state": case.state,
        "dates": dict(case.dates), "category": case.category, "causes": list(case.causes),
        "filed_periods": case.periods,
        "pairing": case.pairing, "visits": case.visits, "visit_standing": case.visits_due(on),
        "measures": list(case.measures.values()),
        "disbursements": list(case.disbursements.values()),
        "paid_total": money(sum((Decimal(d["amount"]) for d in paid if d.get("form") != "goods"), Decimal(0))),
        "goods_value": money(sum((Decimal(d["amount"]) for d in paid if d.get("form") == "goods"), Decimal(0))),
        "referrals": list(case.referrals.values()), "trainings": list(case.trainings.values()),
        "entries": len(case.indexes), "last_index": case.indexes[-1] if case.indexes else None,
    }


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# The clarity card (明白卡).

def card(case: CaseFold, roster: Mapping[str, Mapping[str, Any]], programs: Mapping[str, Mapping[str, Any]],
         trainings: Mapping[str, Mapping[str, Any]], on: date) -> dict[str, Any]:
    """The household's clarity card: every line linked to the trail indexes that prove it. `roster` holds the
    units and cadres by id (name, function, phone), `programs` the programs, `trainings` the courses."""
    pairing = None
    if case.pairing is not None:
        unit, cadre = roster.get(case.pairing["unit_id"], {}), roster.get(case.pairing["cadre_id"], {})
        pairing = {**case.pairing, "unit_name": unit.get("name"), "unit_function": unit.get("function"),
                   "cadre_name": cadre.get("name"), "cadre_phone_masked": cadre.get("phone_masked"),
                   "indexes": sorted({*case.pairing["indexes"], *unit.get("indexes", []), *cadre.get("indexes", [])})}
    aid = []
    for d in case.disbursements.values():
        program = programs.get(str(d.get("program_id")), {})
        aid.append({"disbursement_id": d["disbursement_id"], "program": program.get("name"), "kind": d.get("kind"),
                    "form": d.get("form"), "amount": d.get("amount"), "items": d.get("items"),
                    "status": d.get("status"),
                    "requested_on": d.get("requested_on"), "paid_on": step_on(d, "paid"),
                    "confirmed_on": step_on(d, "confirmed"), "indexes": d["indexes"]})
    courses = []
    for t in case.trainings.values():
        course = trainings.get(t["training_id"], {})
        courses.append({**t, "course": course.get("course"), "provider": course.get("provider"),
                        "indexes": sorted({*t["indexes"], *course.get("indexes", [])})})
    return {
        "case_id": case.case_id, "as_of": on.isoformat(), "federation": case.federation, "state": case.state,
        "dates": dict(case.dates), "worker": case.worker, "household": case.household, "category": case.category,
        "causes": list(case.causes), "pairing": pairing,
        "measures": list(case.measures.values()), "money": [a for a in aid if a["form"] != "goods"],
        "goods": [a for a in aid if a["form"] == "goods"], "referrals": list(case.referrals.values()),
        "trainings": courses, "visits": case.visits, "first_index": case.indexes[0] if case.indexes else None,
        "last_index": case.indexes[-1] if case.indexes else None,
    }


def step_on(d: Mapping[str, Any], step: str) -> Any:
    """The day of a disbursement's latest step of that kind (paid, confirmed…), or None."""
    return next((s["on"] for s in reversed(d["steps"]) if s["step"] == step), None)


def roster_of(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A unit's, cadre's, program's or training's own record from its entries (their case id is its id)."""
    record: dict[str, Any] = {"indexes": []}
    for entry in entries:
        record["indexes"].append(int(entry["index"]))
        payload = entry.get("payload") or {}
        if entry["type"] in ("ProgramCreated", "ProgramRevised"):
            record.setdefault("versions", {})[int(payload["version"])] = payload["terms"]
        record.update({k: v for k, v in payload.items() if k not in ("terms", "version", "by")})
    return record


# The household-clear check (户户清).

CLEAR_ITEMS = ("basics", "money", "difficulties", "measures", "results", "pairing")


def household_clear(case: CaseFold, on: date, trainings: Mapping[str, Mapping[str, Any]],
                    follow_up_months: int = FOLLOW_UP_MONTHS) -> dict[str, Any]:
    """Which of the six "clear" items fail for a household on a day, and why (each reason names its indexes).

    basics: opened and verified, reviewed within a year of filing (年度复核), the household's data not erased;
    money: every payment confirmed by the household (明白卡), none paid while not filed;
    difficulties: causes recorded and a visit, review or verification in the last year that says what was found;
    measures: a measure planned, none past its due day undone;
    results: every done measure has its result, every referral its outcome within 30 days, every training
    that ended its completion or drop-out;
    pairing: a unit, a cadre and a contact, and no visit overdue.
    """
    fails: dict[str, list[dict[str, Any]]] = {item: [] for item in CLEAR_ITEMS}

    def fail(item: str, reason: str, indexes: Sequence[int] = ()) -> None:
        fails[item].append({"reason": reason, "indexes": list(indexes)})

    if case.worker is None:
        fail("basics", "no application (CaseOpened) in the trail")
    elif not isinstance(case.worker, Mapping) or case.worker.get("name") == ERASED:
        fail("basics", "the household's personal data was erased")
    if "verified_on" not in case.dates and not case.imported:
        fail("basics", "no verification record (入户核查)")
    filed = day(case.periods[-1]["filed_on"]) if case.periods else None
    last_review = max((date.fromisoformat(str(r["reviewed_on"])) for r in case.reviews if r.get("reviewed_on")),
                      default=None)
    if filed is not None and on - max(filed, last_review or filed) > REVIEW_EVERY:
        fail("basics", f"no yearly review since {(last_review or filed).isoformat()}",
             [r["index"] for r in case.reviews[-1:]])

    for d in case.paid():
        if d.get("status") == "paid":
            fail("money", f"{d['disbursement_id']} paid on {step_on(d, 'paid')} is not confirmed by the household",
                 d["indexes"])
        paid_on = day(step_on(d, "paid"))
        if paid_on is not None and not case.filed_on(paid_on):
            fail("money", f"{d['disbursement_id']} paid on {paid_on} while the case was not filed", d["indexes"])

    if not case.causes:
        fail("difficulties", "no cause of hardship recorded")
    seen = [(day(v["visited_on"]), v["index"], v.get("findings")) for v in case.visits]
    seen += [(day(r["reviewed_on"]), r["index"], r.get("findings")) for r in case.reviews]
    if case.verification is not None:
        v = case.verification
        seen.append((day(v["visited_on"]), v["index"], v.get("findings")))
    recent = [s for s in seen if s[0] is not None and on - s[0] <= REVIEW_EVERY and s[2]]
    if not recent:
        fail("difficulties", "no visit or review with findings in the last year")

    if not case.measures:
        fail("measures", "no measure planned (帮扶措施)")
    for m in case.measures.values():
        due = day(m.get("due_on"))
        if m.get("done_on") is None and due is not None and due < on:
            fail("measures", f"measure {m['measure_id']} was due on {due} and is not done", m["indexes"])

    for m in case.measures.values():
        if m.get("done_on") is not None and not m.get("result"):
            fail("results", f"measure {m['measure_id']} is done without a result", m["indexes"])
    for r in case.referrals.values():
        referred = day(r.get("referred_on"))
        if r.get("outcome") is None and referred is not None and on - referred > REFERRAL_WAIT:
            fail("results", f"referral {r['referral_id']} of {referred} has no outcome", r["indexes"])
    for t in case.trainings.values():
        ends = day(trainings.get(t["training_id"], {}).get("ends_on"))
        if t.get("status") == "enrolled" and ends is not None and ends < on:
            fail("results", f"training {t['training_id']} ended without completion or drop-out", t["indexes"])

    if case.pairing is None or case.pairing.get("ended_on") is not None:
        fail("pairing", "no helper unit and cadre (结对)")
    elif not case.pairing.get("contact"):
        fail("pairing", "no contact person named", case.pairing["indexes"])
    behind = case.visits_due(on, follow_up_months)["overdue"]
    if behind is not None:
        fail("pairing", f"visit due by {behind['due_by']} is {behind['days_overdue']} days overdue",
             [v["index"] for v in case.visits[-1:]])
    failed = [item for item in CLEAR_ITEMS if fails[item]]
    return {"case_id": case.case_id, "federation": case.federation, "clear": not failed, "failed": failed,
            "items": {item: {"clear": not fails[item], "reasons": fails[item]} for item in CLEAR_ITEMS}}

