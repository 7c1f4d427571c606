"""Aid's aggregates: programs with versioned rules, budgets down the federation tree, each household's view
and ledger, disbursements of money and goods, batches, job referrals and trainings. No I/O, no clock.

Commands check every rule and raise named errors before recording anything; the methods that apply
recorded events check nothing, so a rule changed later never stops an old aggregate from loading. Money
is integer fen in every event and every attribute (services/aid/money.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.aid.money import share_of, yuan
from services.contracts.federation import ancestry, in_subtree, is_federation_code

KINDS = ("festival", "education", "medical", "mutual_insurance", "living", "emergency", "startup", "goods")
FESTIVALS = ("new_year", "spring_festival", "mid_autumn", "national_day")
# The kinds of help the yearly report counts people and households by (思茅's table).
HELP_KINDS = ("medical", "schooling", "employment", "housing", "social_assistance")
DEFAULT_HELP = {
    "festival": "social_assistance", "education": "schooling", "medical": "medical", "mutual_insurance": "medical",
    "living": "social_assistance", "emergency": "social_assistance", "startup": "employment",
    "goods": "social_assistance",
}
CATEGORIES = ("subsistence", "marginal", "accident")  # as intake's
CAUSES = ("illness", "disability", "education", "disaster", "accident", "unemployment", "low_income", "other")

# A household as intake reports it.
OPEN, FILED, EXITED, CLOSED = "open", "filed", "exited", "closed"
# A disbursement of money or goods.
REQUESTED, APPROVED, REJECTED, PAID, CONFIRMED = "requested", "approved", "rejected", "paid", "confirmed"
FAILED, REVERSED, CANCELLED = "failed", "reversed", "cancelled"
DISBURSEMENT_STATES = (REQUESTED, APPROVED, REJECTED, PAID, CONFIRMED, FAILED, REVERSED, CANCELLED)
PENDING = (REQUESTED, APPROVED)  # cancelled when the case exits
HELD = (REQUESTED, APPROVED, PAID, CONFIRMED)  # counts against caps and once-only rules
MONEY, GOODS = "money", "goods"
# Referrals and trainings.
WORKER = "worker"  # `person`: the worker the case is about, rather than a member's digest
INTERVIEWED, HIRED, NOT_HIRED = "interviewed", "hired", "not_hired"
OUTCOMES = (INTERVIEWED, HIRED, NOT_HIRED)
ENROLLED, COMPLETED, DROPPED = "enrolled", "completed", "dropped_out"

NS = uuid5(NAMESPACE_URL, "urn:relief:aid")


def scoped_id(*parts: str) -> UUID:
    """A stable id from names: the same idempotency key (or program and federation) is the same aggregate."""
    return uuid5(NS, "\x1f".join(parts))


class InvalidValue(Exception):
    """A value breaks a rule of a program, a request or a record; `fields` names the field."""

    def __init__(self, path: tuple[str, ...], problem: str):
        super().__init__(f"{'.'.join(path)}: {problem}")
        self.path, self.problem = path, problem
        self.fields = {path[-1]: [problem]}


class IllegalTransition(Exception):
    """The disbursement, batch, referral or enrolment is not in a state where this step may happen."""


class NotEligible(Exception):
    """The household fails the program's eligibility: `decision` holds every check, passed or failed."""

    def __init__(self, decision: dict[str, Any]):
        failed = [c for c in decision["checks"] if not c["passed"]]
        super().__init__("; ".join(f"{c['check']}: {c['detail']}" for c in failed) or "not eligible")
        self.decision = decision
        self.details = {"rule_version": decision["rule_version"], "checks": failed}  # in the 409's body


class SeparationOfDuties(Exception):
    """An approver may not approve their own request, nor a request for a case they verified."""


class BudgetExhausted(Exception):
    """The budget has less left than the amount: nothing is reserved."""


class NotFiledOnDay(Exception):
    """The case is not filed on the day of the payment."""


class CheapCopy:
    """An aggregate that the application's cache hands out as a copy (every load deep-copies the cached one).

    Attributes are either replaced whole when they change, so a copy may share them, or named in `copied`:
    containers changed in place (appended to, added to), copied one level deep. Every event method keeps
    to this, so a copy costs a dict copy instead of `copy.deepcopy` walking every step and check.
    """

    copied: ClassVar[tuple[str, ...]] = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        twin = object.__new__(type(self))
        state = dict(self.__dict__)
        state["_pending_events"] = list(state.get("_pending_events", ()))
        for name in self.copied:
            state[name] = state[name].copy()
        twin.__dict__.update(state)
        return twin


def require(condition: bool, path: str, problem: str) -> None:
    if not condition:
        raise InvalidValue((path,), problem)


# Programs.


@dataclass(frozen=True)
class Check:
    check: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


@dataclass
class Ask:
    """What a request asks of a program: the amount (None: the program's), the cost a share rule needs,
    the member it is for, and the household's holdings of this program (other requests, in fen)."""

    amount: int | None
    out_of_pocket: int | None = None
    beneficiary: str | None = None
    held: list[dict[str, Any]] = field(default_factory=list)


