"""The case file and its filing workflow (申请、审核、公示、审批、录入); no I/O here."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from services.contracts.federation import is_federation_code
from services.intake.identity import age_on, birth_date, id_number_problem

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
OUTCOMES = ("recommend", "reject")
DEFAULT_NOTICE_DAYS = 7
CLOCK_SKEW = timedelta(days=1)  # a business date may be at most this far after the server's today
AGE_TOLERANCE = 1  # years between a member's declared age and the one their ID number gives


class IllegalTransition(Exception):
    """The case is not in a state where this step may happen; the message says why."""


class SeparationOfDuties(Exception):
    """The user may not take this step on this case: they opened it, visited the home or recorded the visit."""


class InvalidValue(Exception):
    """A value breaks a rule of the case file; `path` names it as it sits in a request body."""

    def __init__(self, path: tuple[str | int, ...], problem: str):
        super().__init__(f"{dotted(path)}: {problem}")
        self.path, self.problem = path, problem
        self.fields = nested(path, [problem])


class FutureDate(InvalidValue):
    """A business date lies after today, beyond the day allowed for clocks and time zones."""


class AgeMismatch(InvalidValue):
    """A member's declared age disagrees with the birth date in their ID number."""


class RepeatedPerson(InvalidValue):
    """The same ID number appears twice in one household."""


