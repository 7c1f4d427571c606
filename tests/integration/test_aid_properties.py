"""Property: after any sequence of 1,000 operations (requests, approvals, rejections, payments, failures,
confirmations, reversals, exits and refilings, allocations, batches), reconciliation equals a recount
from the stored events to the fen and no budget is below zero. A step may be refused with one of the
named refusals; anything else fails the property."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from services.aid.application import Aids, KeyReused
from services.aid.domain import (
    BudgetExhausted,
    IllegalTransition,
    NotEligible,
    NotFiledOnDay,
    SeparationOfDuties,
)
from tests.aid_flows import AID_TODAY, envelope, exit_case, file_case, fund, program
from tests.backends import backend_env
from tests.integration.test_aid_application import assert_reconciles, reconciled

REFUSALS = (NotEligible, BudgetExhausted, IllegalTransition, SeparationOfDuties, NotFiledOnDay, KeyReused)
KINDS = ("request",) * 5 + ("approve",) * 5 + ("pay",) * 4 + (
    "reject", "fail", "fail", "confirm", "reverse", "reverse", "exit", "allocate", "allocate", "batch", "approve_batch")
OPERATIONS = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 255), st.integers(0, 255)),
                      min_size=1000, max_size=1000)
FEDERATIONS = ("gs.by", "gs.by", "gs.by.pg", "gs.ln", "gs.ln.jt", "gs")
LIVING_AMOUNTS = (10_000, 25_000, 60_000, 70_000)  # the last is over the rule's maximum
ALLOCATIONS = (0, 50_000, 200_000, 500_000, 1_000_000, 3_000_000)
APPROVERS = ("approver1", "approver2", "caseworker1", "li")  # the requester and the verifier are refused
EXITED_ON = date(2026, 11, 30)
# A run of 1,000 steps takes about a second in memory: no deadline, no example database, and no shrinking
# (shrinking 1,000 steps would outlast the test timeout; a failure names its step and operation instead).
AFFORDABLE: dict[str, Any] = {
    "deadline": None, "database": None, "phases": (Phase.explicit, Phase.generate),
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


class World:
    """One store, two programs with budgets down the tree, a dozen households, and what was done to them."""

    def __init__(self, env: dict[str, str]):
        self.app = Aids(env)
        self.app.today = lambda: AID_TODAY
        self.festival = program(self.app)
        self.living = program(self.app, kind="living", amount=None, rule={"max": 60_000}, household_cap=150_000)
        fund(self.app, self.festival, {"gs": 1_500_000, "gs.by": 600_000, "gs.ln": 300_000})
        fund(self.app, self.living, {"gs": 800_000, "gs.by": 200_000})
        self.cases = [(file_case(self.app, federation=f), f) for f in FEDERATIONS * 4]
        self.filed = {case_id: True for case_id, _ in self.cases}
        self.disbursements: list[tuple[str, str]] = []  # (disbursement id, case id)
        self.keys: dict[str, dict[str, Any]] = {}  # idempotency key -> (its body, the disbursement)
        self.batches: list[str] = []
        self.steps = 0

    def close(self) -> None:
        self.app.close()

    def run(self, kind: str, a: int, b: int) -> None:
        with contextlib.suppress(*REFUSALS):
            getattr(self, kind)(a, b)
        self.steps += 1

    def request(self, a: int, b: int) -> None:
        if self.keys and b % 4 == 0:  # the same key again: the same body is a resend, another one is refused
            key = sorted(self.keys)[a % len(self.keys)]
            body = self.keys[key]["body"] if b % 8 == 0 else self.body(a, b)
        else:
            key, body = f"k{len(self.keys)}-{a}-{b}", self.body(a, b)
        known = self.keys.get(key)
        try:
            d, created = self.app.request(idempotency_key=key, scope="gs", reason="帮扶", beneficiary=None,
                                          out_of_pocket=None, by="caseworker1", **body)
        except KeyReused:
            assert known is not None and known["body"] != body
            raise
        if known is None:
            assert created
            self.keys[key] = {"body": body, "id": str(d.id)}
            self.disbursements.append((str(d.id), body["case_id"]))
        else:
            assert not created and known["body"] == body and str(d.id) == known["id"]

    def body(self, a: int, b: int) -> dict[str, Any]:
        case_id, _ = self.cases[a % len(self.cases)]
        if b % 2:
            return {"case_id": case_id, "program_id": self.festival, "amount": None}
        return {"case_id": case_id, "program_id": self.living, "amount": LIVING_AMOUNTS[(b // 2) % 4]}

    def pick(self, a: int) -> str | None:
        """Mostly one of the latest disbursements (likelier to be in a state the step fits), else any."""
        if not self.disbursements:
            return None
        if a < 192:
            return self.disbursements[-1 - a % min(8, len(self.disbursements))][0]
        return self.disbursements[a % len(self.disbursements)][0]

    def approve(self, a: int, b: int) -> None:
        if (d := self.pick(a)) is not None:
            by = APPROVERS[b % len(APPROVERS)]
            requester = self.app.disbursement(d, "gs").requested_by  # caseworker1, or a batch's creator
            self.app.approve(d, "gs", by=by)
            assert by not in (requester, "li"), f"{by} approved {d}, which {requester} requested and li verified"

    def reject(self, a: int, b: int) -> None:
        if (d := self.pick(a)) is not None:
            self.app.reject(d, "gs", reason="不符合", by="approver1")

    def pay(self, a: int, b: int) -> None:
        if (d := self.pick(a)) is not None:
            self.app.pay(d, "gs", paid_on=AID_TODAY, bank_reference=f"B{a}-{b}", by="cashier")

    def fail(self, a: int, b: int) -> None:
        if (d := self.pick(a)) is not None:
            self.app.fail(d, "gs", failed_on=AID_TODAY, reason="account closed", by="cashier")

    def confirm(self, a: int, b: int) -> None:
        if (d := self.pick(a)) is not None:
            self.app.confirm(d, "gs", confirmed_on=AID_TODAY, confirmed_by="王芳", by="caseworker1")

    def reverse(self, a: int, b: int) -> None:
        if (d := self.pick(a)) is not None:
            self.app.reverse(d, "gs", reversed_on=AID_TODAY, reason="recovered", by="cashier")

    def exit(self, a: int, b: int) -> None:
        """A filed household exits (its pending aid is cancelled); an exited one is filed again."""
        case_id, federation = self.cases[a % len(self.cases)]
        if self.filed[case_id]:
            exit_case(self.app, case_id, exited_on=EXITED_ON, federation=federation)
            pending = [d for d, c in self.disbursements
                       if c == case_id and self.app.disbursement(d, "gs").state in ("requested", "approved")]
            assert not pending, f"the exit of {case_id} left {pending} pending"
        else:
            self.app.apply_intake_event(envelope(case_id, "CaseRefiled", {"refiled_on": EXITED_ON.isoformat()},
                                                 federation))
        self.filed[case_id] = not self.filed[case_id]

    def allocate(self, a: int, b: int) -> None:
        program_id = (self.festival, self.living)[a % 2]
        federation = ("gs", "gs.by", "gs.ln", "gs.by.pg")[b % 4]
        amount = ALLOCATIONS[(b // 4) % len(ALLOCATIONS)]
        if amount:
            self.app.allocate(program_id=program_id, federation=federation, amount=amount, scope="gs", by="admin")

    def batch(self, a: int, b: int) -> None:
        federation = ("gs.by", "gs.ln", "gs")[b % 3]
        batch, created = self.app.create_batch(self.festival, "gs", federation=federation, reason="春节",
                                               idempotency_key=f"batch-{a % 16}", by="admin")
        if created:
            self.batches.append(str(batch.id))
            self.disbursements += [(d, self.app.disbursement(d, "gs").case_id) for d in batch.disbursements]

    def approve_batch(self, a: int, b: int) -> None:
        if self.batches:
            self.app.approve_batch(self.batches[a % len(self.batches)], "gs", by=APPROVERS[b % 2])


def check(world: World) -> None:
    counted = assert_reconciles(world.app)  # equal to the recount, no figure of any budget below zero
    for key, row in counted.items():
        assert row["remaining"] >= 0 and row["budget"] >= row["allocated_to_children"], (key, row)
    assert counted.keys() == reconciled(world.app).keys()


def exercise(env: dict[str, str], operations: list[tuple[str, int, int]]) -> None:
    world = World(env)
    try:
        for n, (kind, a, b) in enumerate(operations, start=1):
            try:
                world.run(kind, a, b)
                if n % 250 == 0:
                    check(world)
            except BaseException:
                note(f"failed at step {n}: {kind}({a}, {b})")
                raise
        assert world.steps == 1000
        check(world)
    finally:
        world.close()


@settings(max_examples=10, **AFFORDABLE)
@given(operations=OPERATIONS)
def test_reconciliation_equals_the_recount_after_any_thousand_operations_in_memory(operations):
    exercise(backend_env(None, None, "memory"), operations)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sqlite_dirs(tmp_path_factory):
    return lambda: tmp_path_factory.mktemp("aid-property")


def test_reconciliation_equals_the_recount_after_any_thousand_operations_on_sqlite(sqlite_dirs):
    @settings(max_examples=4, **AFFORDABLE)
    @given(operations=OPERATIONS)
    def on_sqlite(operations):
        exercise(backend_env(None, sqlite_dirs(), "sqlite"), operations)  # type: ignore[arg-type]

    on_sqlite()