def checked_terms(kind: str, terms: dict[str, Any]) -> dict[str, Any]:
    """A program's terms as stored: exactly one of a fixed `amount` (fen) and a `rule`, and its eligibility."""
    amount, rule = terms.get("amount"), terms.get("rule")
    require((amount is None) != (rule is None), "amount", "give either a fixed amount or a rule, not both")
    if amount is not None:
        require(amount > 0, "amount", "must be greater than 0")
    if rule is not None:
        if "share" in rule:
            require(set(rule) == {"share", "cap"}, "rule", "a share rule has exactly share and cap")
            require(rule["cap"] > 0, "cap", "must be greater than 0")
        else:
            require(set(rule) == {"max"} and rule["max"] > 0, "rule", 'a rule is {"share", "cap"} or {"max"}')
    eligibility = dict(terms.get("eligibility") or {})
    low, high = eligibility.get("min_members"), eligibility.get("max_members")
    if low is not None and high is not None:
        require(low <= high, "max_members", "must not be below min_members")
    if eligibility.get("household_cap") is not None:
        require(eligibility["household_cap"] > 0, "household_cap", "must be greater than 0")
    if kind == "goods":
        require(amount is None or amount > 0, "amount", "goods programs count goods by value")
    return {"amount": amount, "rule": rule, "eligibility": eligibility}


class Program(CheapCopy, Aggregate):
    """An aid program of one year (送温暖 for a festival, 金秋助学, medical aid…); its terms are versioned."""

    copied = ("versions", "budgets")

    @classmethod
    def create(
        cls, name: str, kind: str, year: int, federation: str, festival: str | None, help_kind: str | None,
        terms: dict[str, Any], by: str,
    ) -> Program:
        require(kind in KINDS, "kind", f"must be one of {', '.join(KINDS)}")
        require(is_federation_code(federation), "federation", "must be a federation code like gs")
        if kind == "festival":
            require(festival in FESTIVALS, "festival", f"a festival program names one of {', '.join(FESTIVALS)}")
        else:
            require(festival is None, "festival", "only a festival program names a festival")
        require(help_kind is None or help_kind in HELP_KINDS, "help", f"must be one of {', '.join(HELP_KINDS)}")
        return cls(name.strip(), kind, year, federation, festival, help_kind or DEFAULT_HELP[kind],
                   checked_terms(kind, terms), by)

    @event("Created")
    def __init__(
        self, name: str, kind: str, year: int, federation: str, festival: str | None, help_kind: str,
        terms: dict[str, Any], by: str,
    ) -> None:
        self.name, self.kind, self.year, self.federation = name, kind, year, federation
        self.festival, self.help_kind, self.by = festival, help_kind, by
        self.versions: list[dict[str, Any]] = [terms]
        self.budgets: list[str] = []  # the federations that hold a budget of it, so a request finds its own

    @property
    def rule_version(self) -> int:
        """The version of the terms (not the aggregate's own event version)."""
        return len(self.versions)

    @property
    def terms(self) -> dict[str, Any]:
        return self.versions[-1]

    def revise(self, terms: dict[str, Any], reason: str, by: str) -> None:
        """New terms make a new version; decisions already made keep the version they used."""
        checked = checked_terms(self.kind, terms)
        if checked == self.terms:
            raise IllegalTransition(f"the new terms are the same as version {self.rule_version}")
        self._revised(self.rule_version + 1, checked, reason, by, federation=self.federation)

    def note_budget(self, federation: str) -> None:
        """A budget of the program opened at `federation` (written with the budget's opening)."""
        if federation not in self.budgets:
            self._budget_opened(federation, federation=self.federation)

    @event("BudgetOpened")
    def _budget_opened(self, at: str, federation: str) -> None:
        self.budgets.append(at)

    def funding(self, federation: str) -> str | None:
        """The federation whose budget a case of `federation` draws on: its own, else the nearest above."""
        return next((f for f in ancestry(federation) if f in self.budgets), None)

    @event("Revised")
    def _revised(self, rule_version: int, terms: dict[str, Any], reason: str, by: str, federation: str) -> None:
        self.versions.append(terms)

    def decide(self, case: AidCase, on: date, ask: Ask) -> dict[str, Any]:
        """Every eligibility check of the current version for this household on `on`, with the amount.

        Returns `{"rule_version", "passed", "amount", "checks": [{"check", "passed", "detail"}]}`.
        """
        rules = self.terms["eligibility"]
        checks: list[Check] = []
        day = on.isoformat()
        if case.filed_on_day(on):
            checks.append(Check("state", True, f"filed on {day}"))
        elif rules.get("include_exited") and case.state == EXITED:
            exited_on = case.periods[-1]["exited_on"]
            checks.append(Check("state", True, f"exited on {exited_on}; the program includes exited households"))
        else:
            checks.append(Check("state", False, f"not filed on {day} (the case is {case.state})"))
        if rules.get("categories"):
            checks.append(Check("category", case.category in rules["categories"],
                                f"{case.category}; the program takes {', '.join(rules['categories'])}"))
        if rules.get("causes"):
            shared = sorted(set(case.causes) & set(rules["causes"]))
            checks.append(Check("causes", bool(shared), f"{', '.join(shared)}" if shared else
                                f"none of {', '.join(rules['causes'])}"))
        size = 1 + len(case.members)
        low, high = rules.get("min_members"), rules.get("max_members")
        if low is not None or high is not None:
            ok = (low is None or size >= low) and (high is None or size <= high)
            checks.append(Check("family_size", ok, f"{size} people; the program takes {low or 1} to {high or 'any'}"))
        amount = self._amount(ask, checks)
        held = [h for h in ask.held if h["program_id"] == str(self.id)]
        if ask.beneficiary is not None:
            checks.append(Check("beneficiary", case.has_person(ask.beneficiary),
                                "a member of the household" if case.has_person(ask.beneficiary) else
                                "not a member of this household"))
        if self.kind == "festival":
            checks.append(Check("once_per_festival", not held,
                                f"no earlier {self.festival} {self.year} aid" if not held else
                                f"already has {self.festival} {self.year} aid ({held[0]['disbursement_id']})"))
        if self.kind == "education":
            if ask.beneficiary is None:
                checks.append(Check("once_per_student", False, "an education grant names the student (beneficiary)"))
            else:
                same = [h for h in held if h["beneficiary"] == ask.beneficiary]
                checks.append(Check("once_per_student", not same,
                                    f"no earlier grant for this student in {self.year}" if not same else
                                    f"the student already has a {self.year} grant ({same[0]['disbursement_id']})"))
        cap = rules.get("household_cap")
        if cap is not None and amount is not None:
            total = sum(h["amount"] for h in held) + amount
            checks.append(Check("household_cap", total <= cap,
                                f"{yuan(total)} of at most {yuan(cap)} in {self.year}"))
        return {"rule_version": self.rule_version, "passed": all(c.passed for c in checks), "amount": amount,
                "checks": [c.as_dict() for c in checks]}

    def _amount(self, ask: Ask, checks: list[Check]) -> int | None:
        """The amount the terms give for this request, checked into `checks`; None if it cannot be given."""
        terms = self.terms
        if terms["amount"] is not None:
            fixed = terms["amount"]
            ok = ask.amount is None or ask.amount == fixed
            detail = f"{yuan(fixed)} fixed" + ("" if ok else f", not {yuan(ask.amount or 0)}")
            checks.append(Check("amount", ok, detail))
            return fixed
        rule = terms["rule"]
        if "max" in rule:
            if ask.amount is None:
                checks.append(Check("amount", False, f"name an amount up to {yuan(rule['max'])}"))
                return None
            detail = f"{yuan(ask.amount)} of at most {yuan(rule['max'])}"
            checks.append(Check("amount", ask.amount <= rule["max"], detail))
            return ask.amount
        if ask.out_of_pocket is None:
            checks.append(Check("amount", False, "a share rule needs the out_of_pocket cost"))
            return None
        given = min(rule["cap"], share_of(ask.out_of_pocket, rule["share"]))
        ok = ask.amount is None or ask.amount == given
        detail = f"{rule['share']} of {yuan(ask.out_of_pocket)} capped at {yuan(rule['cap'])} gives {yuan(given)}"
        checks.append(Check("amount", ok, detail if ok else f"{detail}, not {yuan(ask.amount or 0)}"))
        return given


