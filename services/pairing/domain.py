"""The roster (帮扶单位, 帮扶责任人) and each household's pairing (结对帮扶, 一帮一); no I/O, no clock here.

Commands check every rule and raise named errors before recording; the methods that apply recorded
events check nothing, so a rule changed later never stops an old aggregate from loading. Every event
carries its federation (and its case id where there is one), so an outbound builder needs nothing else.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.contracts.federation import in_subtree, is_federation_code

FUNCTIONS = ("employment", "civil_affairs", "education", "housing", "health", "medical_insurance", "justice", "union")
RANKS = ("leader", "staff")
DEFAULT_CAPACITY = {"leader": 2, "staff": 1}  # 漳州: a leader carries 1–2 households, staff 1
CLOCK_SKEW = timedelta(days=1)  # as intake: a business date may be at most a day after the server's today
CAPACITIES = uuid5(NAMESPACE_URL, "urn:relief:pairing:capacity")


class InvalidValue(Exception):
    """A value breaks a rule of the roster or of a visit; `path` names the field."""

    def __init__(self, path: tuple[str, ...], problem: str):
        super().__init__(f"{'.'.join(path)}: {problem}")
        self.path, self.problem = path, problem
        self.fields = {path[-1]: [problem]}


class FutureDate(InvalidValue):
    """A business date lies after today, beyond the day allowed for clocks and time zones."""


class IllegalTransition(Exception):
    """The cadre, the case or its pairing is not in a state where this step may happen."""


def require_known(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise InvalidValue((field,), f"must be one of {', '.join(allowed)}")


def require_federation(value: str, field: str = "federation") -> None:
    if not is_federation_code(value):
        raise InvalidValue((field,), "must be a federation code like gs or gs.by")


def require_text(value: str, field: str) -> None:
    if not value or not value.strip():
        raise InvalidValue((field,), "must not be empty")


def require_not_future(day: date, today: date, field: str) -> None:
    latest = today + CLOCK_SKEW
    if day > latest:
        raise FutureDate((field,), f"{day.isoformat()} is in the future; the latest date accepted is {latest}")


class Unit(Aggregate):
    """A helper unit (帮扶单位): a department with one function, registered in one federation."""

    @classmethod
    def register(cls, name: str, function: str, federation: str, by: str) -> Unit:
        require_text(name, "name")
        require_known(function, FUNCTIONS, "function")
        require_federation(federation)
        return cls(name.strip(), function, federation, by)

    @event("Registered")
    def __init__(self, name: str, function: str, federation: str, by: str) -> None:
        self.name, self.function, self.federation, self.by = name, function, federation, by


class Cadre(Aggregate):
    """A helper cadre (帮扶责任人) of a unit; `user` is the login name in the cadre's token."""

    @classmethod
    def register(
        cls, name: str, unit: Unit, rank: str, federation: str, phone: str, user: str, by: str
    ) -> Cadre:
        require_text(name, "name")
        require_known(rank, RANKS, "rank")
        require_federation(federation)
        if not in_subtree(federation, unit.federation):
            raise InvalidValue(("federation",), f"a cadre of a unit of {unit.federation} sits at or under it")
        if not phone.isascii() or not phone.isdigit() or len(phone) != 11 or not phone.startswith("1"):
            raise InvalidValue(("phone",), "must be an 11-digit mobile number")
        require_text(user, "user")
        return cls(name.strip(), str(unit.id), unit.function, rank, federation, phone, user, by)

    @event("Registered")
    def __init__(
        self, name: str, unit_id: str, function: str, rank: str, federation: str, phone: str, user: str, by: str
    ) -> None:
        self.name, self.unit_id, self.function, self.rank = name, unit_id, function, rank
        self.federation, self.phone, self.user, self.by = federation, phone, user, by
        self.active = True
        self.retirement: dict[str, Any] | None = None

    def retire(self, retired_on: date, reason: str, by: str, *, today: date) -> None:
        """Take the cadre off the roster (调离, 退休); the application hands their households over."""
        if not self.active:
            raise IllegalTransition("the cadre has already retired")
        require_not_future(retired_on, today, "retired_on")
        require_text(reason, "reason")
        self._retired(retired_on.isoformat(), reason, by, federation=self.federation)

    @event("Retired")
    def _retired(self, retired_on: str, reason: str, by: str, federation: str) -> None:
        self.active = False
        self.retirement = {"retired_on": retired_on, "reason": reason, "by": by}


