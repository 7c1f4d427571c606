"""The aid application on every backend: eligibility, budgets down the tree, the life of a disbursement,
exits, idempotency, batches with bank results, and reconciliation against a recount of the stored events.
The races the issue names (50 approvals for a budget of 20, one idempotency key sent 10 times at once)
run on SQLite and on real PostgreSQL, over two service instances of one store."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest

from services.aid.application import Aids, KeyReused, NoParentBudget, OutsideScope
from services.aid.domain import (
    Batch,
    BudgetExhausted,
    IllegalTransition,
    InvalidValue,
    NotEligible,
    SeparationOfDuties,
)
from services.aid.money import fen
from services.aid.outbound import aid_event
from tests.aid_flows import AID_TODAY, ask, envelope, exit_case, file_case, fund, program
from tests.backends import backend_env

RACE_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
FIGURES = ("budget", "allocated_to_children", "requested", "reserved", "paid", "failed", "reversed", "remaining")
DAY = date(2026, 12, 2)  # after the requests of AID_TODAY


@pytest.fixture
def aids(env):
    app = Aids(env)
    app.today = lambda: AID_TODAY
    yield app
    app.close()


# What the stored events say, recounted without the index or the Budget aggregate.


def stored_events(app: Aids) -> list[Any]:
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1_000_000)]


def last_notification(app: Aids) -> int:
    return app.recorder.max_notification_id() or 0


def recount(app: Aids) -> dict[tuple[str, str], dict[str, int]]:
    """Each budget's figures in fen from the stored events alone, counted twice: from the budgets' own
    events (Budget.*) and from the disbursements' (Disbursement.*); the two must agree to the fen."""
    budgets: dict[Any, tuple[str, str]] = {}
    ledger: defaultdict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    allocated: dict[tuple[str, str], int] = {}
    disbursements: dict[Any, dict[str, Any]] = {}
    for e in stored_events(app):
        name = type(e).__qualname__
        if name == "Budget.Opened":
            budgets[e.originator_id] = (e.program_id, e.federation)
            ledger[budgets[e.originator_id]]  # a budget opened and allocated, even if nothing moved since
        elif name.startswith("Budget."):
            row = ledger[budgets[e.originator_id]]
            if name == "Budget.Allocated":
                allocated[budgets[e.originator_id]] = e.amount
            elif name == "Budget.PassedDown":
                row["allocated_to_children"] += e.delta
            elif name == "Budget.Reserved":
                row["reserved"] += e.amount
            elif name == "Budget.Spent":
                row["reserved"] -= e.amount
                row["paid"] += e.amount
            elif name == "Budget.Released":
                row["reserved"] -= e.amount
                row["failed"] += e.amount if e.why == "failed" else 0
            elif name == "Budget.Returned":
                row["paid"] -= e.amount
                row["reversed"] += e.amount
        elif name == "Disbursement.Requested":
            disbursements[e.originator_id] = {"budget": (e.program_id, e.budget_federation), "amount": e.amount,
                                              "state": "requested"}
        elif name.startswith("Disbursement."):
            assert e.amount == disbursements[e.originator_id]["amount"]  # every step carries the amount
            disbursements[e.originator_id]["state"] = name.split(".")[1].lower()
    by_disbursement: defaultdict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    for d in disbursements.values():
        state = {"approved": "reserved", "paid": "paid", "confirmed": "paid", "failed": "failed",
                 "reversed": "reversed", "requested": "requested"}.get(d["state"])
        if state is not None:
            by_disbursement[d["budget"]][state] += d["amount"]
    figures = {}
    for key, row in ledger.items():
        program_id, federation = key
        children = sum(amount for (p, f), amount in allocated.items()
                       if p == program_id and f.rsplit(".", 1)[0] == federation and f != federation)
        assert row["allocated_to_children"] == children, key  # what was passed down is what the children hold
        moved = by_disbursement.pop(key, dict.fromkeys(FIGURES, 0))
        for name in ("reserved", "paid", "failed", "reversed"):
            assert row[name] == moved[name], (key, name, row, moved)
        figures[key] = {**row, "budget": allocated[key], "requested": moved["requested"],
                        "remaining": allocated[key] - children - row["reserved"] - row["paid"]}
    assert not by_disbursement, f"disbursements drawing on no budget: {dict(by_disbursement)}"
    return figures


def reconciled(app: Aids, scope: str = "gs") -> dict[tuple[str, str], dict[str, int]]:
    """The reconciliation's lines in fen."""
    lines = app.reconciliation(scope, None, None, None)["budgets"]
    return {(line["program_id"], line["federation"]): {name: fen(line[name]) for name in FIGURES} for line in lines}


def assert_reconciles(app: Aids) -> dict[tuple[str, str], dict[str, int]]:
    """Reconciliation equals the recount from the events, every total is the sum of its budgets' own
    shares, and no figure of any budget is below zero."""
    counted = recount(app)
    assert reconciled(app) == counted
    for key, row in counted.items():
        assert all(value >= 0 for value in row.values()), (key, row)
    for total in app.reconciliation("gs", None, None, None)["totals"]:
        mine = [row for (p, _), row in counted.items() if p == total["program_id"]]
        assert fen(total["budget"]) == sum(r["budget"] - r["allocated_to_children"] for r in mine)
        for name in ("requested", "reserved", "paid", "failed", "reversed", "remaining"):
            assert fen(total[name]) == sum(r[name] for r in mine), name
    return counted


def line(app: Aids, program_id: str, federation: str) -> dict[str, int]:
    return reconciled(app)[(program_id, federation)]