# Budgets.


class Budget(CheapCopy, Aggregate):
    """One program's money at one federation: allocated to it, passed to its children, reserved, spent.

    `remaining` is what is neither passed down nor reserved nor spent; nothing ever takes it below zero.
    The state is six integers, whatever the number of disbursements, so a busy budget loads fast.
    """

    @staticmethod
    def create_id(program_id: str, federation: str) -> UUID:
        return scoped_id("budget", program_id, federation)

    @classmethod
    def open(cls, program: Program, federation: str) -> Budget:
        require(in_subtree(federation, program.federation), "federation",
                f"the program belongs to {program.federation}; budgets go at or under it")
        program.note_budget(federation)
        return cls(str(program.id), program.kind, program.year, federation)

    @event("Opened")
    def __init__(self, program_id: str, kind: str, year: int, federation: str) -> None:
        self.program_id, self.kind, self.year, self.federation = program_id, kind, year, federation
        self.amount = self.children = self.reserved = self.spent = self.failed = self.reversed = 0

    @property
    def remaining(self) -> int:
        return self.amount - self.children - self.reserved - self.spent

    def allocate(self, amount: int, by: str) -> int:
        """Make the budget `amount`; a reduction only from what is unallocated and unreserved. The change."""
        delta = amount - self.amount
        if delta == 0:
            raise IllegalTransition(f"the budget is already {yuan(amount)}")
        if delta < 0 and -delta > self.remaining:
            raise BudgetExhausted(f"can reduce by at most {yuan(self.remaining)} (what is neither allocated to "
                                  f"children nor reserved nor spent), not {yuan(-delta)}")
        self._allocated(amount, delta, by, program_id=self.program_id, federation=self.federation)
        return delta

    @event("Allocated")
    def _allocated(self, amount: int, delta: int, by: str, program_id: str, federation: str) -> None:
        self.amount = amount

    def pass_down(self, child: str, delta: int, by: str) -> None:
        """A child's allocation out of this budget's remainder (a negative delta comes back)."""
        if delta > self.remaining:
            raise BudgetExhausted(f"{self.federation} has {yuan(self.remaining)} left to allocate, not {yuan(delta)}")
        self._passed_down(child, delta, by, federation=self.federation)

    @event("PassedDown")
    def _passed_down(self, child: str, delta: int, by: str, federation: str) -> None:
        self.children += delta

    def reserve(self, amount: int, count: int, ref: str) -> None:
        if amount > self.remaining:
            raise BudgetExhausted(f"{self.federation} has {yuan(self.remaining)} left, not {yuan(amount)}")
        self._reserved(amount, count, ref, federation=self.federation)

    @event("Reserved")
    def _reserved(self, amount: int, count: int, ref: str, federation: str) -> None:
        self.reserved += amount

    def spend(self, amount: int, count: int, ref: str) -> None:
        """Reserved money paid out."""
        self._spent(amount, count, ref, federation=self.federation)

    @event("Spent")
    def _spent(self, amount: int, count: int, ref: str, federation: str) -> None:
        self.reserved -= amount
        self.spent += amount

    def release(self, amount: int, count: int, ref: str, why: str) -> None:
        """Reserved money back to the remainder: the bank returned it (failed) or the request was cancelled."""
        self._released(amount, count, ref, why, federation=self.federation)

    @event("Released")
    def _released(self, amount: int, count: int, ref: str, why: str, federation: str) -> None:
        self.reserved -= amount
        if why == FAILED:
            self.failed += amount

    def give_back(self, amount: int, ref: str) -> None:
        """Paid money recovered (reversed): back to the remainder."""
        self._returned(amount, ref, federation=self.federation)

    @event("Returned")
    def _returned(self, amount: int, ref: str, federation: str) -> None:
        self.spent -= amount
        self.reversed += amount


