"""The aid application (Aids): programs, budgets down the tree, disbursements of money and goods, batches,
job referrals and trainings, and the queries over them.

It keeps its own view of each case from intake's integration events (never calling intake). Every load
goes through `self.load`, so inside a consumer's batch a load sees what earlier events did.

Concurrency: a budget is an aggregate whose state is a few integers; an approval stores the budget's
`Reserved` event and the disbursement's `Approved` event in one transaction, so two approvals that read
the same budget version cannot both commit (the loser re-reads and tries again, and is refused once the
budget is spent). Inside one process, approvals of one budget also queue on a lock, so they do not
make each other retry. The same idempotency key is the same aggregate id, so two requests with one key
can only ever create one disbursement.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services import clock
from services.aid import reports
from services.aid.domain import (
    APPROVED,
    FAILED,
    FILED,
    GOODS,
    MONEY,
    PAID,
    PENDING,
    REQUESTED,
    WORKER,
    AidCase,
    Ask,
    Batch,
    Budget,
    BudgetExhausted,
    Disbursement,
    IllegalTransition,
    InvalidValue,
    NotEligible,
    NotFiledOnDay,
    Program,
    Referral,
    SeparationOfDuties,
    Training,
)
from services.aid.index import (
    BATCHES,
    BUDGETS,
    CASES,
    DISBURSEMENTS,
    ENROLMENTS,
    PROGRAMS,
    REFERRALS,
    TABLES,
    TRAININGS,
    batch_put,
    budget_put,
    case_put,
    disbursement_put,
    enrolment_put,
    program_put,
    referral_put,
    training_put,
)
from services.aid.metrics import count_stored
from services.aid.money import fen, yuan
from services.contracts import Envelope, EventRefused
from services.contracts.federation import in_subtree
from services.eventstore import IndexedApplication
from services.eventstore.index import IndexOp
from services.eventstore.migrations import Migration, create_tables

ATTEMPTS = 30  # a lost race (another save of the same aggregate) is re-read and tried again
SYSTEM = "aid"  # the `by` of what the service decides itself
T = TypeVar("T")
# Intake events aid has no use for.
IGNORED_INTAKE_EVENTS = frozenset({
    "CaseDeliberated", "NoticePublished", "ObjectionRaised", "ObjectionResolved", "CaseApproved", "CaseReviewed",
    "MeasurePlanned", "MeasureDone", "PersonalDataViewed",
})


class NotFound(Exception):
    """No such program, budget, case, disbursement, batch, referral or training is visible to the caller."""


class OutsideScope(Exception):
    """The caller names a federation outside their own subtree."""


class KeyReused(Exception):
    """The idempotency key already belongs to a different request."""


class NoParentBudget(Exception):
    """A child's allocation comes out of its parent's budget, and the parent has none for this program."""


class ConcurrentChange(Exception):
    """Other saves kept changing the same record; nothing was stored."""


def fingerprint(fields: dict[str, Any]) -> str:
    """What a request asked, to tell a resend (same key, same body) from a reused key."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class Aids(IndexedApplication):
    """Programs, budgets, disbursements, goods, referrals and trainings (帮扶资金与项目)."""

    name = "Aid"
    tables = (*TABLES, BATCHES)
    migrations = (
        Migration(1, "create the index tables", create_tables(*TABLES)),
        # A batch made before this step is listed once it next changes (its events are not read back).
        Migration(2, "the list of batches", create_tables(BATCHES)),
    )

    # Busy aggregates (a budget approvals reserve from) load from a cache brought up to date with the events
    # stored since (fast-forward), instead of replaying every reservation; and what aid just stored or consumed
    # (a household's filing, a request) is at hand for the next step. The cache is least-recently-used: one
    # smaller than what a batch walks through evicts each household just before it is reached (10,000 made a
    # 10,000-household batch on SQLite 24.7 s instead of 11.1 s). 40,000 aggregates, about 2.6 KB each, hold a
    # festival batch of 10,000 households with its 10,000 disbursements. An operator sets it as
    # AID_AGGREGATE_CACHE_MAXSIZE (eventsourcing's setting under this application's name; docs/deploy.md):
    # the unprefixed name would give every other service's application a cache too.
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "40000"}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        # Households (or bank lines, or approvals) a batch handles in one transaction.
        self.step = int(self.env.get("AID_BATCH_STEP") or 500)
        self._locks: defaultdict[UUID, threading.Lock] = defaultdict(threading.Lock)

    def today(self) -> date:
        """The day decisions are dated (the domain has no clock); tests may fix it."""
        return clock.today()

    def stored(self, events: Iterable[Any]) -> None:
        count_stored(events)

    # Programs.

    def create_program(
        self, *, name: str, kind: str, year: int, federation: str, festival: str | None, help_kind: str | None,
        amount: int | None, rule: dict[str, Any] | None, eligibility: dict[str, Any], scope: str, by: str,
    ) -> Program:
        self._require_scope(federation, scope)
        terms = {"amount": amount, "rule": rule, "eligibility": eligibility}
        program = Program.create(name, kind, year, federation, festival, help_kind, terms, by)
        self._store(program, index=[program_put(program)])
        return program

    def revise_program(
        self, program_id: str, scope: str, *, amount: int | None, rule: dict[str, Any] | None,
        eligibility: dict[str, Any], reason: str, by: str,
    ) -> Program:
        def revised() -> Program:
            program = self.program(program_id, scope, own=True)
            program.revise({"amount": amount, "rule": rule, "eligibility": eligibility}, reason, by)
            self._store(program, index=[program_put(program)])
            return program

        return self._atomically(revised)

    def program(self, program_id: str, scope: str, *, own: bool = False) -> Program:
        """A program the caller may use: one of a federation above or at theirs, or in their subtree
        (`own`: only one of their subtree, for changing it)."""
        program: Program = self._get(Program, program_id)
        mine = in_subtree(program.federation, scope)
        if not (mine or (not own and in_subtree(scope, program.federation))):
            raise NotFound(f"no program {program_id}")
        return program

    def programs(self, scope: str, year: int | None, kind: str | None) -> list[dict[str, Any]]:
        rows = self.select_rows(PROGRAMS, equal={"year": str(year)} if year is not None else {})
        return [r for r in rows if (kind is None or r["kind"] == kind)
                and (in_subtree(r["federation"], scope) or in_subtree(scope, r["federation"]))]

    # Budgets.

    def allocate(self, *, program_id: str, federation: str, amount: int, scope: str, by: str) -> Budget:
        """Make a federation's budget `amount`: the program's own federation allocates to itself, each
        other one out of its parent's remainder (and a reduction goes back to the parent)."""
        def allocated() -> Budget:
            program = self.program(program_id, scope)
            top = federation == program.federation
            parent = None if top else federation.rsplit(".", 1)[0]
            self._require_scope(federation if top else str(parent), scope)
            budget = self._find(Budget, Budget.create_id(program_id, federation)) or Budget.open(program, federation)
            delta = budget.allocate(amount, by)
            changed: list[Aggregate] = [budget, program]  # the program records a budget newly opened
            if parent is not None:
                above = self._find(Budget, Budget.create_id(program_id, parent))
                if above is None:
                    raise NoParentBudget(f"{parent} has no budget of this program to allocate from")
                above.pass_down(federation, delta, by)
                changed.append(above)
            self._store(*changed, index=[budget_put(b) for b in changed if isinstance(b, Budget)])
            return budget

        return self._atomically(allocated)

    def budgets(self, scope: str, program_id: str | None, federation: str | None) -> list[dict[str, Any]]:
        root = federation or scope
        self._require_scope(root, scope)
        equal = {"program_id": program_id} if program_id else {}
        return self.select_rows(BUDGETS, equal=equal, subtree=("federation", root))

    def budget_rows(self, year: str) -> list[dict[str, Any]]:
        """Every budget of a year (the remaining-budget gauges)."""
        return self.select_rows(BUDGETS, equal={"year": year})

    # Disbursements of money and goods.

    def request(
        self, *, case_id: str, program_id: str, amount: int | None, idempotency_key: str, reason: str,
        beneficiary: str | None, out_of_pocket: int | None, scope: str, by: str,
        items: list[dict[str, Any]] | None = None, delivered_on: date | None = None,
    ) -> tuple[Disbursement, bool]:
        """Request aid for a household: decided against the program's current rules, refused (NotEligible)
        with every check if it fails. Returns the disbursement and whether this call created it (False:
        the same key and body were requested before, maybe at this very moment)."""
        form = GOODS if items is not None else MONEY
        asked = fingerprint({"case_id": case_id, "program_id": program_id, "amount": amount, "reason": reason,
                             "beneficiary": beneficiary, "out_of_pocket": out_of_pocket, "items": items,
                             "delivered_on": delivered_on, "by": by})
        aggregate_id = Disbursement.create_id(idempotency_key)
        for attempt in range(ATTEMPTS):
            # Decided and saved without first looking the key up (a read most requests do not need): a key
            # used before makes the save fail (its id exists) or the decision refuse (it holds the household's
            # festival, say), and only then is the first request looked for.
            try:
                with self.first_try(attempt == 0):
                    case = self._case(case_id, scope, cached=True)  # saved with the request: its version is checked
                program = self.program(program_id, scope)
                if (program.kind == "goods") != (form == GOODS):
                    raise IllegalTransition("goods programs deliver goods (POST /deliveries); the others pay money")
                disbursement = self._decided(idempotency_key, asked, case, program, Ask(
                    amount, out_of_pocket, beneficiary, case.held()), reason, beneficiary, form, items, delivered_on,
                    None, by)
                self._store(disbursement, case, index=[disbursement_put(disbursement), case_put(case)], retry=True)
                return disbursement, True
            except (NotEligible, IntegrityError) as problem:
                existing = self._find(Disbursement, aggregate_id)
                if existing is not None:
                    if existing.fingerprint != asked:
                        raise KeyReused(f"idempotency key {idempotency_key!r} was used for a different request "
                                        f"({existing.id})") from None
                    return existing, False
                if isinstance(problem, NotEligible) and attempt > 0:
                    raise
                # refused on the cached household (which may predate its filing): decide again on the stored
                # one; or another request of the household was saved meanwhile: decide again on what it left
        raise ConcurrentChange("the household's record kept changing; try again")

    def _decided(
        self, key: str, asked: str, case: AidCase, program: Program, ask: Ask, reason: str, beneficiary: str | None,
        form: str, items: list[dict[str, Any]] | None, delivered_on: date | None, batch_id: str | None, by: str,
    ) -> Disbursement:
        """A request decided on today's rules, held in the household's ledger; NotEligible if it fails."""
        decision = program.decide(case, self.today(), ask)
        funding = program.funding(case.federation)
        decision["checks"].append({"check": "budget", "passed": funding is not None,
                                   "detail": f"drawn on {funding}'s budget" if funding else
                                   f"no budget of this program at or above {case.federation}"})
        decision["passed"] = decision["passed"] and funding is not None
        disbursement = Disbursement.request(
            idempotency_key=key, fingerprint=asked, case=case, program=program, decision=decision, reason=reason,
            beneficiary=beneficiary, form=form, items=items,
            delivered_on=delivered_on.isoformat() if delivered_on else None, budget_federation=str(funding),
            batch_id=batch_id, by=by, on=self.today(),
        )
        case.hold(str(disbursement.id), str(program.id), disbursement.amount, beneficiary)
        return disbursement

    def deliver(
        self, *, case_id: str, program_id: str, items: list[dict[str, Any]], delivered_on: date,
        idempotency_key: str, reason: str, scope: str, by: str,
    ) -> tuple[Disbursement, bool]:
        """Goods (物资) for a household, counted against the program's budget by their value."""
        total = sum(fen(item["value"]) for item in items)
        listed = [{**item, "value": fen(item["value"]), "quantity": str(item["quantity"])} for item in items]
        return self.request(case_id=case_id, program_id=program_id, amount=total, idempotency_key=idempotency_key,
                            reason=reason, beneficiary=None, out_of_pocket=None, scope=scope, by=by, items=listed,
                            delivered_on=delivered_on)

    def approve(self, disbursement_id: str, scope: str, *, by: str) -> Disbursement:
        """Approve and reserve the amount from its budget in the same transaction (never below zero)."""
        def approved(d: Disbursement) -> None:
            d.approve(by, d.verifiers, self.today())
            budget = self._budget(Budget.create_id(d.program_id, d.budget_federation), cached=True)
            budget.reserve(d.amount, 1, str(d.id))  # all or nothing: the unit commits only if both succeed
            self._store(d, budget, index=[disbursement_put(d), budget_put(budget)])

        return self._on_budget(disbursement_id, scope, approved)

    def reject(self, disbursement_id: str, scope: str, *, reason: str, by: str) -> Disbursement:
        def rejected() -> Disbursement:
            d = self.disbursement(disbursement_id, scope)
            d.reject(reason, by, self.today())
            case = self._case(d.case_id)
            case.let_go(str(d.id))
            self._store(d, case, index=[disbursement_put(d), case_put(case)])
            return d

        return self._atomically(rejected)

    def pay(self, disbursement_id: str, scope: str, *, paid_on: date, bank_reference: str, by: str) -> Disbursement:
        """Paid (or, for goods, handed over): the reservation becomes spent money. Refused unless the case is
        filed on the payment day (or the program includes exited households)."""
        return self._on_budget(disbursement_id, scope, lambda d: self._pay(d, paid_on, bank_reference, by))

    def _on_budget(self, disbursement_id: str, scope: str, step: Callable[[Disbursement], None]) -> Disbursement:
        """Run a step that moves the disbursement's money in one transaction, one at a time per budget in this
        process (racing saves of one budget would only retry). Its first try works on the cached copy: the
        step saves the disbursement, so a copy another process changed meanwhile is refused and read again."""
        with self.first_try():
            found = self.disbursement(disbursement_id, scope, cached=True)

        def stepped() -> Disbursement:
            d = self.disbursement(disbursement_id, scope, cached=True)
            step(d)
            return d

        with self._locks[Budget.create_id(found.program_id, found.budget_federation)]:
            return self._atomically(stepped)

    def _pay(self, d: Disbursement, paid_on: date, bank_reference: str, by: str) -> None:
        # A cached household will do: every change that makes it unpayable (an exit) also cancels its pending
        # disbursements, so a stale copy meets a refused save of `d`. A cached program will do if it has the
        # rule version `d` was decided on: versions never change once made.
        self._not_future(paid_on=paid_on)
        case = self._case(d.case_id, cached=True)
        version = d.decision["rule_version"]
        program: Program = self._get(Program, d.program_id, cached=True)
        if len(program.versions) < version:
            program = self._get(Program, d.program_id)
        rules = program.versions[version - 1]["eligibility"]
        eligible = case.filed_on_day(paid_on) or bool(rules.get("include_exited") and case.periods)
        d.pay(paid_on, bank_reference, by, eligible_that_day=eligible)
        budget = self._budget(Budget.create_id(d.program_id, d.budget_federation), cached=True)
        budget.spend(d.amount, 1, str(d.id))
        self._store(d, budget, index=[disbursement_put(d), budget_put(budget)])

    def fail(self, disbursement_id: str, scope: str, *, failed_on: date, reason: str, by: str) -> Disbursement:
        """The bank returned it: the reservation goes back to the budget, the household may be paid again."""
        self._not_future(failed_on=failed_on)
        return self._undo(disbursement_id, scope, lambda d: d.fail(failed_on, reason, by), FAILED)

    def reverse(self, disbursement_id: str, scope: str, *, reversed_on: date, reason: str, by: str) -> Disbursement:
        """Money recovered after payment: back to the budget."""
        self._not_future(reversed_on=reversed_on)
        return self._undo(disbursement_id, scope, lambda d: d.reverse(reversed_on, reason, by), "reversed")

    def confirm(
        self, disbursement_id: str, scope: str, *, confirmed_on: date, confirmed_by: str, by: str
    ) -> Disbursement:
        self._not_future(confirmed_on=confirmed_on)

        def confirmed() -> Disbursement:
            d = self.disbursement(disbursement_id, scope)
            d.confirm(confirmed_on, confirmed_by, by)
            self._store(d, index=[disbursement_put(d)])
            return d

        return self._atomically(confirmed)

    def _undo(self, disbursement_id: str, scope: str, step: Callable[[Disbursement], None], why: str) -> Disbursement:
        """A step that gives money back to the budget: a failure, a reversal, a cancellation."""
        return self._on_budget(disbursement_id, scope, lambda d: self._give_back(d, step, why))

    def _give_back(self, d: Disbursement, step: Callable[[Disbursement], None], why: str) -> None:
        before = d.state
        step(d)
        case = self._case(d.case_id, cached=True)
        case.let_go(str(d.id))
        changed: list[Aggregate] = [d, case]
        index: list[IndexOp] = [disbursement_put(d), case_put(case)]
        if before != REQUESTED:  # a requested one reserved nothing
            budget = self._budget(Budget.create_id(d.program_id, d.budget_federation), cached=True)
            if before == APPROVED:
                budget.release(d.amount, 1, str(d.id), why)
            else:
                budget.give_back(d.amount, str(d.id))
            changed.append(budget)
            index.append(budget_put(budget))
        self._store(*changed, index=index)

    def disbursement(self, disbursement_id: str, scope: str, *, cached: bool = False) -> Disbursement:
        d: Disbursement = self._get(Disbursement, disbursement_id, cached=cached)
        if not in_subtree(d.federation, scope):
            raise NotFound(f"no disbursement {disbursement_id}")
        return d

    def disbursements(
        self, scope: str, federation: str | None, state: str | None, program_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        root = federation or scope
        self._require_scope(root, scope)
        equal = {k: v for k, v in (("state", state), ("program_id", program_id)) if v}
        return self.select_rows(DISBURSEMENTS, equal=equal, subtree=("federation", root), limit=limit)

    # Batches.

    def create_batch(
        self, program_id: str, scope: str, *, federation: str, reason: str, idempotency_key: str, by: str
    ) -> tuple[Batch, bool]:
        """One request per eligible filed household of the subtree, every other one listed with the check it
        failed, in steps of `step` households (one transaction each, in case id order). The same key again
        returns the first batch, finishing its assembly first if it was interrupted; True if this call
        started it."""
        self._require_scope(federation, scope)
        aggregate_id = Batch.create_id(idempotency_key)
        started = False
        batch = self._find(Batch, aggregate_id)
        if batch is None:
            def start() -> Batch:
                program = self.program(program_id, scope)
                if program.terms["amount"] is None or program.kind == "goods":
                    raise IllegalTransition("a batch pays a fixed amount of money; this program has a rule or goods")
                if not in_subtree(federation, program.federation):
                    raise OutsideScope(f"the program belongs to {program.federation}, not above {federation}")
                fresh = Batch(idempotency_key, program_id, program.kind, federation, reason, program.rule_version,
                              program.terms["amount"], by, self.today().isoformat())
                self._store(fresh, index=[batch_put(fresh)])
                return fresh

            try:
                batch, started = self._atomically(start), True
            except ConcurrentChange:
                batch = self._find(Batch, aggregate_id)
                if batch is None:
                    raise
        self._same_batch(batch, program_id, federation, reason, idempotency_key)
        while not batch.assembled:
            batch = self._atomically(partial(self._assemble_step, aggregate_id, scope))
        return batch, started

    def _assemble_step(self, batch_id: UUID, scope: str) -> Batch:
        """The next `step` filed households of the batch's subtree: a request for each eligible one, the others
        excluded with the checks they failed; no household left: the batch is assembled."""
        batch: Batch = self._get(Batch, str(batch_id))
        if batch.assembled:
            return batch
        rows = self.select_rows(CASES, equal={"state": FILED}, subtree=("federation", batch.federation),
                                after=batch.through, limit=self.step)
        if not rows:
            batch.assemble()
            self._store(batch, index=[batch_put(batch)])
            return batch
        program = self.program(batch.program_id, scope)
        included: list[str] = []
        for row in rows:
            case = self._case(row["case_id"], cached=True)  # saved with its request
            try:
                d = self._decided(f"{batch.idempotency_key}\x1f{case.case_id}", "", case, program,
                                  Ask(None, None, None, case.held()), batch.reason, None, MONEY, None, None,
                                  str(batch_id), batch.by)
            except NotEligible as refused:
                batch.exclude(case.case_id, case.federation, refused.decision["checks"])
            else:
                included.append(str(d.id))
                self._store(d, case, index=[disbursement_put(d), case_put(case)])
        batch.include(included, through=rows[-1]["case_id"])
        self._store(batch, index=[batch_put(batch)])
        return batch

    @staticmethod
    def _same_batch(batch: Batch, program_id: str, federation: str, reason: str, key: str) -> Batch:
        if (batch.program_id, batch.federation, batch.reason) != (program_id, federation, reason):
            raise KeyReused(f"idempotency key {key!r} was used for a different batch ({batch.id})")
        return batch

    def batches(
        self, scope: str, federation: str | None, program_id: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the batches made for the subtree (default: the caller's) and under it, newest first, with
        how many there are in all."""
        root = federation or scope
        self._require_scope(root, scope)
        return self.page_rows(BATCHES, newest="started_at", offset=offset, limit=limit,
                              equal={"program_id": program_id} if program_id else {}, subtree=("federation", root))

    def batch(self, batch_id: str, scope: str) -> Batch:
        batch: Batch = self._get(Batch, batch_id)
        if not in_subtree(batch.federation, scope):
            raise NotFound(f"no batch {batch_id}")
        return batch

    def approve_batch(self, batch_id: str, scope: str, *, by: str) -> Batch:
        """All or nothing: every still-requested disbursement of the batch is approved and reserved, or,
        if any budget it draws on has too little left, none is (BudgetExhausted says how much is missing).

        The decision and the reservation of the whole amount are one transaction; the requests are then
        approved `step` at a time. Interrupted, the same approval again (by any approver) goes on."""
        batch = self.batch(batch_id, scope)
        if batch.approval is None:
            def decided() -> Batch:
                b = self.batch(batch_id, scope)
                b.check_approver(by)  # before any budget is read: the reason a creator is refused is who they are
                # Cached copies will do: a request that left the requested state never returns to it (one
                # that left it meanwhile gives its share back when the approval reaches it), and who verified
                # the household never changes.
                pending = [d for d in (self._get(Disbursement, i, cached=True) for i in b.disbursements)
                           if d.state == REQUESTED]
                verified = [d.case_id for d in pending if by in d.verifiers]
                if verified:
                    raise SeparationOfDuties(f"{by} verified {len(verified)} of the batch's cases "
                                             f"({', '.join(verified[:5])}); another approver must approve it")
                totals = shares(pending)
                budgets = []
                for federation, (total, count) in totals.items():
                    budget = self._budget(Budget.create_id(b.program_id, federation))
                    if total > budget.remaining:
                        raise BudgetExhausted(f"the batch needs {yuan(total)} from {federation}, which has "
                                              f"{yuan(budget.remaining)} left: nothing was approved")
                    budget.reserve(total, count, str(b.id))
                    budgets.append(budget)
                b.approve(by, self.today(), [str(d.id) for d in pending], sum(t for t, _ in totals.values()))
                self._store(b, *budgets, index=[batch_put(b), *(budget_put(x) for x in budgets)])
                return b

            batch = self._atomically(decided)
        elif batch.approved:
            batch.check_approver(by)  # already approved: say so
        while not batch.approved:
            batch = self._atomically(partial(self._approval_step, batch_id, scope))
        return batch

    def _approval_step(self, batch_id: str, scope: str) -> Batch:
        """Approve the next `step` requests the batch's approval decided; one that is no longer requested
        (cancelled by an exit, or approved on its own) gives its share of the reservation back."""
        batch = self.batch(batch_id, scope)
        assert batch.approval is not None
        by, on = batch.approval["by"], date.fromisoformat(batch.approval["on"])
        approved, gone = 0, []
        for did in batch.applying[:self.step]:
            d: Disbursement = self._get(Disbursement, did, cached=True)  # saved, or no longer requested
            if d.state == REQUESTED:
                d.approve(by, [], on)
                self._store(d, index=[disbursement_put(d)])
                approved += 1
            else:
                gone.append(d)
        budgets = []
        for federation, (total, count) in shares(gone).items():
            budget = self._budget(Budget.create_id(batch.program_id, federation))
            budget.release(total, count, str(batch.id), "no longer requested when the batch's approval reached it")
            budgets.append(budget)
        batch.apply(approved, len(gone))
        self._store(batch, *budgets, index=[batch_put(batch), *(budget_put(budget) for budget in budgets)])
        return batch

    def bank_file(self, batch_id: str, scope: str) -> list[dict[str, Any]]:
        """The approved, unpaid disbursements of a batch with the name and masked account to pay."""
        batch = self.batch(batch_id, scope)
        if not batch.approved:
            raise IllegalTransition("the bank file comes after the batch's approval is complete")
        rows = [r for r in self.select_rows(DISBURSEMENTS, equal={"batch_id": str(batch.id)}) if r["state"] == APPROVED]
        cases = {r["case_id"]: r for r in self.select_rows(CASES, keys=[r["case_id"] for r in rows])} if rows else {}
        return [{"disbursement_id": r["disbursement_id"], "name": cases[r["case_id"]]["name"],
                 "account": cases[r["case_id"]]["account"], "amount": yuan(int(r["amount"]))} for r in rows]

    def apply_bank_results(self, batch_id: str, scope: str, lines: list[dict[str, Any]], digest: str, *,
                           by: str, unread: int = 0) -> dict[str, Any]:
        """Apply a bank's result file line by line: paid with its reference, or failed with its reason, `step`
        lines to a transaction. A line already applied (the same outcome) changes nothing, so the same file
        twice is harmless, and a file whose import was interrupted is sent again to finish it. `unread`: the
        file's lines refused before they got here (counted as refused in the batch's record)."""
        batch = self.batch(batch_id, scope)
        if not batch.approved:
            raise IllegalTransition("bank results come after the batch's approval is complete")
        members = set(batch.disbursements)
        report: list[dict[str, Any]] = []
        counts = {"paid": 0, "failed": 0, "refused": 0, "unchanged": 0}

        def applied(part: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [self._bank_line(line, members, by) for line in part]

        for first in range(0, len(lines), self.step):
            for outcome in self._atomically(partial(applied, lines[first:first + self.step])):
                counts[outcome["outcome"]] += 1
                report.append(outcome)
        if counts["paid"] or counts["failed"]:
            def recorded() -> None:
                b = self.batch(batch_id, scope)
                b.record_results(digest, counts["paid"], counts["failed"], counts["refused"] + unread, by)
                self._store(b, index=[batch_put(b)])

            self._atomically(recorded)
        return {"batch_id": str(batch.id), **counts, "lines": report}

    def _bank_line(self, line: dict[str, Any], members: set[str], by: str) -> dict[str, Any]:
        number, did = line["line"], line["disbursement_id"]
        if did not in members:
            return {"line": number, "disbursement_id": did, "outcome": "refused", "reason": "not in this batch"}
        d: Disbursement = self._get(Disbursement, did, cached=True)  # saved if anything changes
        wanted = PAID if line["result"] == "paid" else FAILED
        if d.state == wanted or (wanted == PAID and d.state in ("confirmed", "reversed")):
            return {"line": number, "disbursement_id": did, "outcome": "unchanged", "reason": f"already {d.state}"}
        if d.state != APPROVED:
            return {"line": number, "disbursement_id": did, "outcome": "refused",
                    "reason": f"the disbursement is {d.state}"}
        try:
            if wanted == PAID:
                self._pay(d, line["date"], line["bank_reference"], by)
            else:
                self._give_back(d, lambda x: x.fail(line["date"], line["reason"], by), FAILED)
        except (IllegalTransition, InvalidValue, NotFiledOnDay) as problem:
            return {"line": number, "disbursement_id": did, "outcome": "refused", "reason": str(problem)}
        return {"line": number, "disbursement_id": did, "outcome": wanted, "reason": None}

    # Job referrals and trainings.

    def refer(
        self, *, case_id: str, person: str, employer: str, position: str, wage_offered: int | None,
        referred_on: date, scope: str, by: str,
    ) -> Referral:
        self._not_future(referred_on=referred_on)
        case = self._case(case_id, scope)
        referral = Referral.make(case, self._person(case, person), employer, position, wage_offered, referred_on, by)
        self._store(referral, index=[referral_put(referral)])
        return referral

    def record_outcome(
        self, referral_id: str, scope: str, *, outcome: str, monthly_wage: int | None, recorded_on: date, by: str
    ) -> Referral:
        self._not_future(recorded_on=recorded_on)

        def recorded() -> Referral:
            referral = self.referral(referral_id, scope)
            referral.record(outcome, monthly_wage, recorded_on, by)
            self._store(referral, index=[referral_put(referral)])
            return referral

        return self._atomically(recorded)

    def referral(self, referral_id: str, scope: str) -> Referral:
        referral: Referral = self._get(Referral, referral_id)
        if not in_subtree(referral.federation, scope):
            raise NotFound(f"no referral {referral_id}")
        return referral

    def create_training(
        self, *, course: str, provider: str, federation: str, starts_on: date, ends_on: date, scope: str, by: str
    ) -> Training:
        self._require_scope(federation, scope)
        training = Training.create(course, provider, federation, starts_on, ends_on, by)
        self._store(training, index=[training_put(training)])
        return training

    def training(self, training_id: str, scope: str) -> Training:
        training: Training = self._get(Training, training_id)
        if not (in_subtree(training.federation, scope) or in_subtree(scope, training.federation)):
            raise NotFound(f"no training {training_id}")
        return training

    def enrol(self, training_id: str, scope: str, *, case_id: str, person: str, enrolled_on: date, by: str) -> Training:
        self._not_future(enrolled_on=enrolled_on)

        def enrolled() -> Training:
            training = self.training(training_id, scope)
            case = self._case(case_id, scope)
            who = self._person(case, person)
            training.enrol(case, who, enrolled_on, by)
            self._store(training, index=[enrolment_put(training, case_id, who)])
            return training

        return self._atomically(enrolled)

    def complete(
        self, training_id: str, scope: str, *, case_id: str, person: str, completed_on: date, certificate: str, by: str
    ) -> Training:
        self._not_future(completed_on=completed_on)

        def completed() -> Training:
            training = self.training(training_id, scope)
            who = self._person(self._case(case_id, scope), person)
            training.complete(case_id, who, completed_on, certificate, by)
            self._store(training, index=[enrolment_put(training, case_id, who)])
            return training

        return self._atomically(completed)

    def drop_out(
        self, training_id: str, scope: str, *, case_id: str, person: str, dropped_on: date, reason: str, by: str
    ) -> Training:
        self._not_future(dropped_on=dropped_on)

        def dropped() -> Training:
            training = self.training(training_id, scope)
            who = self._person(self._case(case_id, scope), person)
            training.drop_out(case_id, who, dropped_on, reason, by)
            self._store(training, index=[enrolment_put(training, case_id, who)])
            return training

        return self._atomically(dropped)

    @staticmethod
    def _person(case: AidCase, person: str) -> str:
        """`worker` or a member's digest, as the digest it is."""
        return str(case.worker.get("id_digest")) if person == WORKER else person

    # Reports.

    def reconciliation(self, scope: str, federation: str | None, year: int | None,
                       program_id: str | None) -> dict[str, Any]:
        root = federation or scope
        self._require_scope(root, scope)
        equal = {k: v for k, v in (("year", str(year) if year else None), ("program_id", program_id)) if v}
        budgets = self.select_rows(BUDGETS, equal=equal, subtree=("federation", root))
        requested = [r for r in self.select_rows(DISBURSEMENTS, equal={"state": REQUESTED, **equal},
                                                 subtree=("budget_federation", root))]
        return {"federation": root, **reports.reconciliation(budgets, requested)}

    def case_aid(self, case_id: str, scope: str) -> dict[str, Any]:
        case = self._case(case_id, scope)
        enrolments = self.select_rows(ENROLMENTS, equal={"case_id": case_id})
        courses = sorted({e["training_id"] for e in enrolments})  # only the courses the household is in
        return reports.case_aid(
            case, [self._get(Disbursement, r["disbursement_id"])
                   for r in self.select_rows(DISBURSEMENTS, equal={"case_id": case_id})],
            [self._get(Referral, r["referral_id"]) for r in self.select_rows(REFERRALS, equal={"case_id": case_id})],
            enrolments, {r["training_id"]: r for r in self.select_rows(TRAININGS, keys=courses)} if courses else {},
        )

    def aid_stats(self, scope: str, federation: str | None, year: int) -> dict[str, Any]:
        root = federation or scope
        self._require_scope(root, scope)
        subtree = ("federation", root)
        return {"federation": root, "year": year, **reports.aid_stats(
            self.select_rows(DISBURSEMENTS, subtree=subtree), self.select_rows(REFERRALS, subtree=subtree),
            self.select_rows(ENROLMENTS, subtree=subtree), year)}

    # The case as intake reports it.

    def apply_intake_event(self, envelope: Envelope) -> bool:
        """Apply one of intake's events with its named command; False for a resend of one already applied.

        An event about a case aid never heard of, or out of order for it, is refused with the reason.
        """
        existing = self._find(AidCase, AidCase.create_id(envelope.case_id))
        if existing is not None and existing.has_seen(envelope.event_id):
            return False
        kind, p, event_id = envelope.type, envelope.payload, envelope.event_id
        first = [existing]  # the case just read serves the first attempt; a retry reads it again

        def applied() -> None:
            case = first.pop() if first else self._find(AidCase, AidCase.create_id(envelope.case_id))
            if kind == "CaseOpened":
                if case is not None:
                    raise IllegalTransition(f"case {envelope.case_id} is already known to aid")
                self.case_opened(envelope.case_id, envelope.federation, p, event_id)
            elif kind not in IGNORED_INTAKE_EVENTS:
                if case is None:
                    raise NotFound(f"no case {envelope.case_id}")
                self._change(case, kind, p, event_id)

        try:
            self._atomically(applied)
        except (NotFound, IllegalTransition) as problem:
            raise EventRefused(f"{kind} of case {envelope.case_id}: {problem}") from None
        return True

    def case_opened(self, case_id: str, federation: str, p: dict[str, Any], event_id: str | None) -> AidCase:
        """A case aid has not seen yet (apply_intake_event checks): its view, filed at once if imported filed."""
        worker = workers(p["worker"])
        members = [people(m) for m in p["household"]["members"]]
        case = AidCase(case_id, federation, p["category"], sorted(set(p["causes"])), worker, members, event_id)
        if p.get("imported"):
            case.file(_day(p["imported"]["filed_on"]), None)
        self._store(case, index=[case_put(case)])
        return case

    def _change(self, case: AidCase, kind: str, p: dict[str, Any], event_id: str | None) -> None:
        if kind == "CaseVerified":
            case.verify([p["by"], *p["visitors"]], event_id)
        elif kind == "CaseFiled":
            case.file(_day(p["filed_on"]), event_id)
        elif kind == "CaseRefiled":
            case.file(_day(p["refiled_on"]), event_id)
        elif kind in ("CaseRejected", "CaseWithdrawn"):
            case.close(f"{kind[4:].lower()}: {p['reason']}", event_id)
        elif kind == "CaseExited":
            case.exit(_day(p["exited_on"]), p["reason"], event_id)
        elif kind == "CaseAmended":
            case.amend(amended(p["changes"]), event_id)
        else:
            raise EventRefused(f"aid has no command for intake event {kind}")
        self._store(case, index=[case_put(case)])
        if kind == "CaseExited":  # stored first, so that the cancellations load this very case
            self._cancel_pending(case, _day(p["exited_on"]), f"the case exited on {p['exited_on']}: {p['reason']}")

    def _cancel_pending(self, case: AidCase, on: date, reason: str) -> None:
        """Every requested or approved, unpaid disbursement of the case is cancelled, its reservation released."""
        for row in self.select_rows(DISBURSEMENTS, equal={"case_id": case.case_id}):
            d: Disbursement = self._get(Disbursement, row["disbursement_id"])
            if d.state in PENDING:
                self._give_back(d, lambda x: x.cancel(reason, on, SYSTEM), "cancelled")

    # Loading and saving.

    def _case(self, case_id: str, scope: str | None = None, *, cached: bool = False) -> AidCase:
        case = self._find(AidCase, AidCase.create_id(case_id), cached=cached)
        if case is None or (scope is not None and not in_subtree(case.federation, scope)):
            raise NotFound(f"no case {case_id}")
        return case

    def _budget(self, budget_id: UUID, *, cached: bool = False) -> Budget:
        budget = self._find(Budget, budget_id, cached=cached)
        if budget is None:
            raise NotFound("the budget this disbursement draws on is gone")
        return budget

    def _find(self, kind: type[T], aggregate_id: UUID, *, cached: bool = False) -> T | None:
        """The aggregate, or None; `cached`: see IndexedApplication.load."""
        try:
            found = self.load(aggregate_id, cached=cached)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def _get(self, kind: type[T], aggregate_id: str, *, cached: bool = False) -> T:
        try:
            found = self._find(kind, UUID(aggregate_id), cached=cached)
        except ValueError:
            found = None
        if found is None:
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}")
        return found

    def _not_future(self, **days: date) -> None:
        """A date of something done (paid, confirmed, referred…) is at most tomorrow: a day for clocks and time
        zones, as intake allows (InvalidValue, 400, naming the field)."""
        latest = self.today() + timedelta(days=1)
        for name, day in days.items():
            if day > latest:
                raise InvalidValue((name,), f"{day.isoformat()} is in the future; the latest date accepted is {latest}")

    @staticmethod
    def _require_scope(federation: str, scope: str) -> None:
        if not in_subtree(federation, scope):
            raise OutsideScope(f"{federation} is outside the caller's federation {scope}")

    def _atomically(self, command: Callable[[], T]) -> T:
        """All a command records in one transaction (IndexedApplication.atomically), run again on fresh records
        when another save changed one of its aggregates meanwhile."""
        try:
            return self.atomically(command, retry_on=(IntegrityError,), attempts=ATTEMPTS)
        except IntegrityError:
            raise ConcurrentChange("the records changed while this request ran; try again") from None

    def _store(self, *aggregates: Aggregate, index: list[IndexOp], retry: bool = False) -> None:
        """Save (into the running unit of work, if any); a lost race is ConcurrentChange, or IntegrityError
        itself where the caller retries (`retry`)."""
        try:
            self.record(*aggregates, index=index)
        except IntegrityError:
            if retry:
                raise
            raise ConcurrentChange("the record changed while this request ran; reload it and try again") from None


def shares(disbursements: Iterable[Disbursement]) -> dict[str, tuple[int, int]]:
    """Per budget (the federation it draws on), in federation order: the disbursements' amount and count."""
    totals: dict[str, tuple[int, int]] = {}
    for d in disbursements:
        amount, count = totals.get(d.budget_federation, (0, 0))
        totals[d.budget_federation] = (amount + d.amount, count + 1)
    return dict(sorted(totals.items()))


def workers(worker: dict[str, Any]) -> dict[str, Any]:
    """The worker as aid keeps them: the name (for the bank file), the masked ID number and the digest."""
    return {k: worker[k] for k in ("name", "id_number_masked", "id_digest")}


def people(member: dict[str, Any]) -> dict[str, Any]:
    """A household member as aid keeps them: relation, age, schooling, masked id and digest (no name)."""
    return {k: member.get(k) for k in ("relation", "age", "schooling", "id_number_masked", "id_digest")}


def amended(changes: dict[str, Any]) -> dict[str, Any]:
    """An amendment's sections as AidCase attributes."""
    found: dict[str, Any] = {}
    if "category" in changes:
        found["category"] = changes["category"]
    if "causes" in changes:
        found["causes"] = sorted(set(changes["causes"]))
    if "worker" in changes:
        found["worker"] = workers(changes["worker"])
    if "household" in changes:
        found["members"] = [people(m) for m in changes["household"]["members"]]
    return found


def _day(text: str | date) -> date:
    return text if isinstance(text, date) else date.fromisoformat(text)