def budget_row(app: Aids, program_id: str, federation: str) -> dict[str, str]:
    rows = app.budgets("gs", program_id, federation)
    return next(r for r in rows if r["federation"] == federation)


def ask_with_key(app: Aids, case_id: str, program_id: str, key: str, **fields: Any):
    body = {"amount": None, "beneficiary": None, "out_of_pocket": None, "reason": "送温暖", "by": "caseworker1",
            **fields}
    return app.request(case_id=case_id, program_id=program_id, idempotency_key=key, scope="gs", **body)


# Deciding a request.


def test_a_request_that_fails_eligibility_is_refused_with_its_failed_checks_and_stores_nothing(aids):
    p = program(aids, categories=["marginal"], causes=["disability"])
    fund(aids, p, {"gs": 1_000_000})
    case_id = file_case(aids)  # subsistence, illness
    before = last_notification(aids)

    with pytest.raises(NotEligible) as refused:
        ask_with_key(aids, case_id, p, "k1")

    decision = refused.value.decision
    assert decision["rule_version"] == 1 and decision["passed"] is False
    failed = {c["check"] for c in decision["checks"] if not c["passed"]}
    assert failed == {"category", "causes"}
    assert {c["check"] for c in decision["checks"] if c["passed"]} >= {"state", "amount", "budget"}
    assert "category" in str(refused.value) and "causes" in str(refused.value)
    assert last_notification(aids) == before
    assert aids.disbursements("gs", None, None, None, 100) == []
    assert not aids._case(case_id).holdings
    # The key was never taken: an eligible request may use it.
    other = program(aids)
    fund(aids, other, {"gs": 1_000_000})
    d, created = ask_with_key(aids, case_id, other, "k1")
    assert created and d.state == "requested" and d.decision["passed"]


def test_a_household_not_filed_on_the_day_or_with_no_budget_above_it_is_refused(aids):
    p = program(aids, federation="gs.by")
    fund(aids, p, {"gs.by": 1_000_000})
    later = file_case(aids, filed_on=date(2027, 1, 1))
    elsewhere = file_case(aids, federation="gs.by")
    exited = file_case(aids)
    exit_case(aids, exited)

    with pytest.raises(NotEligible) as not_yet:
        ask(aids, later, p)
    assert [c["check"] for c in not_yet.value.decision["checks"] if not c["passed"]] == ["state"]
    with pytest.raises(NotEligible) as gone:
        ask(aids, exited, p)
    assert [c["check"] for c in gone.value.decision["checks"] if not c["passed"]] == ["state"]

    q = program(aids, kind="living", amount=None, rule={"max": 50_000})
    fund(aids, q, {"gs": 1_000_000, "gs.ln": 100_000})  # nothing at or above gs.by for q but gs itself
    d = ask(aids, elsewhere, q, amount=10_000)
    assert d.budget_federation == "gs"
    r = program(aids, kind="living", amount=None, rule={"max": 50_000}, federation="gs.ln")
    fund(aids, r, {"gs.ln": 100_000})
    with pytest.raises(NotEligible) as unfunded:
        ask(aids, elsewhere, r, amount=10_000)
    assert [c["check"] for c in unfunded.value.decision["checks"] if not c["passed"]] == ["budget"]
    assert_reconciles(aids)


def test_a_revised_rule_decides_new_requests_and_old_decisions_keep_their_version(aids):
    p = program(aids, kind="living", amount=None, rule={"max": 50_000})
    fund(aids, p, {"gs": 1_000_000})
    first = ask(aids, file_case(aids), p, amount=50_000)
    aids.revise_program(p, "gs", amount=None, rule={"max": 30_000}, eligibility={}, reason="预算调整", by="admin")

    with pytest.raises(NotEligible) as refused:
        ask(aids, file_case(aids), p, amount=50_000)
    assert refused.value.decision["rule_version"] == 2
    second = ask(aids, file_case(aids), p, amount=30_000)
    assert (first.decision["rule_version"], second.decision["rule_version"]) == (1, 2)
    assert aids.disbursement(str(first.id), "gs").decision["rule_version"] == 1


# The money of a disbursement.