# A household as aid sees it, with the ledger of what it holds.


class AidCase(CheapCopy, Aggregate):
    """One case from intake's events (federation, state and dates, category, causes, people with masked ids
    and digests, who verified it) and the aid requests it holds, for caps and once-only rules."""

    copied = ("periods", "holdings", "event_ids")

    @staticmethod
    def create_id(case_id: str) -> UUID:
        return scoped_id("case", case_id)

    @event("Tracked")
    def __init__(
        self, case_id: str, federation: str, category: str, causes: list[str], worker: dict[str, Any],
        members: list[dict[str, Any]], event_id: str | None,
    ) -> None:
        self.case_id, self.federation, self.category, self.causes = case_id, federation, category, causes
        self.worker, self.members = worker, members
        self.state = OPEN
        self.periods: list[dict[str, Any]] = []  # {filed_on, exited_on}
        self.verifiers: list[str] = []
        self.holdings: dict[str, dict[str, Any]] = {}  # disbursement id -> {program_id, amount, beneficiary}
        self.event_ids: set[str] = {event_id} if event_id else set()

    def has_seen(self, event_id: str | None) -> bool:
        return event_id is not None and event_id in self.event_ids

    def has_person(self, digest: str) -> bool:
        return digest == self.worker.get("id_digest") or any(m.get("id_digest") == digest for m in self.members)

    def filed_on_day(self, day: date) -> bool:
        """Filed on `day`: a filing on or before it not followed by an exit on or before it."""
        text = day.isoformat()
        return any(p["filed_on"] <= text and (p["exited_on"] is None or p["exited_on"] > text) for p in self.periods)

    def held(self) -> list[dict[str, Any]]:
        return [{"disbursement_id": d, **h} for d, h in self.holdings.items()]

    def file(self, filed_on: date, event_id: str | None) -> None:
        if self.state not in (OPEN, EXITED):
            raise IllegalTransition(f"cannot file: the case is {self.state}")
        self._filed(filed_on.isoformat(), event_id, case_id=self.case_id, federation=self.federation)

    @event("Filed")
    def _filed(self, filed_on: str, event_id: str | None, case_id: str, federation: str) -> None:
        self.state = FILED
        self.periods.append({"filed_on": filed_on, "exited_on": None})
        self._saw(event_id)

    def exit(self, exited_on: date, reason: str, event_id: str | None) -> None:
        if self.state != FILED:
            raise IllegalTransition(f"cannot exit: the case is {self.state}")
        self._exited(exited_on.isoformat(), reason, event_id, case_id=self.case_id, federation=self.federation)

    @event("Exited")
    def _exited(self, exited_on: str, reason: str, event_id: str | None, case_id: str, federation: str) -> None:
        self.state = EXITED
        self.periods[-1] = {**self.periods[-1], "exited_on": exited_on}  # replaced, never changed in place
        self._saw(event_id)

    def close(self, reason: str, event_id: str | None) -> None:
        if self.state != OPEN:
            raise IllegalTransition(f"cannot close: the case is {self.state}")
        self._closed(reason, event_id, case_id=self.case_id, federation=self.federation)

    @event("Closed")
    def _closed(self, reason: str, event_id: str | None, case_id: str, federation: str) -> None:
        self.state = CLOSED
        self._saw(event_id)

    def verify(self, verifiers: list[str], event_id: str | None) -> None:
        self._verified(sorted(set(verifiers)), event_id, case_id=self.case_id, federation=self.federation)

    @event("Verified")
    def _verified(self, verifiers: list[str], event_id: str | None, case_id: str, federation: str) -> None:
        self.verifiers = sorted(set(self.verifiers) | set(verifiers))
        self._saw(event_id)

    def amend(self, changes: dict[str, Any], event_id: str | None) -> None:
        """New category, causes, worker or household members (a name, a new child)."""
        self._amended(changes, event_id, case_id=self.case_id, federation=self.federation)

    @event("Amended")
    def _amended(self, changes: dict[str, Any], event_id: str | None, case_id: str, federation: str) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self._saw(event_id)

    def hold(self, disbursement_id: str, program_id: str, amount: int, beneficiary: str | None) -> None:
        """A request counts against the household's caps from now on (until rejected, failed, cancelled or
        reversed): written with the request, so two requests at once cannot both pass a cap."""
        self._held(disbursement_id, program_id, amount, beneficiary, case_id=self.case_id,
                   federation=self.federation)

    @event("Held")
    def _held(
        self, disbursement_id: str, program_id: str, amount: int, beneficiary: str | None, case_id: str,
        federation: str,
    ) -> None:
        self.holdings[disbursement_id] = {"program_id": program_id, "amount": amount, "beneficiary": beneficiary}

    def let_go(self, disbursement_id: str) -> None:
        if disbursement_id in self.holdings:
            self._let_go(disbursement_id, case_id=self.case_id, federation=self.federation)

    @event("LetGo")
    def _let_go(self, disbursement_id: str, case_id: str, federation: str) -> None:
        self.holdings.pop(disbursement_id, None)

    def _saw(self, event_id: str | None) -> None:
        if event_id:
            self.event_ids.add(event_id)