class Capacity(Aggregate):
    """How many households a leader and a staff cadre of one federation (and below) may carry."""

    @staticmethod
    def create_id(federation: str) -> UUID:
        return uuid5(CAPACITIES, federation)

    @classmethod
    def start(cls, federation: str) -> Capacity:
        require_federation(federation)
        return cls(federation)

    @event("Started")
    def __init__(self, federation: str) -> None:
        self.federation = federation
        self.leader, self.staff = DEFAULT_CAPACITY["leader"], DEFAULT_CAPACITY["staff"]

    def set(self, leader: int, staff: int, by: str) -> None:
        for field, value in (("leader", leader), ("staff", staff)):
            if not 0 <= value <= 50:
                raise InvalidValue((field,), "must be from 0 to 50")
        self._set(leader, staff, by, federation=self.federation)

    @event("Set")
    def _set(self, leader: int, staff: int, by: str, federation: str) -> None:
        self.leader, self.staff = leader, staff


# The pairing of one case: the case as intake reported it, and who helps the household.

OPEN, FILED, EXITED, CLOSED = "open", "filed", "exited", "closed"
UNPAIRED, ACTIVE, UNCOVERED, ENDED = "unpaired", "active", "uncovered", "ended"
VISIT_KINDS = ("routine", "follow_up")
PAIRINGS = uuid5(NAMESPACE_URL, "urn:relief:pairing:case")


class NotPaired(IllegalTransition):
    """The household has no cadre responsible for it: never paired, or uncovered now."""


class VisitBeforeFiling(InvalidValue):
    """A visit is dated before the case was first filed."""