def test_approval_reserves_payment_spends_failure_releases_and_reversal_returns(aids):
    p = program(aids)  # 1000.00 fixed
    fund(aids, p, {"gs": 1_000_000, "gs.by": 500_000})
    a, b, c, d = (ask(aids, file_case(aids), p) for _ in range(4))
    assert line(aids, p, "gs.by") == {"budget": 500_000, "allocated_to_children": 0, "requested": 400_000,
                                      "reserved": 0, "paid": 0, "failed": 0, "reversed": 0, "remaining": 500_000}
    with pytest.raises(SeparationOfDuties):
        aids.approve(str(a.id), "gs", by="caseworker1")  # the requester
    with pytest.raises(SeparationOfDuties):
        aids.approve(str(a.id), "gs", by="赵")  # a visitor who verified the household

    for x in (a, b, c, d):
        assert aids.approve(str(x.id), "gs", by="approver1").state == "approved"
    assert budget_row(aids, p, "gs.by")["reserved"] == "400000"
    assert line(aids, p, "gs.by")["remaining"] == 100_000 and line(aids, p, "gs.by")["requested"] == 0

    aids.pay(str(a.id), "gs", paid_on=DAY, bank_reference="B1", by="cashier")
    aids.pay(str(b.id), "gs", paid_on=DAY, bank_reference="B2", by="cashier")
    assert aids.confirm(str(b.id), "gs", confirmed_on=DAY, confirmed_by="王芳", by="caseworker1").state == "confirmed"
    aids.fail(str(c.id), "gs", failed_on=DAY, reason="account closed", by="cashier")
    aids.reverse(str(a.id), "gs", reversed_on=DAY, reason="paid twice", by="cashier")
    with pytest.raises(IllegalTransition):
        aids.pay(str(c.id), "gs", paid_on=DAY, bank_reference="B3", by="cashier")  # failed is final
    with pytest.raises(IllegalTransition):
        aids.reverse(str(d.id), "gs", reversed_on=DAY, reason="x", by="cashier")  # only paid money comes back
    with pytest.raises(InvalidValue):
        aids.pay(str(d.id), "gs", paid_on=date(2026, 11, 30), bank_reference="B4", by="cashier")  # before the request

    assert line(aids, p, "gs.by") == {"budget": 500_000, "allocated_to_children": 0, "requested": 0,
                                      "reserved": 100_000, "paid": 100_000, "failed": 100_000,
                                      "reversed": 100_000, "remaining": 300_000}
    row = budget_row(aids, p, "gs.by")
    assert (row["amount"], row["reserved"], row["spent"], row["failed"], row["reversed"]) == (
        "500000", "100000", "100000", "100000", "100000")
    assert [aids.disbursement(str(x.id), "gs").state for x in (a, b, c, d)] == [
        "reversed", "confirmed", "failed", "approved"]
    total = aids.reconciliation("gs", None, None, None)["totals"][0]
    assert (total["budget"], total["paid"], total["remaining"]) == ("10000.00", "1000.00", "8000.00")
    assert_reconciles(aids)


def test_a_rejected_request_reserves_nothing_and_frees_the_household_for_another(aids):
    p = program(aids)
    fund(aids, p, {"gs": 1_000_000})
    case_id = file_case(aids)
    d = ask(aids, case_id, p)
    with pytest.raises(NotEligible):
        ask(aids, case_id, p)  # once per festival while the first one stands
    assert aids.reject(str(d.id), "gs", reason="duplicate", by="approver1").state == "rejected"
    with pytest.raises(IllegalTransition):
        aids.approve(str(d.id), "gs", by="approver1")
    again = ask(aids, case_id, p)
    assert again.state == "requested"
    assert line(aids, p, "gs")["reserved"] == 0 and line(aids, p, "gs")["requested"] == 100_000
    assert_reconciles(aids)


def test_goods_count_against_the_budget_by_their_value(aids):
    p = program(aids, kind="goods", amount=None, rule={"max": 100_000})
    fund(aids, p, {"gs": 50_000})
    case_id = file_case(aids)
    d, created = aids.deliver(case_id=case_id, program_id=p, items=[
        {"item": "大米", "quantity": 2, "unit": "袋", "value": "120.50"},
        {"item": "食用油", "quantity": 1, "unit": "桶", "value": "79.50"}], delivered_on=AID_TODAY,
        idempotency_key="g1", reason="冬季物资", scope="gs", by="caseworker1")
    assert created and d.form == "goods" and d.amount == 20_000
    aids.approve(str(d.id), "gs", by="approver1")
    aids.pay(str(d.id), "gs", paid_on=DAY, bank_reference="NOTE-1", by="caseworker2")
    assert line(aids, p, "gs")["paid"] == 20_000 and line(aids, p, "gs")["remaining"] == 30_000
    card = aids.case_aid(case_id, "gs")
    assert card["received"] == "200.00" and len(card["goods"]) == 1 and card["money"] == []
    with pytest.raises(IllegalTransition):
        ask(aids, case_id, p, amount=10_000)  # a goods program delivers goods, it pays no money
    assert_reconciles(aids)


# Budgets down the federation tree.


def test_budgets_are_allocated_down_the_tree_out_of_each_parents_remainder(aids):
    p = program(aids, kind="living", amount=None, rule={"max": 100_000})
    with pytest.raises(NoParentBudget):
        aids.allocate(program_id=p, federation="gs.by", amount=100_000, scope="gs", by="admin")
    aids.allocate(program_id=p, federation="gs", amount=1_000_000, scope="gs", by="admin")
    aids.allocate(program_id=p, federation="gs.by", amount=600_000, scope="gs", by="admin")
    with pytest.raises(NoParentBudget):
        aids.allocate(program_id=p, federation="gs.ln.x", amount=1, scope="gs", by="admin")
    with pytest.raises(BudgetExhausted):
        aids.allocate(program_id=p, federation="gs.ln", amount=400_001, scope="gs", by="admin")  # 4,000.00 left
    aids.allocate(program_id=p, federation="gs.ln", amount=400_000, scope="gs", by="admin")
    assert line(aids, p, "gs")["remaining"] == 0
    with pytest.raises(BudgetExhausted):
        aids.allocate(program_id=p, federation="gs.by", amount=600_001, scope="gs", by="admin")  # gs has nothing
    aids.allocate(program_id=p, federation="gs.by.pg", amount=200_000, scope="gs", by="admin")
    with pytest.raises(IllegalTransition):
        aids.allocate(program_id=p, federation="gs.by.pg", amount=200_000, scope="gs", by="admin")

    d = ask(aids, file_case(aids, federation="gs.by"), p, amount=100_000)
    aids.approve(str(d.id), "gs", by="approver1")  # gs.by: 6,000 − 2,000 passed down − 1,000 reserved = 3,000
    assert line(aids, p, "gs.by") == {"budget": 600_000, "allocated_to_children": 200_000, "requested": 0,
                                      "reserved": 100_000, "paid": 0, "failed": 0, "reversed": 0,
                                      "remaining": 300_000}
    with pytest.raises(BudgetExhausted):  # a reduction takes neither what is passed down nor what is reserved
        aids.allocate(program_id=p, federation="gs.by", amount=299_999, scope="gs", by="admin")
    before = reconciled(aids)
    with pytest.raises(BudgetExhausted):  # nor can a parent take back what its child has reserved
        aids.allocate(program_id=p, federation="gs", amount=999_999, scope="gs", by="admin")
    assert reconciled(aids) == before

    aids.allocate(program_id=p, federation="gs.by", amount=300_000, scope="gs", by="admin")  # down by 3,000
    assert line(aids, p, "gs.by")["remaining"] == 0
    assert line(aids, p, "gs") == {"budget": 1_000_000, "allocated_to_children": 700_000, "requested": 0,
                                   "reserved": 0, "paid": 0, "failed": 0, "reversed": 0, "remaining": 300_000}
    aids.allocate(program_id=p, federation="gs", amount=700_000, scope="gs", by="admin")  # gs's own remainder
    assert line(aids, p, "gs")["remaining"] == 0
    total = aids.reconciliation("gs", None, None, p)["totals"][0]
    assert (total["budget"], total["reserved"], total["remaining"]) == ("7000.00", "1000.00", "6000.00")
    assert_reconciles(aids)