# Disbursements of money and goods.


class Disbursement(CheapCopy, Aggregate):
    """One payment (or one delivery of goods) to a household: requested → approved → paid → confirmed,
    or rejected, failed (the bank returned it), reversed (recovered after payment) or cancelled (exit).

    Its id comes from the idempotency key, so the same key can only ever be one disbursement.
    """

    copied = ("steps",)

    @staticmethod
    def create_id(idempotency_key: str) -> UUID:
        return scoped_id("disbursement", idempotency_key)

    @classmethod
    def request(
        cls, *, idempotency_key: str, fingerprint: str, case: AidCase, program: Program, decision: dict[str, Any],
        reason: str, beneficiary: str | None, form: str, items: list[dict[str, Any]] | None,
        delivered_on: str | None, budget_federation: str, batch_id: str | None, by: str, on: date,
    ) -> Disbursement:
        if not decision["passed"]:
            raise NotEligible(decision)
        return cls(
            idempotency_key, fingerprint, case.case_id, case.federation, str(program.id), program.kind,
            program.help_kind, program.year, decision["amount"], decision, reason, beneficiary, form, items,
            delivered_on, budget_federation, batch_id, by, on.isoformat(), case.verifiers,
        )

    @event("Requested")
    def __init__(
        self, idempotency_key: str, fingerprint: str, case_id: str, federation: str, program_id: str, kind: str,
        help_kind: str, year: int, amount: int, decision: dict[str, Any], reason: str, beneficiary: str | None,
        form: str, items: list[dict[str, Any]] | None, delivered_on: str | None, budget_federation: str,
        batch_id: str | None, by: str, requested_on: str, verifiers: list[str],
    ) -> None:
        self.idempotency_key, self.fingerprint = idempotency_key, fingerprint
        self.case_id, self.federation, self.program_id, self.kind = case_id, federation, program_id, kind
        self.help_kind, self.year, self.amount, self.decision = help_kind, year, amount, decision
        self.reason, self.beneficiary, self.form, self.items = reason, beneficiary, form, items
        self.delivered_on, self.budget_federation, self.batch_id = delivered_on, budget_federation, batch_id
        self.requested_by, self.requested_on = by, requested_on
        # Who verified the household when it was asked for (verification comes before filing, so it stays
        # the same): the approver is checked against it without loading the case again.
        self.verifiers = verifiers
        self.state = REQUESTED
        self.steps: list[dict[str, Any]] = [{"state": REQUESTED, "on": requested_on, "by": by, "reason": reason}]
        self.bank_reference: str | None = None

    def check_approver(self, by: str, verifiers: list[str]) -> None:
        """Separation of duties: never the requester, never one who verified the household."""
        if by == self.requested_by:
            raise SeparationOfDuties(f"{by} requested this disbursement and cannot approve it")
        if by in verifiers:
            raise SeparationOfDuties(f"{by} verified case {self.case_id} and cannot approve aid for it")

    def approve(self, by: str, verifiers: list[str], on: date) -> None:
        self._require(REQUESTED, "approve")
        self.check_approver(by, verifiers)
        self._step(APPROVED, on, by, None)

    def reject(self, reason: str, by: str, on: date) -> None:
        self._require(REQUESTED, "reject")
        self._step(REJECTED, on, by, reason)

    def pay(self, paid_on: date, bank_reference: str, by: str, *, eligible_that_day: bool) -> None:
        """Paid by the bank (for goods: handed over, with the delivery note's reference)."""
        self._require(APPROVED, "pay")
        if paid_on.isoformat() < self.steps[-1]["on"]:
            raise InvalidValue(("paid_on",), f"before the approval of {self.steps[-1]['on']}")
        if not eligible_that_day:
            raise NotFiledOnDay(f"case {self.case_id} is not filed on {paid_on.isoformat()}: no payment that day")
        self._step(PAID, paid_on, by, None, {"bank_reference": bank_reference})

    def fail(self, failed_on: date, reason: str, by: str) -> None:
        """The bank returned the transfer: the reservation goes back to the budget."""
        self._require(APPROVED, "record a failed transfer of")
        if failed_on.isoformat() < self.steps[-1]["on"]:
            raise InvalidValue(("failed_on",), f"before the approval of {self.steps[-1]['on']}")
        self._step(FAILED, failed_on, by, reason)

    def confirm(self, confirmed_on: date, confirmed_by: str, by: str) -> None:
        """The household signed for it (明白卡)."""
        self._require(PAID, "confirm")
        if confirmed_on.isoformat() < self.steps[-1]["on"]:
            raise InvalidValue(("confirmed_on",), f"before the payment of {self.steps[-1]['on']}")
        self._step(CONFIRMED, confirmed_on, by, None, {"confirmed_by": confirmed_by})

    def reverse(self, reversed_on: date, reason: str, by: str) -> None:
        """Money recovered after payment: it goes back to the budget."""
        if self.state not in (PAID, CONFIRMED):
            raise IllegalTransition(f"only a paid disbursement is reversed; this one is {self.state}")
        if reversed_on.isoformat() < self.steps[-1]["on"]:
            raise InvalidValue(("reversed_on",), f"before the last step of {self.steps[-1]['on']}")
        self._step(REVERSED, reversed_on, by, reason)

    def cancel(self, reason: str, on: date, by: str) -> None:
        """Cancelled because the case exited on `on`; dated no earlier than the step it follows (an exit
        recorded late may be dated before an approval made meanwhile: the reason keeps the exit's date)."""
        if self.state not in PENDING:
            raise IllegalTransition(f"only a pending disbursement is cancelled; this one is {self.state}")
        self._step(CANCELLED, max(on, date.fromisoformat(self.steps[-1]["on"])), by, reason)

    def _require(self, state: str, action: str) -> None:
        if self.state != state:
            raise IllegalTransition(f"cannot {action} a disbursement that is {self.state}")

    def _step(self, state: str, on: date, by: str, reason: str | None, detail: dict[str, Any] | None = None) -> None:
        """Record one step; every step carries the amount, the program kind, the rule version and who acted."""
        record = {APPROVED: self._approved, REJECTED: self._rejected, PAID: self._paid, CONFIRMED: self._confirmed,
                  FAILED: self._failed, REVERSED: self._reversed, CANCELLED: self._cancelled}[state]
        record(on.isoformat(), by, reason, detail or {}, self.amount, self.kind, self.decision["rule_version"],
               case_id=self.case_id, federation=self.federation)

    def _moved(self, state: str, on: str, by: str, reason: str | None, detail: dict[str, Any]) -> None:
        self.state = state
        self.steps.append({"state": state, "on": on, "by": by, "reason": reason, **detail})
        if "bank_reference" in detail:
            self.bank_reference = detail["bank_reference"]

    @event("Approved")
    def _approved(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
                  rule_version: int, case_id: str, federation: str) -> None:
        self._moved(APPROVED, on, by, reason, detail)

    @event("Rejected")
    def _rejected(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
                  rule_version: int, case_id: str, federation: str) -> None:
        self._moved(REJECTED, on, by, reason, detail)

    @event("Paid")
    def _paid(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
              rule_version: int, case_id: str, federation: str) -> None:
        self._moved(PAID, on, by, reason, detail)

    @event("Confirmed")
    def _confirmed(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
                   rule_version: int, case_id: str, federation: str) -> None:
        self._moved(CONFIRMED, on, by, reason, detail)

    @event("Failed")
    def _failed(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
                rule_version: int, case_id: str, federation: str) -> None:
        self._moved(FAILED, on, by, reason, detail)

    @event("Reversed")
    def _reversed(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
                  rule_version: int, case_id: str, federation: str) -> None:
        self._moved(REVERSED, on, by, reason, detail)

    @event("Cancelled")
    def _cancelled(self, on: str, by: str, reason: str | None, detail: dict[str, Any], amount: int, kind: str,
                   rule_version: int, case_id: str, federation: str) -> None:
        self._moved(CANCELLED, on, by, reason, detail)


