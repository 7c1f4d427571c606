"""The pairing application (Pairings): the roster, each filed household's pairing, visits and their queries.

It keeps its own view of each case from intake's integration events (never calling intake), pairs a
household when it is filed or re-filed, keeps the pairing until the case exits (不达目标不脱钩), hands a
retired cadre's households over, and pairs waiting households, oldest first, as soon as capacity appears.
Every load goes through `self.load`, so inside a consumer's batch a load sees what earlier events did;
index reads go through `_rows`, which adds the batch's unsaved rows for the same reason.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services import clock
from services.config import setting
from services.contracts import Envelope, EventRefused
from services.contracts.federation import ancestry, in_subtree
from services.eventstore import Claim, ClaimConflict, IndexedApplication, Put, Release, Table
from services.eventstore.index import IndexOp
from services.eventstore.unit import UnitOfWork
from services.pairing.domain import (
    ACTIVE,
    DEFAULT_CAPACITY,
    FILED,
    UNCOVERED,
    Cadre,
    Capacity,
    IllegalTransition,
    Pairing,
    Unit,
    require_text,
)
from services.pairing.index import (
    CADRES,
    CAPACITY,
    CASES,
    SLOTS,
    TABLES,
    UNITS,
    USERS,
    Tally,
    cadre_row,
    case_put,
    claim_slot,
    coverage,
    held_slots,
    household,
    oldest_first,
    overdue_households,
    pending,
    unit_row,
)
from services.pairing.matching import Candidate, Choice, best_choice, fitting_functions, gap_reason
from services.pairing.metrics import count_stored

ATTEMPTS = 20  # a lost slot claim means another pairing took that slot: re-read and try again
# Intake events pairing has no use for: the steps before filing, reviews and the household plan.
IGNORED_INTAKE_EVENTS = frozenset({
    "CaseVerified", "CaseDeliberated", "NoticePublished", "ObjectionRaised", "ObjectionResolved",
    "CaseApproved", "CaseReviewed", "MeasurePlanned", "MeasureDone", "PersonalDataViewed",
})
T = TypeVar("T")
SYSTEM = "pairing"  # the `by` of what the service decides itself


class NotFound(Exception):
    """No such unit, cadre or case is visible to the caller."""


class OutsideScope(Exception):
    """The caller names a federation outside their own subtree."""


class OutsideSubtree(Exception):
    """The cadre's federation does not cover the case's: pairing never crosses federation subtrees."""


class CapacityFull(Exception):
    """The cadre already carries as many households as their capacity allows."""


class CadreInactive(Exception):
    """The cadre has retired and takes no households."""


class DuplicateUser(Exception):
    """The login name already belongs to a cadre (retired ones included: audit must tell who was who)."""


class NotYourHousehold(Exception):
    """The caller is neither the household's cadre, its contact, nor a caseworker of its federation."""


class ConcurrentChange(Exception):
    """Another request changed the same aggregate meanwhile; nothing was stored."""


# Tables a batch reads once per query (its own writes merged on top). Slots may be cached too: a slot
# another transaction claims meanwhile fails this batch's claim (ClaimConflict), and the batch is applied
# again on fresh rows, so a stale read can never overfill a cadre.
CACHED = frozenset({CADRES.name, CAPACITY.name, SLOTS.name})


@dataclass
class Scan:
    """A unit of work's index writes sorted by table as they arrive, and the roster rows it has read.

    `last_slot_op` is its last write of each slot. `held` is the slot numbers each cadre of the
    federations in `filled` holds (a cadre without any has no entry): their slot rows read once per
    federation, with the unit's own claims and releases applied as they arrive. `absent` holds the
    pairings the store lacked.
    """

    unit: UnitOfWork
    done: int = 0
    by_table: dict[str, list[IndexOp]] = field(default_factory=dict)
    cache: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    last_slot_op: dict[str, IndexOp] = field(default_factory=dict)
    held: dict[str, set[int]] = field(default_factory=dict)
    filled: set[str] = field(default_factory=set)
    absent: set[UUID] = field(default_factory=set)

    def catch_up(self) -> None:
        """Sort the index writes the unit received since the last call."""
        for op in self.unit.index[self.done:]:
            self.by_table.setdefault(op.table.name, []).append(op)
            if op.table.name == SLOTS.name:
                key = op.key if isinstance(op, Release) else op.row["slot"]
                self.last_slot_op[key] = op
                cadre_id, n = key.rsplit(":", 1)
                if isinstance(op, Release):
                    self.held.get(cadre_id, set()).discard(int(n))
                elif op.row["federation"] in self.filled:
                    self.held.setdefault(cadre_id, set()).add(int(n))
        self.done = len(self.unit.index)