# A household that exits.


def test_an_exit_cancels_pending_requests_and_releases_their_reservations_while_paid_ones_stay(aids):
    p = program(aids, kind="living", amount=None, rule={"max": 50_000})
    fund(aids, p, {"gs": 1_000_000})
    case_id = file_case(aids)
    requested = ask(aids, case_id, p, amount=10_000)
    approved = ask(aids, case_id, p, amount=20_000)
    paid = ask(aids, case_id, p, amount=30_000)
    for d in (approved, paid):
        aids.approve(str(d.id), "gs", by="approver1")
    aids.pay(str(paid.id), "gs", paid_on=DAY, bank_reference="B1", by="cashier")
    assert line(aids, p, "gs")["reserved"] == 20_000
    since = last_notification(aids)

    exit_case(aids, case_id, exited_on=AID_TODAY)

    assert [aids.disbursement(str(d.id), "gs").state for d in (requested, approved, paid)] == [
        "cancelled", "cancelled", "paid"]
    assert line(aids, p, "gs") == {"budget": 1_000_000, "allocated_to_children": 0, "requested": 0, "reserved": 0,
                                   "paid": 30_000, "failed": 0, "reversed": 0, "remaining": 970_000}
    published = [aid_event(aids, n, datetime.now(UTC))
                 for n in aids.recorder.select_notifications(start=since + 1, limit=1000)]
    cancelled = {e.payload["disbursement_id"]: e for e in published if e and e.type == "DisbursementCancelled"}
    assert set(cancelled) == {str(requested.id), str(approved.id)}
    assert all(e.case_id == case_id and e.payload["reason"].startswith("the case exited")
               and "stable_employment" in e.payload["reason"] for e in cancelled.values())
    assert {e.payload["amount"] for e in cancelled.values()} == {"100.00", "200.00"}
    with pytest.raises(NotEligible):
        ask(aids, case_id, p, amount=10_000)
    assert_reconciles(aids)


def test_an_exit_delivered_twice_changes_nothing_the_second_time(aids):
    p = program(aids)
    fund(aids, p, {"gs": 1_000_000})
    case_id = file_case(aids)
    d = ask(aids, case_id, p)
    aids.approve(str(d.id), "gs", by="approver1")
    exited = envelope(case_id, "CaseExited", {"reason": "moved", "exited_on": "2026-12-05", "notes": "", "by": "li"})
    assert aids.apply_intake_event(exited) is True
    after = last_notification(aids)
    assert aids.apply_intake_event(exited) is False
    assert last_notification(aids) == after
    assert aids.disbursement(str(d.id), "gs").state == "cancelled"
    assert line(aids, p, "gs")["reserved"] == 0


# Idempotency.


def test_the_same_key_returns_the_first_disbursement_and_a_different_body_is_refused(aids):
    p = program(aids)
    fund(aids, p, {"gs": 1_000_000})
    case_id, other = file_case(aids), file_case(aids)
    first, created = ask_with_key(aids, case_id, p, "key-1")
    again, created_again = ask_with_key(aids, case_id, p, "key-1")
    assert created is True and created_again is False
    assert again.id == first.id
    before = last_notification(aids)
    with pytest.raises(KeyReused):
        ask_with_key(aids, case_id, p, "key-1", reason="另一个理由")
    with pytest.raises(KeyReused):
        ask_with_key(aids, other, p, "key-1")
    assert last_notification(aids) == before
    assert [r["disbursement_id"] for r in aids.disbursements("gs", None, None, None, 100)] == [str(first.id)]
    aids.approve(str(first.id), "gs", by="approver1")
    resent, created = ask_with_key(aids, case_id, p, "key-1")  # a resend after approval still names the first
    assert (resent.id, resent.state, created) == (first.id, "approved", False)


# Batches.


def batch_world(aids):
    p = program(aids, categories=["subsistence"], max_members=4)
    fund(aids, p, {"gs": 1_000_000, "gs.by": 300_000, "gs.by.pg": 50_000})
    world = {
        "e1": file_case(aids), "e2": file_case(aids), "e3": file_case(aids, federation="gs.by.pg"),
        "marginal": file_case(aids, category="marginal"), "big": file_case(aids, children=3),
        "later": file_case(aids, filed_on=date(2027, 1, 1)), "had": file_case(aids),
        "outside": file_case(aids, federation="gs.ln"), "exited": file_case(aids),
    }
    exit_case(aids, world["exited"])
    world["had_aid"] = str(ask(aids, world["had"], p).id)
    return p, world