# Batches (送温暖 to thousands of households at once).


class Batch(CheapCopy, Aggregate):
    """One distribution of a fixed-amount program to every eligible filed household of a subtree.

    A batch is built and approved in steps of a bounded size, each its own transaction, so that ten
    thousand households never make one transaction: `Started`, then `Included` per step of households
    (in case id order, `through` the last one looked at) with an `Excluded` per household left out, then
    `Assembled`. Its approval is decided at once (`Approved`: every budget it draws on reserved, or
    nothing) and then applied to its requests step by step (`Applied`). Interrupted anywhere, the same
    request again goes on from the last step recorded."""

    copied = ("disbursements", "excluded", "results")

    @staticmethod
    def create_id(idempotency_key: str) -> UUID:
        return scoped_id("batch", idempotency_key)

    @event("Started")
    def __init__(
        self, idempotency_key: str, program_id: str, kind: str, federation: str, reason: str, rule_version: int,
        amount: int, by: str, made_on: str,
    ) -> None:
        self.idempotency_key, self.program_id, self.kind = idempotency_key, program_id, kind
        self.federation, self.reason, self.rule_version, self.amount = federation, reason, rule_version, amount
        self.by, self.made_on = by, made_on
        self.disbursements: list[str] = []
        self.through: str | None = None
        self.assembled = False
        self.excluded: list[dict[str, Any]] = []
        self.approval: dict[str, Any] | None = None
        self.results: list[dict[str, Any]] = []

    def include(self, disbursements: list[str], through: str) -> None:
        if self.assembled:
            raise IllegalTransition("the batch is already assembled")
        self._included(disbursements, through)

    @event("Included")
    def _included(self, disbursements: list[str], through: str) -> None:
        self.disbursements.extend(disbursements)
        self.through = through

    def exclude(self, case_id: str, federation: str, checks: list[dict[str, Any]]) -> None:
        self._excluded(case_id, [c for c in checks if not c["passed"]], federation=federation)

    @event("Excluded")
    def _excluded(self, case_id: str, failed: list[dict[str, Any]], federation: str) -> None:
        self.excluded.append({"case_id": case_id, "failed": failed})

    def assemble(self) -> None:
        if self.assembled:
            raise IllegalTransition("the batch is already assembled")
        self._assembled(self.program_id, self.reason, self.rule_version, self.amount, len(self.disbursements),
                        self.by, federation=self.federation)

    @event("Assembled")
    def _assembled(
        self, program_id: str, reason: str, rule_version: int, amount: int, included: int, by: str, federation: str
    ) -> None:
        self.assembled = True

    def check_approver(self, by: str) -> None:
        """Assembled, not yet approved, and never by the one who created it."""
        if not self.assembled:
            raise IllegalTransition("the batch is still being assembled: send its creation again to finish it")
        if self.approval is not None:
            raise IllegalTransition("the batch is already approved")
        if by == self.by:
            raise SeparationOfDuties(f"{by} created this batch and cannot approve it")

    def approve(self, by: str, on: date, pending: list[str], total: int) -> None:
        """The decision, recorded with the budgets' reservation: `pending` (the requests still requested) are
        approved by the steps that follow."""
        self.check_approver(by)
        self._approved(by, on.isoformat(), len(pending), total, pending, federation=self.federation)

    @event("Approved")
    def _approved(self, by: str, on: str, approved: int, total: int, pending: list[str], federation: str) -> None:
        self.approval = {"by": by, "on": on, "approved": approved, "total": total, "pending": pending,
                         "applied": 0, "released": 0}

    @property
    def applying(self) -> list[str]:
        """The decided requests the approval has not reached yet."""
        if self.approval is None:
            return []
        return self.approval["pending"][self.approval["applied"]:]

    def apply(self, approved: int, released: int) -> None:
        """The next `approved + released` decided requests were approved, or had left the requested state
        (their share of the reservation went back)."""
        if approved + released > len(self.applying):
            raise IllegalTransition("more applied than the approval decided")
        self._applied(approved, released)

    @event("Applied")
    def _applied(self, approved: int, released: int) -> None:
        assert self.approval is not None
        self.approval = {**self.approval, "applied": self.approval["applied"] + approved + released,
                         "released": self.approval["released"] + released}

    @property
    def approved(self) -> bool:
        """Approved and every decided request reached."""
        return self.approval is not None and not self.applying

    def record_results(self, digest: str, paid: int, failed: int, refused: int, by: str) -> None:
        if not self.approved:
            raise IllegalTransition("bank results come after the batch's approval is complete")
        self._results(digest, paid, failed, refused, by, federation=self.federation)

    @event("ResultsImported")
    def _results(self, digest: str, paid: int, failed: int, refused: int, by: str, federation: str) -> None:
        self.results.append({"sha256": digest, "paid": paid, "failed": failed, "refused": refused, "by": by})