class Pairing(Aggregate):
    """Who helps one household (一户一帮扶责任人), from filing until exit and through follow-up (不达目标不脱钩)."""

    @staticmethod
    def create_id(case_id: str) -> UUID:
        return uuid5(PAIRINGS, case_id)

    @classmethod
    def track(cls, case_id: str, federation: str, category: str, causes: list[str], event_id: str | None) -> Pairing:
        """Start following a case intake opened; nothing is paired until it is filed."""
        require_federation(federation)
        return cls(case_id, federation, category, sorted(set(causes)), event_id)

    @event("Tracked")
    def __init__(self, case_id: str, federation: str, category: str, causes: list[str], event_id: str | None) -> None:
        self.case_id, self.federation, self.category, self.causes = case_id, federation, category, causes
        self.state = OPEN
        self.periods: list[dict[str, Any]] = []  # {filed_on, filed_at, exited_on, exit_reason}
        self.status = UNPAIRED
        self.cadre_id: str | None = None
        self.unit_id: str | None = None
        self.contact: str | None = None
        self.assigned_on: str | None = None
        self.slot: str | None = None
        self.gap: str | None = None
        self.history: list[dict[str, Any]] = []
        self.visits: list[dict[str, Any]] = []
        self.event_ids: set[str] = {event_id} if event_id else set()

    def has_seen(self, event_id: str | None) -> bool:
        """Tell whether an intake event was already applied (a resend after a relay restart)."""
        return event_id is not None and event_id in self.event_ids

    # The case as intake reports it.

    def file(self, filed_on: date, filed_at: str, event_id: str | None) -> None:
        """A filing (from open) or a re-filing on a return to hardship (from exited, 返困)."""
        if self.state not in (OPEN, EXITED):
            raise IllegalTransition(f"cannot file: the case is {self.state}")
        self._filed(filed_on.isoformat(), filed_at, event_id, case_id=self.case_id, federation=self.federation)

    def exit(self, reason: str, exited_on: date, event_id: str | None) -> str | None:
        """The case exited (解困脱困): an active pairing ends with the exit reason; return the freed slot."""
        if self.state != FILED:
            raise IllegalTransition(f"cannot exit: the case is {self.state}")
        freed = self.slot
        self._exited(reason, exited_on.isoformat(), event_id, case_id=self.case_id, federation=self.federation)
        if freed is not None:
            self._ended(reason, exited_on.isoformat(), self.cadre_id, case_id=self.case_id,
                        federation=self.federation)
        return freed

    def close(self, reason: str, event_id: str | None) -> None:
        """Rejected or withdrawn before filing: never paired."""
        if self.state != OPEN:
            raise IllegalTransition(f"cannot close: the case is {self.state}")
        self._closed(reason, event_id, case_id=self.case_id, federation=self.federation)

    def amend(self, category: str, causes: list[str], event_id: str | None) -> None:
        """New causes keep the pairing; a coordinator may move it."""
        self._amended(category, sorted(set(causes)), event_id, case_id=self.case_id, federation=self.federation)

    # Pairing.

    def assign(
        self, unit_id: str, cadre_id: str, contact: str, rule: dict[str, Any], on: date, slot: str, by: str
    ) -> None:
        if self.state != FILED:
            raise IllegalTransition(f"only a filed case is paired; this one is {self.state}")
        if self.status == ACTIVE:
            raise IllegalTransition("the case is already paired")
        self._assigned(unit_id, cadre_id, contact, rule, on.isoformat(), slot, by,
                       case_id=self.case_id, federation=self.federation)

    def reassign(
        self, unit_id: str, cadre_id: str, contact: str, rule: dict[str, Any], reason: str, on: date, slot: str,
        by: str,
    ) -> None:
        """Hand the household to another cadre (a retirement, a coordinator's override)."""
        if self.status != ACTIVE or self.state != FILED:
            raise IllegalTransition("only an active pairing is handed over")
        if cadre_id == self.cadre_id and contact == self.contact:
            raise IllegalTransition("the household already has this cadre and contact")
        self._reassigned(self.cadre_id, cadre_id, unit_id, contact, rule, reason, on.isoformat(), slot, by,
                         case_id=self.case_id, federation=self.federation)

    def uncover(self, reason: str, on: date) -> None:
        """No one is free: list the household as uncovered (its cadre, if any, is gone)."""
        if self.state != FILED:
            raise IllegalTransition(f"only a filed case can be uncovered; this one is {self.state}")
        if self.status == UNCOVERED:
            return  # still waiting, for the same lack of capacity: nothing new happened to the household
        self._gap(reason, on.isoformat(), self.cadre_id if self.status == ACTIVE else None,
                  case_id=self.case_id, federation=self.federation)

    # Visits (走访, 回访).

    @property
    def responsible(self) -> str | None:
        """The cadre who visits: the paired one, or after an exit the one whose pairing ended."""
        return self.cadre_id if self.status in (ACTIVE, ENDED) else None

    def record_visit(
        self, visit_id: str, visited_on: date, kind: str, findings: str, problems_solved: str, measures: str,
        next_steps: str, visitor: str, *, today: date,
    ) -> None:
        require_known(kind, VISIT_KINDS, "kind")
        require_not_future(visited_on, today, "visited_on")
        if not self.periods or visited_on.isoformat() < self.periods[0]["filed_on"]:
            first = self.periods[0]["filed_on"] if self.periods else "never"
            raise VisitBeforeFiling(("visited_on",), f"the case was first filed on {first}")
        if self.responsible is None:
            raise NotPaired("the household has no cadre: it is not paired")
        require_text(findings, "findings")
        self._visited(visit_id, visited_on.isoformat(), kind, findings, problems_solved, measures, next_steps,
                      visitor, self.responsible, case_id=self.case_id, federation=self.federation)

    # Events.

    def _seen(self, event_id: str | None) -> None:
        if event_id:
            self.event_ids.add(event_id)

    @event("Filed")
    def _filed(self, filed_on: str, filed_at: str, event_id: str | None, case_id: str, federation: str) -> None:
        self.periods.append({"filed_on": filed_on, "filed_at": filed_at, "exited_on": None, "exit_reason": None})
        self.state = FILED
        self._seen(event_id)

    @event("Exited")
    def _exited(self, reason: str, exited_on: str, event_id: str | None, case_id: str, federation: str) -> None:
        self.periods[-1].update({"exited_on": exited_on, "exit_reason": reason})
        self.state = EXITED
        if self.status == UNCOVERED:
            self.status, self.gap = UNPAIRED, None
        self._seen(event_id)

    @event("Ended")
    def _ended(self, reason: str, ended_on: str, cadre_id: str | None, case_id: str, federation: str) -> None:
        self.status, self.slot = ENDED, None
        self.history.append({"event": "ended", "cadre_id": cadre_id, "reason": reason, "on": ended_on})

    @event("Closed")
    def _closed(self, reason: str, event_id: str | None, case_id: str, federation: str) -> None:
        self.state = CLOSED
        self._seen(event_id)

    @event("Amended")
    def _amended(self, category: str, causes: list[str], event_id: str | None, case_id: str, federation: str) -> None:
        self.category, self.causes = category, causes
        self._seen(event_id)

    @event("Assigned")
    def _assigned(
        self, unit_id: str, cadre_id: str, contact: str, rule: dict[str, Any], assigned_on: str, slot: str, by: str,
        case_id: str, federation: str,
    ) -> None:
        self.status, self.gap = ACTIVE, None
        self.unit_id, self.cadre_id, self.contact, self.assigned_on, self.slot = unit_id, cadre_id, contact, \
            assigned_on, slot
        self.history.append({"event": "assigned", "cadre_id": cadre_id, "unit_id": unit_id, "contact": contact,
                             "rule": rule, "on": assigned_on, "by": by})

    @event("Reassigned")
    def _reassigned(
        self, from_cadre_id: str | None, to_cadre_id: str, unit_id: str, contact: str, rule: dict[str, Any],
        reason: str, reassigned_on: str, slot: str, by: str, case_id: str, federation: str,
    ) -> None:
        self.unit_id, self.cadre_id, self.contact, self.assigned_on, self.slot = unit_id, to_cadre_id, contact, \
            reassigned_on, slot
        self.history.append({"event": "reassigned", "from_cadre_id": from_cadre_id, "cadre_id": to_cadre_id,
                             "unit_id": unit_id, "contact": contact, "rule": rule, "reason": reason,
                             "on": reassigned_on, "by": by})

    @event("CoverageGap")
    def _gap(self, reason: str, since: str, from_cadre_id: str | None, case_id: str, federation: str) -> None:
        self.status, self.gap, self.slot = UNCOVERED, reason, None
        self.cadre_id = self.unit_id = self.contact = None
        self.history.append({"event": "uncovered", "from_cadre_id": from_cadre_id, "reason": reason, "on": since})

    @event("VisitRecorded")
    def _visited(
        self, visit_id: str, visited_on: str, kind: str, findings: str, problems_solved: str, measures: str,
        next_steps: str, visitor: str, cadre_id: str, case_id: str, federation: str,
    ) -> None:
        self.visits.append({"visit_id": visit_id, "visited_on": visited_on, "kind": kind, "findings": findings,
                            "problems_solved": problems_solved, "measures": measures, "next_steps": next_steps,
                            "visitor": visitor, "cadre_id": cadre_id})