def test_a_batch_requests_for_every_eligible_household_of_the_subtree_and_lists_the_excluded(aids):
    p, w = batch_world(aids)
    batch, created = aids.create_batch(p, "gs", federation="gs.by", reason="春节送温暖", idempotency_key="b1",
                                       by="admin")
    assert created
    members = [aids.disbursement(i, "gs") for i in batch.disbursements]
    assert sorted(d.case_id for d in members) == sorted([w["e1"], w["e2"], w["e3"]])
    assert all(d.state == "requested" and d.amount == 100_000 and d.batch_id == str(batch.id) for d in members)
    assert {d.case_id: d.budget_federation for d in members}[w["e3"]] == "gs.by.pg"
    excluded = {x["case_id"]: [c["check"] for c in x["failed"]] for x in batch.excluded}
    assert excluded == {w["marginal"]: ["category"], w["big"]: ["family_size"], w["later"]: ["state"],
                        w["had"]: ["once_per_festival"]}
    assert all(not c["passed"] and c["detail"] for x in batch.excluded for c in x["failed"])
    assert line(aids, p, "gs.by")["requested"] == 300_000  # e1, e2 and the household that had aid already

    again, created = aids.create_batch(p, "gs", federation="gs.by", reason="春节送温暖", idempotency_key="b1",
                                       by="admin")
    assert not created and again.id == batch.id and again.disbursements == batch.disbursements
    with pytest.raises(KeyReused):
        aids.create_batch(p, "gs", federation="gs.ln", reason="春节送温暖", idempotency_key="b1", by="admin")
    second, _ = aids.create_batch(p, "gs", federation="gs.by", reason="春节送温暖", idempotency_key="b2", by="admin")
    assert second.disbursements == []  # every household of the subtree already has its festival aid
    assert_reconciles(aids)


def test_a_batch_is_approved_all_or_nothing_within_its_budgets(aids):
    p, _ = batch_world(aids)
    batch, _ = aids.create_batch(p, "gs", federation="gs.by", reason="春节", idempotency_key="b1", by="admin")
    before, figures = last_notification(aids), reconciled(aids)

    with pytest.raises(BudgetExhausted):  # gs.by has enough for e1 and e2, gs.by.pg not for e3: none is approved
        aids.approve_batch(str(batch.id), "gs", by="approver1")
    assert last_notification(aids) == before and reconciled(aids) == figures
    assert {aids.disbursement(i, "gs").state for i in batch.disbursements} == {"requested"}
    assert aids.batch(str(batch.id), "gs").approval is None

    aids.allocate(program_id=p, federation="gs.by.pg", amount=100_000, scope="gs", by="admin")  # from gs.by's
    with pytest.raises(SeparationOfDuties):
        aids.approve_batch(str(batch.id), "gs", by="admin")  # the batch's creator
    with pytest.raises(SeparationOfDuties):
        aids.approve_batch(str(batch.id), "gs", by="li")  # who verified the batch's households
    assert last_notification(aids) == before + 2  # the allocation's PassedDown and Allocated, nothing else
    approved = aids.approve_batch(str(batch.id), "gs", by="approver1")
    assert approved.approval is not None
    assert (approved.approval["approved"], approved.approval["total"]) == (3, 300_000)
    assert {aids.disbursement(i, "gs").state for i in batch.disbursements} == {"approved"}
    assert line(aids, p, "gs.by")["reserved"] == 200_000 and line(aids, p, "gs.by.pg")["remaining"] == 0
    with pytest.raises(IllegalTransition):
        aids.approve_batch(str(batch.id), "gs", by="approver2")
    assert_reconciles(aids)


def test_bank_results_applied_twice_change_nothing_the_second_time(aids):
    p, w = batch_world(aids)
    aids.allocate(program_id=p, federation="gs.by.pg", amount=100_000, scope="gs", by="admin")
    batch, _ = aids.create_batch(p, "gs", federation="gs.by", reason="春节", idempotency_key="b1", by="admin")
    aids.approve_batch(str(batch.id), "gs", by="approver1")
    by_case = {aids.disbursement(i, "gs").case_id: i for i in batch.disbursements}
    bank_file = aids.bank_file(str(batch.id), "gs")
    assert sorted(r["disbursement_id"] for r in bank_file) == sorted(batch.disbursements)
    assert all(r == {"disbursement_id": r["disbursement_id"], "name": "王芳", "account": "6204**********0012",
                     "amount": "1000.00"} for r in bank_file)

    lines = [
        {"line": 2, "disbursement_id": by_case[w["e1"]], "result": "paid", "date": DAY, "bank_reference": "R-1",
         "reason": ""},
        {"line": 3, "disbursement_id": by_case[w["e2"]], "result": "failed", "date": DAY, "bank_reference": "",
         "reason": "account closed"},
        {"line": 4, "disbursement_id": w["had_aid"], "result": "paid", "date": DAY, "bank_reference": "R-9",
         "reason": ""},
    ]
    first = aids.apply_bank_results(str(batch.id), "gs", lines, "sha-1", by="cashier")
    assert (first["paid"], first["failed"], first["refused"], first["unchanged"]) == (1, 1, 1, 0)
    assert [x["outcome"] for x in first["lines"]] == ["paid", "failed", "refused"]
    figures, after = reconciled(aids), last_notification(aids)
    assert figures[(p, "gs.by")] == {"budget": 300_000, "allocated_to_children": 100_000, "requested": 100_000,
                                     "reserved": 0, "paid": 100_000, "failed": 100_000, "reversed": 0,
                                     "remaining": 100_000}

    second = aids.apply_bank_results(str(batch.id), "gs", lines, "sha-1", by="cashier")
    assert (second["paid"], second["failed"], second["refused"], second["unchanged"]) == (0, 0, 1, 2)
    assert last_notification(aids) == after and reconciled(aids) == figures
    assert aids.disbursement(by_case[w["e1"]], "gs").bank_reference == "R-1"
    assert [r["disbursement_id"] for r in aids.bank_file(str(batch.id), "gs")] == [by_case[w["e3"]]]
    assert aids.disbursement(w["had_aid"], "gs").state == "requested"
    assert_reconciles(aids)