# Job referrals (就业推介) and skills training (技能培训).


class Referral(CheapCopy, Aggregate):
    """A person of a household referred to an employer for a position, and what came of it."""

    copied = ("outcomes",)

    @classmethod
    def make(
        cls, case: AidCase, person: str, employer: str, position: str, wage_offered: int | None, referred_on: date,
        by: str,
    ) -> Referral:
        require(case.has_person(person), "person", "not the worker or a member of this household")
        require(case.state == FILED, "case_id", f"referrals are for filed households; this case is {case.state}")
        return cls(case.case_id, case.federation, person, employer, position, wage_offered, referred_on.isoformat(), by)

    @event("Made")
    def __init__(
        self, case_id: str, federation: str, person: str, employer: str, position: str, wage_offered: int | None,
        referred_on: str, by: str,
    ) -> None:
        self.case_id, self.federation, self.person = case_id, federation, person
        self.employer, self.position, self.wage_offered = employer, position, wage_offered
        self.referred_on, self.by = referred_on, by
        self.outcomes: list[dict[str, Any]] = []

    @property
    def outcome(self) -> str | None:
        return self.outcomes[-1]["outcome"] if self.outcomes else None

    def record(self, outcome: str, monthly_wage: int | None, recorded_on: date, by: str) -> None:
        require(outcome in OUTCOMES, "outcome", f"must be one of {', '.join(OUTCOMES)}")
        if self.outcome in (HIRED, NOT_HIRED):
            raise IllegalTransition(f"the referral already ended: {self.outcome}")
        if outcome == INTERVIEWED and self.outcome == INTERVIEWED:
            raise IllegalTransition("the interview is already recorded")
        require(recorded_on.isoformat() >= self.referred_on, "recorded_on",
                f"before the referral of {self.referred_on}")
        if self.outcomes:
            require(recorded_on.isoformat() >= self.outcomes[-1]["recorded_on"], "recorded_on",
                    f"before the {self.outcome} of {self.outcomes[-1]['recorded_on']}")
        if outcome == HIRED:
            require(monthly_wage is not None and monthly_wage > 0, "monthly_wage", "a hire records the monthly wage")
        else:
            require(monthly_wage is None, "monthly_wage", "only a hire records a wage")
        self._outcome(outcome, monthly_wage, recorded_on.isoformat(), by, case_id=self.case_id,
                      federation=self.federation)

    @event("OutcomeRecorded")
    def _outcome(
        self, outcome: str, monthly_wage: int | None, recorded_on: str, by: str, case_id: str, federation: str
    ) -> None:
        self.outcomes.append({"outcome": outcome, "monthly_wage": monthly_wage, "recorded_on": recorded_on, "by": by})


