"""The case file and its filing workflow (申请、审核、公示、审批、录入); no I/O here."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

APPLIED, VERIFIED, DELIBERATED, ON_NOTICE = "applied", "verified", "deliberated", "on_notice"
APPROVED, FILED, REJECTED, WITHDRAWN, EXITED = "approved", "filed", "rejected", "withdrawn", "exited"
OPEN_STATES = (APPLIED, VERIFIED, DELIBERATED, ON_NOTICE, APPROVED)
ACTIVE_STATES = (*OPEN_STATES, FILED)  # a person in one of these may not appear in another case
STATES = (*OPEN_STATES, FILED, REJECTED, WITHDRAWN, EXITED)
EXIT_REASONS = ("stable_employment", "income_above_line", "social_security", "moved", "deceased", "other")
MEASURE_KINDS = ("employment", "medical", "schooling", "housing", "social_insurance", "legal_aid")
AMENDABLE = ("worker", "household", "category", "causes")
CATEGORIES = ("subsistence", "marginal", "accident")
CAUSES = ("illness", "disability", "education", "disaster", "accident", "unemployment", "low_income", "other")
DEFAULT_NOTICE_DAYS = 7


class IllegalTransition(Exception):
    """The case is not in a state where this step may happen; the message says why."""


class Case(Aggregate):
    """One household's file (一户一档), from application to filing."""

    @event("Opened")
    def __init__(
        self,
        federation: str,
        worker: dict[str, Any],
        household: dict[str, Any],
        category: str,
        causes: list[str],
        opened_by: str,
        imported: dict[str, Any] | None = None,
    ) -> None:
        """Open an application; with `imported` ({filed_on, import_id, row}) a file migrated already filed."""
        self.federation = federation
        self.worker = worker
        self.household = household
        self.category = category
        self.causes = causes
        self.opened_by = opened_by
        self.state = APPLIED
        self.verification: dict[str, Any] | None = None
        self.deliberation: dict[str, Any] | None = None
        self.notice: dict[str, Any] | None = None
        self.objections: dict[str, dict[str, Any]] = {}
        self.approval: dict[str, Any] | None = None
        self.closure: dict[str, Any] | None = None
        self.filed_on: str | None = None
        self.reviews: list[dict[str, Any]] = []
        self.exits: list[dict[str, Any]] = []
        self.refilings: list[dict[str, Any]] = []
        self.measures: dict[str, dict[str, Any]] = {}
        self.amendments: list[dict[str, Any]] = []
        if imported is not None:
            self.approval = {"imported": imported["import_id"], "row": imported["row"], "by": opened_by,
                             "filed_on": imported["filed_on"]}
            self.filed_on = imported["filed_on"]
            self.state = FILED

    # Commands: each checks the rules, then records one event.

    def verify(
        self, visitors: list[str], visited_on: date, per_capita_income: Decimal, findings: str, by: str
    ) -> None:
        self._require_state(APPLIED, "verify")
        if len({v.strip() for v in visitors}) < 2:
            raise IllegalTransition("a home visit needs at least two different staff")
        self._verified(visitors, visited_on.isoformat(), per_capita_income, findings, by)

    def deliberate(self, decided_on: date, outcome: str, notes: str, by: str) -> None:
        self._require_state(VERIFIED, "deliberate")
        assert self.verification is not None
        self._require_not_before(decided_on, self.verification["visited_on"], "deliberation", "the home visit")
        self._deliberated(decided_on.isoformat(), outcome, notes, by)

    def publish_notice(self, starts_on: date, days: int, by: str) -> None:
        self._require_state(DELIBERATED, "publish the notice")
        assert self.deliberation is not None
        self._require_not_before(starts_on, self.deliberation["decided_on"], "the notice", "the deliberation")
        ends_on = starts_on + timedelta(days=days)
        self._notice_published(starts_on.isoformat(), days, ends_on.isoformat(), by)

    def raise_objection(self, raised_on: date, reason: str, by: str) -> str:
        self._require_state(ON_NOTICE, "raise an objection")
        assert self.notice is not None
        if not self.notice["starts_on"] <= raised_on.isoformat() < self.notice["ends_on"]:
            raise IllegalTransition(
                f"objections are taken during the notice, {self.notice['starts_on']} "
                f"until before {self.notice['ends_on']}"
            )
        objection_id = str(uuid4())
        self._objection_raised(objection_id, raised_on.isoformat(), reason, by)
        return objection_id

    def resolve_objection(self, objection_id: str, upheld: bool, notes: str, by: str) -> None:
        objection = self.objections.get(objection_id)
        if objection is None:
            raise IllegalTransition(f"case has no objection {objection_id}")
        if objection["resolution"] is not None:
            raise IllegalTransition("the objection is already resolved")
        self._objection_resolved(objection_id, upheld, notes, by)

    def approve(self, approved_on: date, approver: str) -> None:
        self._require_state(ON_NOTICE, "approve")
        assert self.notice is not None
        if self.verification is None:
            raise IllegalTransition("filing needs the verification record")
        if self.open_objections:
            raise IllegalTransition(f"{len(self.open_objections)} objection(s) still open")
        if approved_on.isoformat() < self.notice["ends_on"]:
            raise IllegalTransition(
                f"the notice runs {self.notice['days']} days, until {self.notice['ends_on']}"
            )
        self._approved(approved_on.isoformat(), approver)
        self._filed(approved_on.isoformat())

    def reject(self, reason: str, by: str) -> None:
        self._require_open("reject")
        self._rejected(reason, by)

    def withdraw(self, reason: str, by: str) -> None:
        self._require_open("withdraw")
        self._withdrawn(reason, by)

    # Dynamic management (动态管理): yearly review, exit, and re-filing on a return to hardship.

    def review(self, reviewed_on: date, findings: str, still_qualifies: bool, by: str) -> None:
        self._require_state(FILED, "review")
        self._require_not_before(reviewed_on, self.last_filed_on, "a review", "the filing")
        self._reviewed(reviewed_on.isoformat(), findings, still_qualifies, by)

    def exit(self, reason: str, exited_on: date, notes: str, by: str) -> None:
        self._require_state(FILED, "exit")
        if reason not in EXIT_REASONS:
            raise IllegalTransition(f"an exit needs a reason, one of {', '.join(EXIT_REASONS)}")
        self._require_not_before(exited_on, self.last_filed_on, "an exit", "the filing")
        self._exited(reason, exited_on.isoformat(), notes, by)

    def refile(self, refiled_on: date, reason: str, by: str) -> None:
        self._require_state(EXITED, "re-file")
        self._require_not_before(refiled_on, self.exits[-1]["exited_on"], "a re-filing", "the exit")
        self._refiled(refiled_on.isoformat(), reason, by)

    # Amendments and the household plan (一户一计划、一户一措施).

    def amend(self, changes: dict[str, Any], reason: str, by: str) -> None:
        if self.state not in ACTIVE_STATES:
            raise IllegalTransition(f"cannot amend: case is {self.state}")
        unknown = set(changes) - set(AMENDABLE)
        if unknown or not changes:
            raise IllegalTransition(f"amendments change {', '.join(AMENDABLE)}; got {sorted(unknown) or 'nothing'}")
        if "worker" in changes and changes["worker"]["id_number"] != self.worker["id_number"]:
            raise IllegalTransition("the worker's ID number cannot change: a different person needs a new case")
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            raise IllegalTransition("the amendment changes nothing")
        before = {k: getattr(self, k) for k in changed}
        self._amended(changed, before, reason, by)

    def add_measure(self, kind: str, description: str, planned_on: date, due_on: date | None, by: str) -> str:
        self._require_state(FILED, "plan a measure")
        if kind not in MEASURE_KINDS:
            raise IllegalTransition(f"measure kind must be one of {', '.join(MEASURE_KINDS)}")
        if due_on is not None and due_on < planned_on:
            raise IllegalTransition("a measure cannot be due before it is planned")
        measure_id = str(uuid4())
        due = due_on.isoformat() if due_on else None
        self._measure_planned(measure_id, kind, description, planned_on.isoformat(), due, by)
        return measure_id

    def complete_measure(self, measure_id: str, done_on: date, result: str, by: str) -> None:
        measure = self.measures.get(measure_id)
        if measure is None:
            raise IllegalTransition(f"case has no measure {measure_id}")
        if measure["done_on"] is not None:
            raise IllegalTransition("the measure is already done")
        self._require_not_before(done_on, measure["planned_on"], "completion", "the plan")
        self._measure_done(measure_id, done_on.isoformat(), result, by)

    # Queries.

    @property
    def open_objections(self) -> list[str]:
        return [oid for oid, o in self.objections.items() if o["resolution"] is None]

    @property
    def last_filed_on(self) -> str:
        """The date the case was last filed: the first filing, or the latest re-filing."""
        assert self.filed_on is not None
        return self.refilings[-1]["refiled_on"] if self.refilings else self.filed_on

    def identity_numbers(self) -> list[tuple[str, str]]:
        """Every ID number in the file, with the role it has: the worker, then members who gave one."""
        found = [("worker", self.worker["id_number"])]
        found += [("member", m["id_number"]) for m in self.household["members"] if m.get("id_number")]
        return found

    # Rules.

    def _require_state(self, wanted: str, action: str) -> None:
        if self.state != wanted:
            raise IllegalTransition(f"cannot {action}: case is {self.state}, must be {wanted}")

    def _require_open(self, action: str) -> None:
        if self.state not in OPEN_STATES:
            raise IllegalTransition(f"cannot {action}: case is already {self.state}")

    @staticmethod
    def _require_not_before(day: date, earlier: str, what: str, after: str) -> None:
        if day.isoformat() < earlier:
            raise IllegalTransition(f"{what} cannot be dated before {after} ({earlier})")

    # Events: each applies one recorded fact to the state.

    @event("Verified")
    def _verified(
        self, visitors: list[str], visited_on: str, per_capita_income: Decimal, findings: str, by: str
    ) -> None:
        self.verification = {
            "visitors": visitors,
            "visited_on": visited_on,
            "per_capita_income": per_capita_income,
            "findings": findings,
            "by": by,
        }
        self.state = VERIFIED

    @event("Deliberated")
    def _deliberated(self, decided_on: str, outcome: str, notes: str, by: str) -> None:
        self.deliberation = {"decided_on": decided_on, "outcome": outcome, "notes": notes, "by": by}
        if outcome == "recommend":
            self.state = DELIBERATED
        else:
            self.state = REJECTED
            self.closure = {"reason": f"deliberation: {notes}", "by": by}

    @event("NoticePublished")
    def _notice_published(self, starts_on: str, days: int, ends_on: str, by: str) -> None:
        self.notice = {"starts_on": starts_on, "days": days, "ends_on": ends_on, "by": by}
        self.state = ON_NOTICE

    @event("ObjectionRaised")
    def _objection_raised(self, objection_id: str, raised_on: str, reason: str, by: str) -> None:
        self.objections[objection_id] = {
            "raised_on": raised_on,
            "reason": reason,
            "by": by,
            "resolution": None,
        }

    @event("ObjectionResolved")
    def _objection_resolved(self, objection_id: str, upheld: bool, notes: str, by: str) -> None:
        self.objections[objection_id]["resolution"] = {"upheld": upheld, "notes": notes, "by": by}
        if upheld:
            # An upheld objection sends the case back to verification: the old findings no longer stand.
            self.state = APPLIED
            self.verification = self.deliberation = self.notice = None

    @event("Approved")
    def _approved(self, approved_on: str, approver: str) -> None:
        self.approval = {"approved_on": approved_on, "approver": approver}
        self.state = APPROVED

    @event("Filed")
    def _filed(self, filed_on: str) -> None:
        assert self.approval is not None
        self.approval["filed_on"] = filed_on
        self.filed_on = filed_on
        self.state = FILED

    @event("Reviewed")
    def _reviewed(self, reviewed_on: str, findings: str, still_qualifies: bool, by: str) -> None:
        self.reviews.append(
            {"reviewed_on": reviewed_on, "findings": findings, "still_qualifies": still_qualifies, "by": by}
        )

    @event("Exited")
    def _exited(self, reason: str, exited_on: str, notes: str, by: str) -> None:
        self.exits.append({"reason": reason, "exited_on": exited_on, "notes": notes, "by": by})
        self.state = EXITED

    @event("Refiled")
    def _refiled(self, refiled_on: str, reason: str, by: str) -> None:
        self.refilings.append({"refiled_on": refiled_on, "reason": reason, "by": by})
        self.state = FILED

    @event("Amended")
    def _amended(self, changes: dict[str, Any], before: dict[str, Any], reason: str, by: str) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self.amendments.append({"changed": sorted(changes), "reason": reason, "by": by})

    @event("MeasurePlanned")
    def _measure_planned(
        self, measure_id: str, kind: str, description: str, planned_on: str, due_on: str | None, by: str
    ) -> None:
        self.measures[measure_id] = {
            "kind": kind,
            "description": description,
            "planned_on": planned_on,
            "due_on": due_on,
            "by": by,
            "done_on": None,
            "result": None,
        }

    @event("MeasureDone")
    def _measure_done(self, measure_id: str, done_on: str, result: str, by: str) -> None:
        self.measures[measure_id].update({"done_on": done_on, "result": result, "done_by": by})

    @event("Rejected")
    def _rejected(self, reason: str, by: str) -> None:
        self.closure = {"reason": reason, "by": by}
        self.state = REJECTED

    @event("Withdrawn")
    def _withdrawn(self, reason: str, by: str) -> None:
        self.closure = {"reason": reason, "by": by}
        self.state = WITHDRAWN


def case_uuid(case_id: str) -> UUID:
    """Parse a case id from a URL, raising ValueError for anything that is not one."""
    return UUID(case_id)