def test_the_list_of_batches_follows_each_through_its_steps_newest_first_in_the_callers_subtree(aids):
    p, w = batch_world(aids)
    aids.allocate(program_id=p, federation="gs.by.pg", amount=100_000, scope="gs", by="admin")
    first, _ = aids.create_batch(p, "gs", federation="gs.by", reason="春节", idempotency_key="b1", by="admin")
    other = program(aids)
    fund(aids, other, {"gs": 1_000_000})
    second, _ = aids.create_batch(other, "gs", federation="gs.by.pg", reason="秋", idempotency_key="b2", by="admin")

    def listed(scope="gs", **query):
        rows, total = aids.batches(scope, query.get("federation"), query.get("program_id"), query.get("offset", 0),
                                   query.get("limit", 100))
        shown = ("batch_id", "included", "excluded", "assembled", "complete", "paid")
        return [tuple(r[c] for c in shown) for r in rows], total

    assert listed() == ([(str(second.id), "1", "0", "1", "0", "0"), (str(first.id), "3", "4", "1", "0", "0")], 2)
    assert listed(program_id=p) == ([(str(first.id), "3", "4", "1", "0", "0")], 1)
    assert listed(offset=1, limit=1) == ([(str(first.id), "3", "4", "1", "0", "0")], 2)
    assert listed("gs.by.pg") == ([(str(second.id), "1", "0", "1", "0", "0")], 1)  # gs.by's batch is above it
    assert listed(federation="gs.ln") == ([], 0)
    with pytest.raises(OutsideScope):
        listed("gs.by.pg", federation="gs.by")

    aids.approve_batch(str(first.id), "gs", by="approver1")
    [row] = aids.batches("gs", None, p, 0, 10)[0]
    assert (row["complete"], row["approved_by"], row["approved_on"]) == ("1", "approver1", AID_TODAY.isoformat())
    by_case = {aids.disbursement(i, "gs").case_id: i for i in first.disbursements}
    aids.apply_bank_results(str(first.id), "gs", [
        {"line": 2, "disbursement_id": by_case[w["e1"]], "result": "paid", "date": DAY, "bank_reference": "R-1",
         "reason": ""},
        {"line": 3, "disbursement_id": by_case[w["e2"]], "result": "failed", "date": DAY, "bank_reference": "",
         "reason": "account closed"}], "sha-1", by="cashier")
    [row] = aids.batches("gs", None, p, 0, 10)[0]
    assert (row["paid"], row["failed"]) == ("1", "1")


def test_a_batch_built_and_approved_in_steps_goes_on_where_an_interruption_left_it(aids, monkeypatch):
    p, w = batch_world(aids)
    aids.allocate(program_id=p, federation="gs.by.pg", amount=100_000, scope="gs", by="admin")
    aids.step = 2  # seven filed households in gs.by: four steps of at most two, then the assembly
    interrupted = {"_assemble_step": 3, "_approval_step": 2}  # the call that is killed, per step kind

    def killed_at(name: str) -> Any:
        real, calls = getattr(Aids, name), []

        def step(self: Aids, *args: Any) -> Any:
            calls.append(1)
            if len(calls) == interrupted[name]:
                raise ConnectionError("killed between two steps")
            return real(self, *args)
        return step

    for name in interrupted:
        monkeypatch.setattr(Aids, name, killed_at(name))
    with pytest.raises(ConnectionError):
        aids.create_batch(p, "gs", federation="gs.by", reason="春节", idempotency_key="b1", by="admin")
    half = aids.batch(str(Batch.create_id("b1")), "gs")
    assert not half.assembled and len(half.disbursements) + len(half.excluded) == 4  # two steps of two
    with pytest.raises(IllegalTransition, match="still being assembled"):
        aids.approve_batch(str(half.id), "gs", by="approver1")

    batch, created = aids.create_batch(p, "gs", federation="gs.by", reason="春节", idempotency_key="b1", by="admin")
    assert not created and batch.assembled and batch.id == half.id
    assert sorted(aids.disbursement(i, "gs").case_id for i in batch.disbursements) == sorted(
        [w["e1"], w["e2"], w["e3"]])
    assert sorted(x["case_id"] for x in batch.excluded) == sorted([w["marginal"], w["big"], w["later"], w["had"]])
    requested = [e for e in stored_events(aids) if type(e).__qualname__ == "Disbursement.Requested"]
    assert len(requested) == 4  # the three of the batch, each once, and the household that had aid already

    with pytest.raises(ConnectionError):  # the decision and the first step of two are stored, then it dies
        aids.approve_batch(str(batch.id), "gs", by="approver1")
    half = aids.batch(str(batch.id), "gs")
    assert half.approval is not None and not half.approved and half.approval["applied"] == 2
    assert line(aids, p, "gs.by")["reserved"] + line(aids, p, "gs.by.pg")["reserved"] == 300_000
    with pytest.raises(IllegalTransition, match="approval is complete"):
        aids.bank_file(str(batch.id), "gs")
    last = half.approval["pending"][-1]
    exit_case(aids, aids.disbursement(last, "gs").case_id)  # its request is cancelled before the approval reaches it

    done = aids.approve_batch(str(batch.id), "gs", by="approver2")  # any approver finishes it, as approver1's
    assert done.approved and done.approval is not None
    assert (done.approval["by"], done.approval["applied"], done.approval["released"]) == ("approver1", 3, 1)
    states = sorted(aids.disbursement(i, "gs").state for i in batch.disbursements)
    assert states == ["approved", "approved", "cancelled"]
    assert sum(line(aids, p, f)["reserved"] for f in ("gs.by", "gs.by.pg")) == 200_000  # the cancelled share is back
    assert len(aids.bank_file(str(batch.id), "gs")) == 2
    with pytest.raises(IllegalTransition, match="already approved"):
        aids.approve_batch(str(batch.id), "gs", by="approver2")
    assert_reconciles(aids)