class Training(CheapCopy, Aggregate):
    """A skills course (a provider, from start to end) and the people of households enrolled in it."""

    copied = ("enrolments",)

    @classmethod
    def create(
        cls, course: str, provider: str, federation: str, starts_on: date, ends_on: date, by: str
    ) -> Training:
        require(is_federation_code(federation), "federation", "must be a federation code like gs.by")
        require(ends_on >= starts_on, "ends_on", "must not be before starts_on")
        return cls(course, provider, federation, starts_on.isoformat(), ends_on.isoformat(), by)

    @event("Created")
    def __init__(self, course: str, provider: str, federation: str, starts_on: str, ends_on: str, by: str) -> None:
        self.course, self.provider, self.federation = course, provider, federation
        self.starts_on, self.ends_on, self.by = starts_on, ends_on, by
        self.enrolments: dict[str, dict[str, Any]] = {}  # "case_id/person" -> the enrolment

    @staticmethod
    def key(case_id: str, person: str) -> str:
        return f"{case_id}/{person}"

    def enrol(self, case: AidCase, person: str, enrolled_on: date, by: str) -> None:
        require(case.has_person(person), "person", "not the worker or a member of this household")
        require(in_subtree(case.federation, self.federation), "case_id",
                f"the course is for households of {self.federation}")
        if self.key(case.case_id, person) in self.enrolments:
            raise IllegalTransition("the person is already enrolled")
        require(enrolled_on.isoformat() <= self.ends_on, "enrolled_on", f"after the course ended on {self.ends_on}")
        self._enrolled(person, enrolled_on.isoformat(), by, case_id=case.case_id, federation=case.federation)

    @event("Enrolled")
    def _enrolled(self, person: str, enrolled_on: str, by: str, case_id: str, federation: str) -> None:
        self.enrolments[self.key(case_id, person)] = {
            "case_id": case_id, "federation": federation, "person": person, "state": ENROLLED,
            "enrolled_on": enrolled_on, "completed_on": None, "certificate": None, "dropped_on": None, "reason": None,
        }

    def enrolment(self, case_id: str, person: str) -> dict[str, Any]:
        found = self.enrolments.get(self.key(case_id, person))
        if found is None:
            raise IllegalTransition("the person is not enrolled in this course")
        return found

    def complete(self, case_id: str, person: str, completed_on: date, certificate: str, by: str) -> None:
        found = self._enrolled_now(case_id, person)
        require(completed_on.isoformat() >= max(self.starts_on, found["enrolled_on"]), "completed_on",
                "before the course started or the person enrolled")
        self._completed(person, completed_on.isoformat(), certificate, by, case_id=case_id,
                        federation=found["federation"])

    @event("Completed")
    def _completed(
        self, person: str, completed_on: str, certificate: str, by: str, case_id: str, federation: str
    ) -> None:
        key = self.key(case_id, person)  # the enrolment replaced, never changed in place (CheapCopy)
        self.enrolments[key] = {**self.enrolments[key], "state": COMPLETED, "completed_on": completed_on,
                                "certificate": certificate}

    def drop_out(self, case_id: str, person: str, dropped_on: date, reason: str, by: str) -> None:
        found = self._enrolled_now(case_id, person)
        require(dropped_on.isoformat() >= found["enrolled_on"], "dropped_on", "before the person enrolled")
        self._dropped(person, dropped_on.isoformat(), reason, by, case_id=case_id, federation=found["federation"])

    @event("DroppedOut")
    def _dropped(self, person: str, dropped_on: str, reason: str, by: str, case_id: str, federation: str) -> None:
        key = self.key(case_id, person)
        self.enrolments[key] = {**self.enrolments[key], "state": DROPPED, "dropped_on": dropped_on, "reason": reason}

    def _enrolled_now(self, case_id: str, person: str) -> dict[str, Any]:
        found = self.enrolment(case_id, person)
        if found["state"] != ENROLLED:
            raise IllegalTransition(f"the enrolment has ended: {found['state']}")
        return found