class Pairings(IndexedApplication):
    """Register units and cadres, pair households, hand them over, record visits (结对帮扶、季季访)."""

    name = "Pairing"
    tables = TABLES

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._scans = threading.local()  # per green thread: how far its unit of work's index was sorted
        self.follow_up_months = setting(self.env, "PAIRING_FOLLOW_UP_MONTHS", 12, 0, 120)
        self.paired_within_days = setting(self.env, "PAIRING_PAIRED_WITHIN_DAYS", 15, 0, 366)
        self._tally = Tally(self.follow_up_months)  # the gauges' (one collector calls)

    def today(self) -> date:
        """The day business dates are checked against (the domain has no clock); tests may fix it."""
        return clock.today()


    # The roster.

    def register_unit(self, *, name: str, function: str, federation: str, scope: str, by: str) -> Unit:
        self._require_scope(federation, scope)
        unit = Unit.register(name, function, federation, by)
        self._store(unit, index=[Put(UNITS, unit_row(unit))])
        return unit

    def register_cadre(
        self, *, name: str, unit_id: str, rank: str, federation: str, phone: str, user: str, scope: str, by: str
    ) -> Cadre:
        """Register a cadre, then pair the households waiting for one that fits, oldest first."""
        self._require_scope(federation, scope)

        def registered() -> Cadre:
            unit: Unit = self._get(Unit, unit_id)
            held = self._rows(USERS, keys=[user])
            if held:
                raise DuplicateUser(f"the login name {user} already belongs to cadre {held[0]['cadre_id']}")
            cadre = Cadre.register(name, unit, rank, federation, phone, user, by)
            claim = Claim(USERS, {"user_name": user, "cadre_id": str(cadre.id)})
            self._store(cadre, index=[Put(CADRES, cadre_row(cadre)), claim])
            self.cover_waiting(cadre.federation, self.today(), f"cadre {cadre.id} registered")
            return cadre

        return self._atomically(registered)

    def retire_cadre(self, cadre_id: str, scope: str, *, retired_on: date, reason: str, by: str) -> Cadre:
        """Retire a cadre and hand each of their households to the best free cadre (or list it uncovered)."""
        def retired() -> Cadre:
            cadre: Cadre = self._get(Cadre, cadre_id, scope)
            cadre.retire(retired_on, reason, by, today=self.today())
            self._store(cadre, index=[Put(CADRES, cadre_row(cadre))])
            why = f"cadre {cadre_id} retired: {reason}"
            for slot in self._rows(SLOTS, equal={"cadre_id": cadre_id}):
                self._settle(self._as_it_is(slot["case_id"]), retired_on, why, by)
            return cadre

        return self._atomically(retired)

    def set_capacity(self, federation: str, scope: str, *, leader: int, staff: int, by: str) -> Capacity:
        """Set how many households cadres at and under `federation` carry; pair waiting households if raised."""
        self._require_scope(federation, scope)

        def set_() -> Capacity:
            try:
                capacity: Capacity = self.load(Capacity.create_id(federation))
            except AggregateNotFoundError:
                capacity = Capacity.start(federation)
            capacity.set(leader, staff, by)
            row = {"federation": federation, "leader": str(leader), "staff": str(staff)}
            self._store(capacity, index=[Put(CAPACITY, row)])
            self.cover_waiting(federation, self.today(), f"capacity of {federation} set to {leader}/{staff}")
            return capacity

        return self._atomically(set_)

    # The case as intake reports it: one command per intake event pairing needs.

    def apply_intake_event(self, envelope: Envelope) -> bool:
        """Apply one of intake's integration events with its named command; ignore those pairing needs not.

        Return False for a resend of an event already applied (the same event id), True otherwise. An
        event about a case pairing never heard of, or out of order for the case (a filing of a rejected
        case), is refused with the reason, to be parked where an operator sees it.
        """
        existing = self._find(envelope.case_id)
        if existing is not None and existing.has_seen(envelope.event_id):
            return False
        try:
            self._apply(envelope)
            return True
        except (NotFound, IllegalTransition) as problem:
            raise EventRefused(f"{envelope.type} of case {envelope.case_id}: {problem}") from None

    def _apply(self, envelope: Envelope) -> None:
        kind, p = envelope.type, envelope.payload
        case: dict[str, Any] = {"case_id": envelope.case_id, "federation": envelope.federation,
                "occurred_at": envelope.occurred_at, "event_id": envelope.event_id}
        if kind == "CaseOpened":
            imported = p.get("imported")
            self.case_opened(**case, category=p["category"], causes=p["causes"],
                             imported_filed_on=date.fromisoformat(imported["filed_on"]) if imported else None)
        elif kind == "CaseFiled":
            self.case_filed(**case, filed_on=date.fromisoformat(p["filed_on"]))
        elif kind == "CaseRefiled":
            self.case_refiled(**case, refiled_on=date.fromisoformat(p["refiled_on"]))
        elif kind == "CaseExited":
            self.case_exited(**case, reason=p["reason"], exited_on=date.fromisoformat(p["exited_on"]))
        elif kind in ("CaseRejected", "CaseWithdrawn"):
            self.case_closed(**case, reason=f"{kind[4:].lower()}: {p['reason']}")
        elif kind == "CaseAmended":
            changes = p["changes"]
            if "causes" in changes or "category" in changes:
                self.case_amended(**case, causes=changes.get("causes"), category=changes.get("category"))
        elif kind not in IGNORED_INTAKE_EVENTS:
            raise EventRefused(f"pairing has no command for intake event {kind}")

    def case_opened(
        self, case_id: str, federation: str, *, category: str, causes: list[str], occurred_at: datetime,
        imported_filed_on: date | None = None, event_id: str | None = None,
    ) -> Pairing:
        """Start the case's view; a file migrated already filed is paired at once."""
        existing = self._find(case_id)
        if existing is not None:
            if existing.has_seen(event_id):
                return existing
            raise IllegalTransition(f"case {case_id} is already known to pairing")
        if imported_filed_on is None:
            pairing = Pairing.track(case_id, federation, category, causes, event_id)
            self._store(pairing, index=[case_put(pairing)])
            return pairing

        def opened_filed() -> tuple[Pairing, list[IndexOp]]:
            pairing = Pairing.track(case_id, federation, category, causes, event_id)
            pairing.file(imported_filed_on, occurred_at.isoformat(), None)
            return pairing, []

        return self._settle(opened_filed, imported_filed_on, "filing (imported)", SYSTEM)

    def case_filed(
        self, case_id: str, federation: str, *, filed_on: date, occurred_at: datetime,
        causes: list[str] | None = None, event_id: str | None = None,
    ) -> Pairing:
        """The case was filed: pair it with the best free cadre, or list it uncovered with the reason."""
        existing = self._find(case_id)
        if existing is not None and existing.has_seen(event_id):
            return existing

        def filed() -> tuple[Pairing, list[IndexOp]]:
            pairing = self._find(case_id) or Pairing.track(case_id, federation, "", causes or [], None)
            if causes is not None and sorted(set(causes)) != pairing.causes:
                pairing.amend(pairing.category, causes, None)
            pairing.file(filed_on, occurred_at.isoformat(), event_id)
            return pairing, []

        return self._settle(filed, filed_on, "filing", SYSTEM)

    def case_refiled(
        self, case_id: str, federation: str, *, refiled_on: date, occurred_at: datetime, event_id: str | None = None
    ) -> Pairing:
        """A return to hardship (返困): the household is paired again."""
        return self._change(case_id, event_id, lambda p: p.file(refiled_on, occurred_at.isoformat(), event_id),
                            refiled_on, "re-filing")

    def case_exited(
        self, case_id: str, federation: str, *, reason: str, exited_on: date, occurred_at: datetime,
        event_id: str | None = None,
    ) -> Pairing:
        """The case exited: its pairing ends with the reason, and the freed slot goes to the oldest waiting."""
        freed: list[str] = []

        def exited() -> tuple[Pairing, list[IndexOp]]:
            pairing = self._pairing(case_id)
            cadre_id = pairing.cadre_id
            slot = pairing.exit(reason, exited_on, event_id)
            freed[:] = [cadre_id] if slot and cadre_id else []
            return pairing, [Release(SLOTS, slot)] if slot else []

        def ended() -> Pairing:
            existing = self._pairing(case_id)
            if existing.has_seen(event_id):
                return existing
            pairing = self._settle(exited, exited_on, "exit", SYSTEM)
            for row in self._rows(CADRES, keys=freed) if freed else []:
                self.cover_waiting(row["federation"], exited_on, f"pairing of case {case_id} ended")
            return pairing

        return self._atomically(ended)

    def case_closed(
        self, case_id: str, federation: str, *, reason: str, occurred_at: datetime, event_id: str | None = None
    ) -> Pairing:
        """Rejected or withdrawn before filing: the case is never paired."""
        existing = self._find(case_id)
        if existing is not None and existing.has_seen(event_id):
            return existing
        pairing = existing or Pairing.track(case_id, federation, "", [], None)
        pairing.close(reason, event_id)
        self._store(pairing, index=[case_put(pairing)])
        return pairing

    def case_amended(
        self, case_id: str, federation: str, *, causes: list[str] | None, category: str | None,
        occurred_at: datetime, event_id: str | None = None,
    ) -> Pairing:
        """New causes or category: the view changes, the pairing stays (a coordinator may move it)."""
        pairing = self._pairing(case_id)
        if not pairing.has_seen(event_id):
            pairing.amend(category or pairing.category, causes if causes is not None else pairing.causes, event_id)
            self._store(pairing, index=[case_put(pairing)])
        return pairing

    # A coordinator's override.

    def override(
        self, case_id: str, scope: str, *, cadre_id: str, contact: str | None, reason: str, by: str
    ) -> Pairing:
        """Pair the household with a named cadre (and contact), within capacity and the federation's line."""
        require_text(reason, "reason")

        def moved() -> Pairing:
            pairing = self._pairing(case_id, scope)
            if pairing.state != FILED:
                raise IllegalTransition(f"only a filed case is paired; this one is {pairing.state}")
            row = next(iter(self._rows(CADRES, keys=[cadre_id])), None)
            if row is None:
                raise NotFound(f"no cadre {cadre_id}")
            if row["active"] != "1":
                raise CadreInactive(f"cadre {cadre_id} has retired")
            if row["federation"] not in ancestry(pairing.federation):
                raise OutsideSubtree(f"a cadre of {row['federation']} does not cover a case of {pairing.federation}")
            ops: list[IndexOp] = []
            slot, before = pairing.slot, pairing.cadre_id if pairing.status == ACTIVE else None
            if cadre_id != before:
                candidate, free = self._candidates([row], self._rows(SLOTS, equal={"cadre_id": cadre_id}))[cadre_id]
                if not free:
                    raise CapacityFull(f"cadre {cadre_id} carries {candidate.load} of {candidate.capacity}")
                claim = self._take_slot(cadre_id, free[0], row["federation"], case_id)
                slot = claim.row["slot"]
                ops = [Release(SLOTS, pairing.slot), claim] if pairing.slot else [claim]
            assert slot is not None
            rule = {"override": True, "reason": reason, "by": by, "cadre_federation": row["federation"],
                    "summary": f"set by coordinator {by}: {reason}"}
            who = contact or row["user_name"]
            if before is not None:
                pairing.reassign(row["unit_id"], cadre_id, who, rule, reason, self.today(), slot, by)
            else:
                pairing.assign(row["unit_id"], cadre_id, who, rule, self.today(), slot, by)
            self._store(pairing, index=[*ops, case_put(pairing)])
            for old in self._rows(CADRES, keys=[before]) if before and before != cadre_id else []:
                self.cover_waiting(old["federation"], self.today(), f"case {case_id} moved to cadre {cadre_id}")
            return pairing

        return self._atomically(moved)

    # Visits (走访).

    def record_visit(
        self, case_id: str, scope: str, *, role: str, user: str, visited_on: date, kind: str, findings: str,
        problems_solved: str, measures: str, next_steps: str,
    ) -> Pairing:
        """Record a visit by the household's cadre, its contact, or a caseworker of its federation."""
        pairing = self._pairing(case_id, scope)
        self._require_visitor(pairing, role, user)
        pairing.record_visit(str(uuid4()), visited_on, kind, findings, problems_solved, measures, next_steps,
                             user, today=self.today())
        self._store(pairing, index=[case_put(pairing)])
        return pairing

    def _require_visitor(self, pairing: Pairing, role: str, user: str) -> None:
        if role == "caseworker":
            return
        own = self._rows(CADRES, equal={"user_name": user})
        if own and own[0]["active"] != "1":
            raise NotYourHousehold(f"{user} is a retired cadre and visits no household")
        if pairing.contact is not None and user == pairing.contact:
            return
        if role == "cadre" and pairing.responsible is not None:
            rows = self._rows(CADRES, keys=[pairing.responsible])
            if rows and rows[0]["user_name"] == user:
                return
        raise NotYourHousehold(f"{user} ({role}) is not the cadre or contact of this household")

    # Queries.

    def get_pairing(self, case_id: str, scope: str) -> Pairing:
        return self._pairing(case_id, scope)

    def cadres(self, scope: str, federation: str | None = None, unit_id: str | None = None) -> list[dict[str, Any]]:
        """Cadres under `federation` (default the scope), each with its load and capacity."""
        root = federation or scope
        if not in_subtree(root, scope):
            return []
        rows = self._rows(CADRES, equal={"unit_id": unit_id} if unit_id else None, subtree=("federation", root))
        found = self._candidates(rows, self._rows(SLOTS, subtree=("federation", root)))
        return [{**r, "load": found[r["cadre_id"]][0].load, "capacity": found[r["cadre_id"]][0].capacity}
                for r in rows]

    def units(self, scope: str, federation: str | None = None) -> list[dict[str, Any]]:
        root = federation or scope
        return self._rows(UNITS, subtree=("federation", root)) if in_subtree(root, scope) else []

    def uncovered(self, scope: str) -> list[dict[str, Any]]:
        """Households filed but without a cadre, oldest filing first, with the reason."""
        return oldest_first(self._rows(CASES, equal={"status": UNCOVERED}, subtree=("federation", scope)))

    def overdue(self, scope: str, as_of: date) -> list[dict[str, Any]]:
        """Households behind on their due visit, with days overdue and the cadre responsible."""
        rows = self._rows(CASES, subtree=("federation", scope))
        return overdue_households(rows, as_of, self.follow_up_months)

    def households(self, user: str, as_of: date) -> list[dict[str, Any]]:
        """The households a cadre (by login name) is responsible for, with the last visit and the next due."""
        found = []
        for row in self._rows(CADRES, equal={"user_name": user}):
            for case in self._rows(CASES, equal={"cadre_id": row["cadre_id"]}):
                found.append({**household(case, as_of, self.follow_up_months), "cadre_id": row["cadre_id"]})
        return found

    def coverage(self, scope: str, as_of: date | None = None, within_days: int | None = None) -> dict[str, Any]:
        """Coverage under `scope` on `as_of` (default today): filed, paired (and within N days of filing),
        uncovered with reasons, how many cadres carry 0, 1, 2…, and visits per quarter (index.coverage)."""
        cases = self._rows(CASES, subtree=("federation", scope))
        cadres = self._rows(CADRES, subtree=("federation", scope))
        days = self.paired_within_days if within_days is None else within_days
        return coverage(cases, cadres, as_of or self.today(), days, self.follow_up_months)

    def by_top_level(self, as_of: date) -> dict[str, dict[str, int]]:
        """Filed, paired, uncovered and overdue households per top-level federation (gs, …), from one read
        of the case rows (and the cadres', for a top level with a roster and no household yet): the
        metrics' gauges. Only households whose rows changed since the last count are worked out again."""
        totals = self._tally.count(self.select_rows(CASES, columns=Tally.COMPARED), as_of)
        for row in self.select_rows(CADRES, columns=("federation",)):
            totals.setdefault(row["federation"].split(".", 1)[0], [0, 0, 0, 0])
        return {top: dict(zip(("filed", "paired", "uncovered", "overdue"), totals[top], strict=True))
                for top in sorted(totals)}

    def stored(self, events: Sequence[Any]) -> None:
        count_stored(events)

    # Pairing itself.

    def cover_waiting(self, root: str, on: date, trigger: str) -> int:
        """Pair uncovered households at and under `root`, oldest first, while capacity there lasts.

        Only a household that a function with free slots at or under `root` fits is tried: the others
        were uncovered before and nothing changed for them.
        """
        waiting = self.uncovered(root)
        if not waiting:
            return 0  # the usual case when a roster is built before households are filed: no scan of cadres
        rows = self._rows(CADRES, equal={"active": "1"}, subtree=("federation", root))
        free: Counter[str] = Counter()
        for candidate, slots in self._candidates(rows, self._rows(SLOTS, subtree=("federation", root))).values():
            free[candidate.function] += len(slots)
        paired = 0
        for row in waiting:
            if not +free:
                break
            fits = [f for _, f in fitting_functions(row["causes"].split(",") if row["causes"] else [])]
            if not any(free[f] > 0 for f in fits):
                continue
            pairing = self._settle(self._as_it_is(row["case_id"]), on, f"capacity appeared: {trigger}", SYSTEM)
            if pairing.status == ACTIVE:
                paired += 1
                rule = pairing.history[-1]["rule"]
                if in_subtree(rule["cadre_federation"], root) and free[rule["function"]] > 0:
                    free[rule["function"]] -= 1
        return paired

    def _change(
        self, case_id: str, event_id: str | None, change: Callable[[Pairing], None], on: date, trigger: str
    ) -> Pairing:
        existing = self._pairing(case_id)
        if existing.has_seen(event_id):
            return existing

        def changed() -> tuple[Pairing, list[IndexOp]]:
            pairing = self._pairing(case_id)
            change(pairing)
            return pairing, []

        return self._settle(changed, on, trigger, SYSTEM)

    def _as_it_is(self, case_id: str) -> Callable[[], tuple[Pairing, list[IndexOp]]]:
        """A change that changes nothing: the pairing only needs (re)placing."""
        return lambda: (self._pairing(case_id), [])

    def _settle(
        self, make: Callable[[], tuple[Pairing, list[IndexOp]]], on: date, trigger: str, by: str
    ) -> Pairing:
        """Apply a change, pair (or hand over, or uncover) the household if it needs it, save; retry a lost slot."""
        for _ in range(ATTEMPTS):
            pairing, ops = make()
            ops = [*ops, *self._placement(pairing, on, trigger, by)]
            if not pairing.pending_events:
                return pairing
            try:
                self._store(pairing, index=[*ops, case_put(pairing)])
                return pairing
            except ClaimConflict:
                continue
        raise ConcurrentChange("free slots kept being taken by other pairings; try again")

    def _placement(self, pairing: Pairing, on: date, trigger: str, by: str) -> list[IndexOp]:
        """Pair the household if it is filed and has no active cadre, or its cadre retired."""
        if pairing.state != FILED:
            return []
        on = max(on, date.fromisoformat(pairing.periods[-1]["filed_on"]))  # never dated before this filing
        current = self._rows(CADRES, keys=[pairing.cadre_id]) if pairing.status == ACTIVE and pairing.cadre_id else []
        if pairing.status == ACTIVE and current and current[0]["active"] == "1":
            return []
        best = self._best(pairing)
        ops: list[IndexOp] = [Release(SLOTS, pairing.slot)] if pairing.slot else []
        if best is None:
            reason = gap_reason(pairing.federation, pairing.causes)
            pairing.uncover(f"{trigger}: {reason}" if pairing.status == ACTIVE else reason, on)
            return ops
        choice, n, contact = best
        c = choice.candidate
        rule = {**choice.rule, "trigger": trigger}
        claim = self._take_slot(c.cadre_id, n, c.federation, pairing.case_id)
        if pairing.status == ACTIVE:
            pairing.reassign(c.unit_id, c.cadre_id, contact, rule, trigger, on, claim.row["slot"], by)
        else:
            pairing.assign(c.unit_id, c.cadre_id, contact, rule, on, claim.row["slot"], by)
        return [*ops, claim]

    def _take_slot(self, cadre_id: str, n: int, federation: str, case_id: str) -> Claim | Put:
        """Claim a cadre's slot n; a slot this very transaction released is ours, so it is overwritten.

        (The in-memory store checks claims before applying the transaction's releases; a release and a
        claim of one key in one transaction would fail there though it is sound everywhere.)
        """
        claim = claim_slot(cadre_id, n, federation, case_id)
        scan = self._scan()
        if scan is None:
            return claim
        scan.catch_up()
        return Put(SLOTS, claim.row) if isinstance(scan.last_slot_op.get(claim.row["slot"]), Release) else claim

    def _best(self, pairing: Pairing) -> tuple[Choice, int, str] | None:
        """The best free cadre for the household, the slot number to claim and the contact, or None.

        Only active cadres of a fitting function at the case's federation or above are read, and the slot
        rows of those federations: in a batch, once per federation (_held).
        """
        fits = {function for _, function in fitting_functions(pairing.causes)}
        rows = [r for fed in ancestry(pairing.federation)
                for r in self._rows(CADRES, equal={"federation": fed, "active": "1"}) if r["function"] in fits]
        found = self._candidates(rows)
        best = best_choice(pairing.federation, pairing.causes, [c for c, _ in found.values()])
        if best is None:
            return None
        cadre_id = best.candidate.cadre_id
        return best, found[cadre_id][1][0], next(r["user_name"] for r in rows if r["cadre_id"] == cadre_id)

    def _candidates(
        self, rows: list[dict[str, Any]], slots: list[dict[str, Any]] | None = None
    ) -> dict[str, tuple[Candidate, list[int]]]:
        """Cadre rows as matching sees them, each with the slot numbers still free below its capacity.

        `slots` holds (at least) every slot row of these cadres, or None to read those of their
        federations (_held) and count only the slots below each one's capacity; the nearest capacity
        setting applies.
        """
        above = sorted({f for r in rows for f in ancestry(r["federation"])})
        limits = {r["federation"]: r for r in self._rows(CAPACITY, keys=above)} if above else {}
        nearest = {fed: next((limits[f] for f in ancestry(fed) if f in limits), None)
                   for fed in {r["federation"] for r in rows}}
        capacities = {}
        for row in rows:
            setting = nearest[row["federation"]]
            capacities[row["cadre_id"]] = int(setting[row["rank"]]) if setting else DEFAULT_CAPACITY[row["rank"]]
        held = held_slots(slots) if slots is not None else self._held({r["federation"] for r in rows})
        found = {}
        for row in rows:
            capacity = capacities[row["cadre_id"]]
            taken = held.get(row["cadre_id"], set())
            if slots is None and taken and max(taken) >= capacity:  # the capacity was lowered
                taken = {n for n in taken if n < capacity}
            candidate = Candidate(row["cadre_id"], row["unit_id"], row["function"], row["federation"],
                                  row["registered_at"], len(taken), capacity)
            found[row["cadre_id"]] = (candidate, [n for n in range(capacity) if n not in taken])
        return found

    def _held(self, federations: set[str]) -> dict[str, set[int]]:
        """The slot numbers each cadre of these federations holds, as this save will find them (a cadre
        without any may be missing).

        In a unit of work a federation's slot rows are read once, and then kept up to date with the unit's
        own claims and releases as they arrive (Scan.held). A slot row has its cadre's federation.
        """
        scan = self._scan()
        if scan is not None:
            scan.catch_up()  # what held holds already is merged into what _rows reads
        held, filled = (scan.held, scan.filled) if scan is not None else ({}, set())
        for federation in sorted(federations - filled):
            held.update(held_slots(self._rows(SLOTS, equal={"federation": federation})))
            filled.add(federation)
        return held

    # Loading and saving.

    def _rows(self, table: Table, **criteria: Any) -> list[dict[str, Any]]:
        """Index rows as this save will find them: the store's, with the running batch's unsaved writes.

        Inside a batch, the store's roster rows (cadres, capacity settings) and slots are read once per
        query and reused, and the batch's own writes are merged on top (CACHED). A cadre registered by a
        request meanwhile is seen by the next batch (and pairs waiting households itself).
        """
        scan = self._scan()
        if scan is not None and table.name in CACHED:
            key = (table.name, repr(sorted(criteria.items())))
            rows = scan.cache.get(key)
            if rows is None:
                rows = scan.cache[key] = self.select_rows(table, **criteria)
        else:
            rows = self.select_rows(table, **criteria)
        ops = self._unsaved(table)
        if not ops:
            return rows
        return pending(rows, ops, table, criteria.get("equal"), criteria.get("subtree"), criteria.get("keys"))

    def _scan(self) -> Scan | None:
        """What this green thread's running unit of work has been read for, or None outside one."""
        unit = self.unit
        if unit is None:
            return None
        scan: Scan | None = getattr(self._scans, "scan", None)
        if scan is None or scan.unit is not unit:
            scan = Scan(unit)
            self._scans.scan = scan
        return scan

    def _unsaved(self, table: Table) -> list[IndexOp]:
        """The running unit of work's index writes to `table`, in order (sorted by table as they arrive)."""
        scan = self._scan()
        if scan is None:
            return []
        scan.catch_up()
        return scan.by_table.get(table.name, [])

    def _find(self, case_id: str) -> Pairing | None:
        """The case's pairing, or None; in a unit of work, a case the store lacked is asked of it only once."""
        aggregate_id = Pairing.create_id(case_id)
        scan = self._scan()
        if scan is not None and aggregate_id in scan.absent and aggregate_id not in scan.unit.aggregates:
            return None
        try:
            pairing: Pairing = self.load(aggregate_id)
        except AggregateNotFoundError:
            if scan is not None:
                scan.absent.add(aggregate_id)
            return None
        return pairing

    def _pairing(self, case_id: str, scope: str | None = None) -> Pairing:
        pairing = self._find(case_id)
        if pairing is None or (scope is not None and not in_subtree(pairing.federation, scope)):
            raise NotFound(f"no case {case_id}")
        return pairing

    def _get(self, kind: type[Any], aggregate_id: str, scope: str | None = None) -> Any:
        try:
            found = self.load(UUID(aggregate_id))
        except (ValueError, AggregateNotFoundError):
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}") from None
        if not isinstance(found, kind) or (scope is not None and not in_subtree(found.federation, scope)):
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}")
        return found

    @staticmethod
    def _require_scope(federation: str, scope: str) -> None:
        if not in_subtree(federation, scope):
            raise OutsideScope(f"{federation} is outside the caller's federation {scope}")

    def _atomically(self, command: Callable[[], T]) -> T:
        """All a command records in one transaction (IndexedApplication.atomically); a slot claimed meanwhile by
        another save fails it, and the whole command runs again on what the store now holds."""
        try:
            return self.atomically(command, retry_on=(ClaimConflict,), attempts=ATTEMPTS)
        except ClaimConflict:
            raise ConcurrentChange("free slots kept being taken by other pairings; try again") from None
        except IntegrityError:
            raise ConcurrentChange("the record changed while this request ran; try again") from None

    def _store(self, *aggregates: Aggregate, index: list[IndexOp]) -> None:
        try:
            self.record(*aggregates, index=index)
        except IntegrityError:
            raise ConcurrentChange("the record changed while this request ran; reload it and try again") from None