# Reconciliation against the events, after a bit of everything.


def test_reconciliation_equals_a_recount_from_the_stored_events(aids):
    festival = program(aids)
    living = program(aids, kind="living", amount=None, rule={"max": 80_000})
    fund(aids, festival, {"gs": 2_000_000, "gs.by": 800_000, "gs.ln": 300_000})
    fund(aids, living, {"gs": 500_000, "gs.by": 200_000})
    cases = [file_case(aids, federation=f) for f in ("gs.by", "gs.by", "gs.by.pg", "gs.ln", "gs.ln", "gs")]
    ds = [ask(aids, c, festival) for c in cases] + [ask(aids, c, living, amount=33_333) for c in cases[:4]]
    for d in ds[1:]:
        aids.approve(str(d.id), "gs", by="approver1")
    for d in ds[2:8]:
        aids.pay(str(d.id), "gs", paid_on=DAY, bank_reference=f"B{d.amount}", by="cashier")
    aids.fail(str(ds[8].id), "gs", failed_on=DAY, reason="returned", by="cashier")
    aids.reverse(str(ds[2].id), "gs", reversed_on=DAY, reason="recovered", by="cashier")
    aids.reject(str(ds[0].id), "gs", reason="no", by="approver1")
    exit_case(aids, cases[3], federation="gs.ln")  # its approved living aid is paid: stays; nothing pending
    exit_case(aids, cases[1])  # its festival aid is approved, unpaid: cancelled
    aids.allocate(program_id=festival, federation="gs.ln", amount=250_000, scope="gs", by="admin")
    goods = program(aids, kind="goods", amount=None, rule={"max": 50_000})
    fund(aids, goods, {"gs": 100_000})
    quilt, _ = aids.deliver(case_id=cases[5], program_id=goods, delivered_on=AID_TODAY, idempotency_key="g",
                            items=[{"item": "棉被", "quantity": 2, "unit": "床", "value": "150.25"}], reason="冬衣",
                            scope="gs", by="caseworker1")
    aids.approve(str(quilt.id), "gs", by="approver1")

    counted = assert_reconciles(aids)
    assert counted[(festival, "gs.by")]["paid"] == 0  # cases[2] at gs.by.pg draws on gs.by: paid, then reversed
    assert counted[(festival, "gs.by")]["reversed"] == 100_000
    assert counted[(living, "gs.by")]["failed"] == 33_333
    assert counted[(festival, "gs")]["paid"] == 100_000  # the gs case draws on gs itself
    assert counted[(goods, "gs")]["reserved"] == 15_025  # the line's value, whatever the quantity
    assert sum(r["reserved"] for r in counted.values()) == 15_025
    # A second instance reading the same store reports the same.
    if aids.env.get("PERSISTENCE_MODULE", "").endswith("MemoryIndexedFactory"):
        return
    other = Aids(aids.env)
    try:
        assert reconciled(other) == counted
    finally:
        other.close()


# Races: two service instances over one store, many requests at the same moment.


def instances(request, tmp_path, backend, count=2) -> list[Aids]:
    env = backend_env(request, tmp_path, backend)
    apps = [Aids(env) for _ in range(count)]
    for app in apps:
        app.today = lambda: AID_TODAY
    return apps


def race(calls: list[Any]) -> list[Any]:
    """Run every call at once (one thread each, released together); each one's result or exception."""
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(n: int) -> None:
        start.wait()
        try:
            outcomes[n] = calls[n]()
        except Exception as problem:
            outcomes[n] = problem

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return outcomes


@pytest.mark.parametrize("backend", RACE_BACKENDS)
def test_what_one_replica_cached_never_decides_after_another_replica_changed_it(request, tmp_path, backend):
    """A replica approves and requests from the copies it cached (no read of what was stored since): a copy
    another replica has changed meanwhile costs a refused save and a fresh read, never a wrong decision."""
    a, b = instances(request, tmp_path, backend)
    try:
        p = program(a)
        fund(a, p, {"gs": 1_000_000})
        rejected, spent, household = ask(a, file_case(a), p), ask(a, file_case(a), p), file_case(a)
        a.approve(str(spent.id), "gs", by="approver1")  # a caches the budget as it left it
        a.reject(str(ask(a, household, p).id), "gs", reason="重复", by="approver1")  # a caches the household free

        b.reject(str(rejected.id), "gs", reason="材料不全", by="approver2")
        b.allocate(program_id=p, federation="gs", amount=100_000, scope="gs", by="admin")  # all of it reserved
        ask(b, household, p, key="k-b")  # b takes the household's festival aid

        with pytest.raises(IllegalTransition, match="rejected"):
            a.approve(str(rejected.id), "gs", by="approver1")
        with pytest.raises(NotEligible):
            ask(a, household, p, key="k-a")  # once per festival: a sees b's request, not its cached copy
        other = ask(a, file_case(a), p)
        with pytest.raises(BudgetExhausted):
            a.approve(str(other.id), "gs", by="approver1")  # b's reduction is seen: 0 left after spent's 100,000
        assert line(a, p, "gs")["reserved"] == 100_000
        assert_reconciles(a)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("backend", RACE_BACKENDS)