class Case(Aggregate):
    """One household's file (一户一档), from application to filing.

    Every command takes `today` from the application (the domain has no clock) and checks every rule
    itself, whatever a schema already checked: events from other services never pass through one.
    """

    @classmethod
    def open(
        cls,
        federation: str,
        worker: dict[str, Any],
        household: dict[str, Any],
        category: str,
        causes: list[str],
        opened_by: str,
        *,
        today: date,
        imported: dict[str, Any] | None = None,
    ) -> Case:
        """Open an application; with `imported` ({filed_on, import_id, row}) a file migrated already filed."""
        if not is_federation_code(federation):
            raise InvalidValue(("federation",), "must be a federation code like gs or gs.by")
        check_people(worker, household, today)
        causes = checked_causes(category, causes)
        if imported is not None:
            require_not_future(date.fromisoformat(imported["filed_on"]), today, "filed_on")
        return cls(federation, worker, with_per_capita(household), category, causes, opened_by, imported)

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
        """Apply the opening; `Case.open` checks the rules first."""
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

    # Commands: each checks the rules, then records one event that carries the case's federation.

    def verify(
        self, visitors: list[str], visited_on: date, per_capita_income: Decimal, findings: str, by: str,
        *, today: date,
    ) -> None:
        self._require_state(APPLIED, "verify")
        if len({v.strip() for v in visitors}) < 2:
            raise IllegalTransition("a home visit needs at least two different staff")
        require_not_future(visited_on, today, "visited_on")
        if Decimal(per_capita_income) < 0:
            raise InvalidValue(("per_capita_income",), "must not be negative")
        self._verified(visitors, visited_on.isoformat(), per_capita_income, findings, by, federation=self.federation)

    def deliberate(self, decided_on: date, outcome: str, notes: str, by: str, *, today: date) -> None:
        self._require_state(VERIFIED, "deliberate")
        assert self.verification is not None
        if outcome not in OUTCOMES:
            raise InvalidValue(("outcome",), f"must be one of {', '.join(OUTCOMES)}")
        require_not_future(decided_on, today, "decided_on")
        self._require_not_before(decided_on, self.verification["visited_on"], "deliberation", "the home visit")
        self._deliberated(decided_on.isoformat(), outcome, notes, by, federation=self.federation)

    def publish_notice(self, starts_on: date, days: int, by: str, *, today: date) -> None:
        self._require_state(DELIBERATED, "publish the notice")
        assert self.deliberation is not None
        if days < 1:
            raise InvalidValue(("days",), "a notice runs at least one day")
        require_not_future(starts_on, today, "starts_on")
        self._require_not_before(starts_on, self.deliberation["decided_on"], "the notice", "the deliberation")
        ends_on = starts_on + timedelta(days=days)
        self._notice_published(starts_on.isoformat(), days, ends_on.isoformat(), by, federation=self.federation)

    def raise_objection(self, raised_on: date, reason: str, by: str, *, today: date) -> str:
        """Record an objection of `by` (whoever objected, often a neighbour); return its id."""
        self._require_state(ON_NOTICE, "raise an objection")
        assert self.notice is not None
        require_not_future(raised_on, today, "raised_on")
        if not self.notice["starts_on"] <= raised_on.isoformat() < self.notice["ends_on"]:
            raise IllegalTransition(
                f"objections are taken during the notice, {self.notice['starts_on']} "
                f"until before {self.notice['ends_on']}"
            )
        objection_id = str(uuid4())
        self._objection_raised(objection_id, raised_on.isoformat(), reason, by, federation=self.federation)
        return objection_id

    def resolve_objection(self, objection_id: str, upheld: bool, notes: str, by: str) -> None:
        objection = self.objections.get(objection_id)
        if objection is None:
            raise IllegalTransition(f"case has no objection {objection_id}")
        if objection["resolution"] is not None:
            raise IllegalTransition("the objection is already resolved")
        self._objection_resolved(objection_id, upheld, notes, by, federation=self.federation)

    def approve(self, approved_on: date, approver: str, *, today: date) -> None:
        """Approve and file the case (审批、录入); the approver must be independent of the case."""
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
        require_not_future(approved_on, today, "approved_on")
        self._require_independent(approver, "approve")
        self._approved(approved_on.isoformat(), approver, federation=self.federation)
        self._filed(approved_on.isoformat(), federation=self.federation)

    def reject(self, reason: str, by: str) -> None:
        self._require_open("reject")
        self._rejected(reason, by, federation=self.federation)

    def withdraw(self, reason: str, by: str) -> None:
        self._require_open("withdraw")
        self._withdrawn(reason, by, federation=self.federation)

    # Dynamic management (动态管理): yearly review, exit, and re-filing on a return to hardship.

    def review(self, reviewed_on: date, findings: str, still_qualifies: bool, by: str, *, today: date) -> None:
        self._require_state(FILED, "review")
        require_not_future(reviewed_on, today, "reviewed_on")
        self._require_not_before(reviewed_on, self.last_filed_on, "a review", "the filing")
        self._reviewed(reviewed_on.isoformat(), findings, still_qualifies, by, federation=self.federation)

    def exit(self, reason: str, exited_on: date, notes: str, by: str, *, today: date) -> None:
        self._require_state(FILED, "exit")
        if reason not in EXIT_REASONS:
            raise InvalidValue(("reason",), f"an exit needs a reason, one of {', '.join(EXIT_REASONS)}")
        require_not_future(exited_on, today, "exited_on")
        self._require_not_before(exited_on, self.last_filed_on, "an exit", "the filing")
        self._exited(reason, exited_on.isoformat(), notes, by, federation=self.federation)

    def refile(self, refiled_on: date, reason: str, by: str, *, today: date) -> None:
        """Re-file on a return to hardship (返困); like approval, by someone independent of the case."""
        self._require_state(EXITED, "re-file")
        require_not_future(refiled_on, today, "refiled_on")
        self._require_not_before(refiled_on, self.exits[-1]["exited_on"], "a re-filing", "the exit")
        self._require_independent(by, "re-file")
        self._refiled(refiled_on.isoformat(), reason, by, federation=self.federation)

    # Amendments and the household plan (一户一计划、一户一措施).

    def amend(self, changes: dict[str, Any], reason: str, by: str, *, today: date) -> None:
        """Replace whole sections of the file, checked as on opening; the old values are kept in the event."""
        if self.state not in ACTIVE_STATES:
            raise IllegalTransition(f"cannot amend: case is {self.state}")
        unknown = set(changes) - set(AMENDABLE)
        if unknown or not changes:
            raise IllegalTransition(f"amendments change {', '.join(AMENDABLE)}; got {sorted(unknown) or 'nothing'}")
        worker, household = changes.get("worker", self.worker), changes.get("household", self.household)
        if worker["id_number"] != self.worker["id_number"]:
            raise IllegalTransition("the worker's ID number cannot change: a different person needs a new case")
        checked = dict(changes)
        if "worker" in changes or "household" in changes:
            check_people(worker, household, today, path=("changes",))
        if "household" in changes:
            checked["household"] = with_per_capita(household, path=("changes", "household"))
        if "category" in changes or "causes" in changes:
            causes = checked_causes(
                changes.get("category", self.category), changes.get("causes", self.causes), path=("changes",)
            )
            if "causes" in changes:
                checked["causes"] = causes
        changed = {k: v for k, v in checked.items() if getattr(self, k) != v}
        if not changed:
            raise IllegalTransition("the amendment changes nothing")
        before = {k: getattr(self, k) for k in changed}
        self._amended(changed, before, reason, by, federation=self.federation)

    def add_measure(
        self, kind: str, description: str, planned_on: date, due_on: date | None, by: str
    ) -> str:
        """Add a measure to the household plan (一户一措施); return its id."""
        self._require_state(FILED, "plan a measure")
        if kind not in MEASURE_KINDS:
            raise InvalidValue(("kind",), f"measure kind must be one of {', '.join(MEASURE_KINDS)}")
        if due_on is not None and due_on < planned_on:
            raise IllegalTransition("a measure cannot be due before it is planned")
        measure_id = str(uuid4())
        due = due_on.isoformat() if due_on else None
        self._measure_planned(measure_id, kind, description, planned_on.isoformat(), due, by,
                              federation=self.federation)
        return measure_id

    def complete_measure(self, measure_id: str, done_on: date, result: str, by: str, *, today: date) -> None:
        measure = self.measures.get(measure_id)
        if measure is None:
            raise IllegalTransition(f"case has no measure {measure_id}")
        if measure["done_on"] is not None:
            raise IllegalTransition("the measure is already done")
        require_not_future(done_on, today, "done_on")
        self._require_not_before(done_on, measure["planned_on"], "completion", "the plan")
        self._measure_done(measure_id, done_on.isoformat(), result, by, federation=self.federation)

    # Queries.

    @property
    def open_objections(self) -> list[str]:
        return [oid for oid, o in self.objections.items() if o["resolution"] is None]

    @property
    def last_filed_on(self) -> str:
        """The date the case was last filed: the first filing, or the latest re-filing."""
        assert self.filed_on is not None
        return self.refilings[-1]["refiled_on"] if self.refilings else self.filed_on

    @property
    def review_due_on(self) -> str | None:
        """A filed case is reviewed within a year of its last filing, re-filing or review (年度复核)."""
        if self.state != FILED:
            return None
        last = date.fromisoformat(max([self.last_filed_on, *(r["reviewed_on"] for r in self.reviews)]))
        return last.replace(year=last.year + 1, day=28 if (last.month, last.day) == (2, 29) else last.day).isoformat()

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

    def _require_independent(self, user: str, action: str) -> None:
        """Separation of duties: who opened the case, visited the home or recorded the visit may not decide."""
        if user == self.opened_by:
            raise SeparationOfDuties(f"{user} opened this case and so may not {action} it")
        if self.verification is not None:
            if user == self.verification["by"]:
                raise SeparationOfDuties(f"{user} recorded this case's home visit and so may not {action} it")
            if user in {v.strip() for v in self.verification["visitors"]}:
                raise SeparationOfDuties(f"{user} made this case's home visit and so may not {action} it")

    # Events: each applies one recorded fact to the state. Each records the case's federation too, so the
    # outbox relay can address the integration event without loading the case; events stored before
    # they carried it replay with federation None.

    @event("Verified")
    def _verified(
        self, visitors: list[str], visited_on: str, per_capita_income: Decimal, findings: str, by: str,
        federation: str | None = None,
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
    def _deliberated(self, decided_on: str, outcome: str, notes: str, by: str, federation: str | None = None) -> None:
        self.deliberation = {"decided_on": decided_on, "outcome": outcome, "notes": notes, "by": by}
        if outcome == "recommend":
            self.state = DELIBERATED
        else:
            self.state = REJECTED
            self.closure = {"reason": f"deliberation: {notes}", "by": by}

    @event("NoticePublished")
    def _notice_published(
        self, starts_on: str, days: int, ends_on: str, by: str, federation: str | None = None
    ) -> None:
        self.notice = {"starts_on": starts_on, "days": days, "ends_on": ends_on, "by": by}
        self.state = ON_NOTICE

    @event("ObjectionRaised")
    def _objection_raised(
        self, objection_id: str, raised_on: str, reason: str, by: str, federation: str | None = None
    ) -> None:
        self.objections[objection_id] = {
            "raised_on": raised_on,
            "reason": reason,
            "by": by,
            "resolution": None,
        }

    @event("ObjectionResolved")
    def _objection_resolved(
        self, objection_id: str, upheld: bool, notes: str, by: str, federation: str | None = None
    ) -> None:
        self.objections[objection_id]["resolution"] = {"upheld": upheld, "notes": notes, "by": by}
        if upheld:
            # An upheld objection sends the case back to verification: the old findings no longer stand.
            self.state = APPLIED
            self.verification = self.deliberation = self.notice = None

    @event("Approved")
    def _approved(self, approved_on: str, approver: str, federation: str | None = None) -> None:
        self.approval = {"approved_on": approved_on, "approver": approver}
        self.state = APPROVED

    @event("Filed")
    def _filed(self, filed_on: str, federation: str | None = None) -> None:
        assert self.approval is not None
        self.approval["filed_on"] = filed_on
        self.filed_on = filed_on
        self.state = FILED

    @event("Reviewed")
    def _reviewed(
        self, reviewed_on: str, findings: str, still_qualifies: bool, by: str, federation: str | None = None
    ) -> None:
        self.reviews.append(
            {"reviewed_on": reviewed_on, "findings": findings, "still_qualifies": still_qualifies, "by": by}
        )

    @event("Exited")
    def _exited(self, reason: str, exited_on: str, notes: str, by: str, federation: str | None = None) -> None:
        self.exits.append({"reason": reason, "exited_on": exited_on, "notes": notes, "by": by})
        self.state = EXITED

    @event("Refiled")
    def _refiled(self, refiled_on: str, reason: str, by: str, federation: str | None = None) -> None:
        self.refilings.append({"refiled_on": refiled_on, "reason": reason, "by": by})
        self.state = FILED

    @event("Amended")
    def _amended(
        self, changes: dict[str, Any], before: dict[str, Any], reason: str, by: str, federation: str | None = None
    ) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
        self.amendments.append({"changed": sorted(changes), "reason": reason, "by": by})

    @event("MeasurePlanned")
    def _measure_planned(
        self, measure_id: str, kind: str, description: str, planned_on: str, due_on: str | None, by: str,
        federation: str | None = None,
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
    def _measure_done(self, measure_id: str, done_on: str, result: str, by: str, federation: str | None = None) -> None:
        self.measures[measure_id].update({"done_on": done_on, "result": result, "done_by": by})

    # Reads of personal data (查看记录): who saw the ID numbers and phone in full, and why.

    def disclose(self, reason: str, by: str) -> None:
        """Record that `by` is shown the case's personal data in full, for `reason`; the trail keeps it."""
        if not reason.strip():
            raise InvalidValue(("reason",), "say why the personal data must be seen")
        self._personal_data_viewed(reason, by, federation=self.federation)

    @event("PersonalDataViewed")
    def _personal_data_viewed(self, reason: str, by: str, federation: str | None = None) -> None:
        pass

    @event("Rejected")
    def _rejected(self, reason: str, by: str, federation: str | None = None) -> None:
        self.closure = {"reason": reason, "by": by}
        self.state = REJECTED

    @event("Withdrawn")
    def _withdrawn(self, reason: str, by: str, federation: str | None = None) -> None:
        self.closure = {"reason": reason, "by": by}
        self.state = WITHDRAWN


def require_not_future(day: date, today: date, field: str) -> None:
    """Refuse a business date after today, allowing a day for clocks and time zones (UTC+8 runs ahead)."""
    latest = today + CLOCK_SKEW
    if day > latest:
        raise FutureDate((field,), f"{day.isoformat()} is in the future; the latest date accepted is {latest}")


def check_people(
    worker: dict[str, Any], household: dict[str, Any], today: date, path: tuple[str | int, ...] = ()
) -> None:
    """Check every ID number of a file, that no one appears twice, and members' ages against their numbers."""
    problem = id_number_problem(worker.get("id_number") or "", today)
    if problem:
        raise InvalidValue((*path, "worker", "id_number"), problem)
    seen = {worker["id_number"]}
    for i, member in enumerate(household["members"]):
        number = member.get("id_number")
        if not number:
            continue  # a member may come without an ID number (a child, a relative abroad)
        where = (*path, "household", "members", i)
        problem = id_number_problem(number, today)
        if problem:
            raise InvalidValue((*where, "id_number"), problem)
        if number in seen:
            raise RepeatedPerson((*where, "id_number"), "the same ID number appears twice in this household")
        seen.add(number)
        actual = age_on(birth_date(number), today)
        if "age" in member and abs(member["age"] - actual) > AGE_TOLERANCE:
            raise AgeMismatch(
                (*where, "age"), f"{member['age']} does not agree with the ID number's birth date ({actual} on {today})"
            )


def checked_causes(category: str, causes: list[str], path: tuple[str | int, ...] = ()) -> list[str]:
    """Check the category and causes of a file; return the causes sorted, each once."""
    if category not in CATEGORIES:
        raise InvalidValue((*path, "category"), f"must be one of {', '.join(CATEGORIES)}")
    if not causes:
        raise InvalidValue((*path, "causes"), "name at least one cause")
    for i, cause in enumerate(causes):
        if cause not in CAUSES:
            raise InvalidValue((*path, "causes", i), f"must be one of {', '.join(CAUSES)}")
    return sorted(set(causes))


def with_per_capita(household: dict[str, Any], path: tuple[str | int, ...] = ("household",)) -> dict[str, Any]:
    """Check the household's money and set its per-capita income, always computed here, never taken as given."""
    if Decimal(household["monthly_income"]) < 0:
        raise InvalidValue((*path, "monthly_income"), "must not be negative")
    if Decimal(household["subsistence_line"]) <= 0:
        raise InvalidValue((*path, "subsistence_line"), "must be more than 0")
    return {**household, "per_capita_income": per_capita(household["monthly_income"], household["members"])}


def per_capita(monthly_income: Decimal, members: list[Any]) -> Decimal:
    """Divide household income by its size: the worker plus the listed members."""
    return (Decimal(monthly_income) / (len(members) + 1)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def dotted(path: tuple[str | int, ...]) -> str:
    """Name a field as a reader would: household.members[0].age."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def nested(path: tuple[str | int, ...], leaf: Any) -> Any:
    """Place a value at a path the way marshmallow reports fields: {"household": {"members": {0: ...}}}."""
    for part in reversed(path):
        leaf = {part: leaf}
    return leaf


def case_uuid(case_id: str) -> UUID:
    """Parse a case id from a URL, raising ValueError for anything that is not one."""
    return UUID(case_id)