def test_a_request_refused_on_a_cached_household_is_decided_again_on_the_stored_one(request, tmp_path, backend):
    """A household asked for before its filing reached this replica is cached as not filed; once another
    replica has applied the filing, the next request here must see it, not be refused on the stale copy."""
    from tests.aid_flows import envelope, opened_payload

    a, b = instances(request, tmp_path, backend)
    try:
        p = program(a)
        fund(a, p, {"gs": 1_000_000})
        case_id = str(uuid4())
        a.apply_intake_event(envelope(case_id, "CaseOpened", opened_payload()))
        with pytest.raises(NotEligible, match="not filed"):
            ask(a, case_id, p)  # a now holds the household, open, in its cache
        b.apply_intake_event(envelope(case_id, "CaseVerified", {
            "visitors": ["赵", "钱"], "visited_on": "2026-02-01", "per_capita_income": "400.00", "findings": "ok",
            "by": "li"}))
        b.apply_intake_event(envelope(case_id, "CaseFiled", {"filed_on": "2026-03-01"}))
        assert ask(a, case_id, p).state == "requested"
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("backend", RACE_BACKENDS)
def test_fifty_approvals_racing_for_a_budget_of_twenty_approve_exactly_twenty(request, tmp_path, backend):
    apps = instances(request, tmp_path, backend)
    try:
        setup = apps[0]
        p = program(setup)
        fund(setup, p, {"gs": 20 * 100_000})
        ids = [str(ask(setup, file_case(setup), p).id) for _ in range(50)]

        outcomes = race([lambda n=n, i=i: apps[n % len(apps)].approve(i, "gs", by=f"approver{n}")
                         for n, i in enumerate(ids)])

        approved = [o for o in outcomes if not isinstance(o, Exception)]
        refused = [o for o in outcomes if isinstance(o, Exception)]
        assert len(approved) == 20, [type(o).__name__ for o in refused]
        assert len(refused) == 30 and all(isinstance(o, BudgetExhausted) for o in refused), {
            type(o).__name__: str(o) for o in refused}
        for app in apps:
            assert line(app, p, "gs") == {"budget": 2_000_000, "allocated_to_children": 0, "requested": 3_000_000,
                                          "reserved": 2_000_000, "paid": 0, "failed": 0, "reversed": 0,
                                          "remaining": 0}
        states = [apps[1].disbursement(i, "gs").state for i in ids]
        assert states.count("approved") == 20 and states.count("requested") == 30
        assert_reconciles(apps[1])
    finally:
        for app in apps:
            app.close()


@pytest.mark.parametrize("backend", RACE_BACKENDS)
def test_one_idempotency_key_sent_ten_times_at_once_makes_one_disbursement(request, tmp_path, backend):
    apps = instances(request, tmp_path, backend)
    try:
        p = program(apps[0])
        fund(apps[0], p, {"gs": 1_000_000})
        case_id = file_case(apps[0])

        outcomes = race([lambda n=n: ask_with_key(apps[n % len(apps)], case_id, p, "the-key") for n in range(10)])

        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        assert len({d.id for d, _ in outcomes}) == 1
        assert sorted(created for _, created in outcomes) == [False] * 9 + [True]
        made = [e for e in stored_events(apps[1]) if type(e).__qualname__ == "Disbursement.Requested"]
        assert [e.originator_id for e in made] == [outcomes[0][0].id]
        assert [r["case_id"] for r in apps[1].disbursements("gs", None, None, None, 100)] == [case_id]
        assert list(apps[1]._case(case_id).holdings) == [str(outcomes[0][0].id)]
        assert line(apps[1], p, "gs")["requested"] == 100_000
    finally:
        for app in apps:
            app.close()


def test_a_payment_or_a_referral_dated_after_tomorrow_is_refused_naming_the_field(aids):
    p = program(aids)
    fund(aids, p, {"gs": 1_000_000})
    case_id = file_case(aids)
    d = aids.approve(str(ask(aids, case_id, p).id), "gs", by="approver1")
    with pytest.raises(InvalidValue) as refused:
        aids.pay(str(d.id), "gs", paid_on=date(2026, 12, 3), bank_reference="B1", by="cashier")
    assert refused.value.fields == {"paid_on": ["2026-12-03 is in the future; the latest date accepted is 2026-12-02"]}
    assert aids.disbursement(str(d.id), "gs").state == "approved"
    assert aids.pay(str(d.id), "gs", paid_on=date(2026, 12, 2), bank_reference="B1", by="cashier").state == "paid"
    with pytest.raises(InvalidValue, match="referred_on"):
        aids.refer(case_id=case_id, person="worker", employer="白银公司", position="电焊工", wage_offered=None,
                   referred_on=date(2027, 1, 1), scope="gs", by="caseworker1")
