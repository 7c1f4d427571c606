"""Aid's integration events are built field by field from its stored events.

Every stored event aid can produce is either published, filling exactly its v1 schema in
services/contracts/aid_events.py, or listed INTERNAL; no payload carries a name or an ID number (people
are digests); every disbursement step carries its amount, program kind, rule version and who acted.
"""

import hashlib
import re
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.aid.application import SYSTEM, Aids
from services.aid.domain import WORKER
from services.aid.outbound import BUILDERS, INTERNAL, TYPES, aid_event
from services.contracts import EnvelopeSchema, encode
from services.contracts.aid_events import SCHEMAS
from services.contracts.envelope import event_id as stored_event_id
from services.eventstore import store_env
from tests.aid_flows import AID_TODAY, ask, digest, envelope, exit_case, file_case, fund, opened_payload, program

DAY = AID_TODAY
LATER = date(2026, 12, 2)  # a day after AID_TODAY: the latest a business date may be
NAMES = ("王芳", "张三", "孩子0", "李四")  # the worker and members in tests.aid_flows, and an amended member
ID_NUMBER = re.compile(r"(?<![0-9a-f])\d{17}[\dXx](?![0-9a-f])")  # an 18-character resident ID number
STEP_TYPES = {"DisbursementApproved", "DisbursementRejected", "DisbursementPaid", "DisbursementConfirmed",
              "DisbursementFailed", "DisbursementReversed", "DisbursementCancelled"}


def approve(app: Aids, d: Any) -> Any:
    return app.approve(str(d.id), "gs", by="approver1")


def pay(app: Aids, d: Any, on: date = DAY) -> Any:
    return app.pay(str(d.id), "gs", paid_on=on, bank_reference=f"B{str(d.id)[:8]}", by="approver1")


def every_kind_of_event(app: Aids) -> dict[str, Any]:
    """Programs, budgets, every disbursement step, goods, a batch with its bank results, a referral and a
    training, and every kind of intake fact aid keeps; what the tests need to check them."""
    festival = program(app)
    fund(app, festival, {"gs": 10_000_000, "gs.by": 5_000_000})
    medical = program(app, "medical", amount=None, rule={"share": "0.5", "cap": 300_000})
    fund(app, medical, {"gs": 10_000_000})
    goods = program(app, "goods", amount=None, rule={"max": 50_000})
    fund(app, goods, {"gs": 1_000_000})

    confirmed, reversed_, rejected, failed, cancelled, medical_case = (file_case(app) for _ in range(6))
    d = pay(app, approve(app, ask(app, confirmed, festival)))
    app.confirm(str(d.id), "gs", confirmed_on=LATER, confirmed_by="户主签字", by="caseworker1")
    d = pay(app, approve(app, ask(app, reversed_, festival)))
    app.reverse(str(d.id), "gs", reversed_on=LATER, reason="冒领", by="approver1")
    app.reject(str(ask(app, rejected, festival).id), "gs", reason="重复申请", by="approver1")
    d = approve(app, ask(app, failed, festival))
    app.fail(str(d.id), "gs", failed_on=LATER, reason="账户已注销", by="approver1")
    approve(app, ask(app, cancelled, festival))
    exit_case(app, cancelled)  # cancels its approved request

    before = ask(app, medical_case, medical, out_of_pocket=20_101)  # decided on version 1
    app.revise_program(medical, "gs", amount=None, rule={"share": "0.6", "cap": 300_000}, eligibility={},
                       reason="提高报销比例", by="admin")
    approve(app, before)
    after = ask(app, file_case(app), medical, out_of_pocket=20_101)  # version 2
    pay(app, approve(app, after))

    delivered, _ = app.deliver(case_id=medical_case, program_id=goods, delivered_on=DAY, reason="冬季物资",
                               idempotency_key=str(uuid4()), scope="gs", by="caseworker1",
                               items=[{"item": "大米", "quantity": 10, "unit": "kg", "value": "80.00"},
                                      {"item": "食用油", "quantity": 2, "unit": "桶", "value": "120.00"}])
    pay(app, approve(app, delivered))

    # Intake facts aid keeps to itself: an amendment (with a new member's name), a rejected open case.
    amended = file_case(app)
    new_member = {"name": "李四", "relation": "child", "age": 3, "health": "good", "schooling": "none",
                  "id_number_masked": "6204**********9999", "id_digest": digest(str(uuid4()))}
    members = [*opened_payload()["household"]["members"], new_member]
    app.apply_intake_event(envelope(amended, "CaseAmended", {
        "changed": ["category", "household"], "reason": "新生儿", "by": "li",
        "changes": {"category": "marginal", "household": {"members": members}}}))
    closed = str(uuid4())
    app.apply_intake_event(envelope(closed, "CaseOpened", opened_payload()))
    app.apply_intake_event(envelope(closed, "CaseRejected", {"reason": "收入超标", "by": "li"}))

    # A batch of a second festival program for the subsistence households: the amended one is left out.
    second = program(app, categories=["subsistence"])
    fund(app, second, {"gs": 10_000_000})
    batch, _ = app.create_batch(second, "gs", federation="gs.by", reason="春节慰问", idempotency_key=str(uuid4()),
                                by="caseworker1")
    app.approve_batch(str(batch.id), "gs", by="approver1")
    lines = [{"line": n, "disbursement_id": did, "result": "paid" if n % 2 else "failed", "date": DAY,
              "bank_reference": f"R{n}", "reason": None if n % 2 else "户名不符"}
             for n, did in enumerate(batch.disbursements, start=1)]
    app.apply_bank_results(str(batch.id), "gs", lines, hashlib.sha256(b"bank file").hexdigest(), by="approver1")

    worker_referral = app.refer(case_id=confirmed, person=WORKER, employer="白银公司", position="电焊工",
                                wage_offered=400_000, referred_on=DAY, scope="gs", by="li")
    app.record_outcome(str(worker_referral.id), "gs", outcome="interviewed", monthly_wage=None, recorded_on=DAY,
                       by="li")
    app.record_outcome(str(worker_referral.id), "gs", outcome="hired", monthly_wage=420_000, recorded_on=LATER,
                       by="li")
    member = app._case(confirmed).members[0]["id_digest"]
    app.refer(case_id=confirmed, person=member, employer="白银商场", position="收银员", wage_offered=None,
              referred_on=DAY, scope="gs", by="li")
    course = app.create_training(course="电焊工", provider="白银技校", federation="gs.by", starts_on=date(2026, 4, 1),
                                 ends_on=date(2026, 12, 31), scope="gs", by="admin")
    for person in (WORKER, member):
        app.enrol(str(course.id), "gs", case_id=confirmed, person=person, enrolled_on=date(2026, 4, 1), by="li")
    app.complete(str(course.id), "gs", case_id=confirmed, person=WORKER, completed_on=DAY,
                 certificate="GS-2026-0001", by="li")
    app.drop_out(str(course.id), "gs", case_id=confirmed, person=member, dropped_on=DAY, reason="外出务工", by="li")
    return {"before": str(before.id), "after": str(after.id), "programs": {festival, medical, goods, second}}


def stored(app: Aids) -> list[tuple[Any, Any]]:
    """Every stored event with its notification, as the outbox relay reads them."""
    return [(n, app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(start=1, limit=10000)]


@pytest.fixture(scope="module")
def world():
    app = Aids(store_env("memory://"))
    app.today = lambda: AID_TODAY
    made = every_kind_of_event(app)
    yield app, stored(app), made
    app.close()


@pytest.fixture(scope="module")
def published(world):
    app, events, _ = world
    now = datetime(2026, 12, 5, tzinfo=UTC)
    return [(e, aid_event(app, n, now)) for n, e in events]


def test_every_published_type_validates_against_its_schema_with_exactly_its_fields(published):
    seen = set()
    for _, env in published:
        if env is None:
            continue
        encode(env, check=True)  # raises InvalidEvent if the payload breaks its schema
        schema = SCHEMAS[env.type]()
        assert schema.validate(env.payload) == {}, (env.type, env.payload)
        assert set(env.payload) == set(schema.fields), env.type  # no extra key leaks
        assert "federation" not in env.payload and "case_id" not in env.payload  # they travel in the envelope
        seen.add(env.type)
    assert seen == set(SCHEMAS) == set(TYPES.values())


def test_every_stored_type_is_published_or_internal(world, published):
    _, events, _ = world
    names = {type(e).__qualname__ for _, e in events}
    assert names == set(BUILDERS) | set(INTERNAL)  # the flow stores every kind there is
    internal = {type(e).__qualname__ for e, env in published if env is None}
    assert internal == set(INTERNAL) and not internal & set(BUILDERS)


def test_a_stored_event_neither_published_nor_internal_stops_the_relay(world, monkeypatch):
    app, events, _ = world

    class Unheard:
        pass

    monkeypatch.setattr(app.mapper, "to_domain_event", lambda n: Unheard())
    with pytest.raises(LookupError, match="neither published nor internal"):
        aid_event(app, events[0][0], datetime.now(UTC))


def test_no_payload_carries_a_name_or_an_id_number(published):
    people = []
    for _, env in published:
        if env is None:
            continue
        raw = encode(env).decode()
        for name in NAMES:
            assert name not in raw, env.type
        assert not ID_NUMBER.search(raw), env.type
        for field in ("person", "beneficiary"):
            if env.payload.get(field) is not None:
                people.append(env.payload[field])
    assert people and all(re.fullmatch(r"[0-9a-f]{64}", p) for p in people)  # digests, never "worker" or a name


def test_the_worker_referred_or_trained_is_published_as_the_workers_digest(world, published):
    app, _, _ = world
    referred = [env for _, env in published if env is not None and env.type == "ReferralMade"]
    case = app._case(referred[0].case_id)
    assert [r.payload["person"] for r in referred] == [case.worker["id_digest"], case.members[0]["id_digest"]]
    assert referred[0].payload["monthly_wage_offered"] == "4000.00"
    assert referred[1].payload["monthly_wage_offered"] is None


def test_every_disbursement_step_carries_amount_kind_rule_version_and_who_acted(published):
    steps = [env for _, env in published if env is not None and env.type in STEP_TYPES]
    assert {env.type for env in steps} == STEP_TYPES
    requested = {env.payload["disbursement_id"]: env for _, env in published
                 if env is not None and env.type == "DisbursementRequested"}
    for env in steps:
        first = requested[env.payload["disbursement_id"]]
        assert env.payload["amount"] == first.payload["amount"], env.type
        assert env.payload["kind"] == first.payload["kind"], env.type
        assert env.payload["rule_version"] == first.payload["decision"]["rule_version"], env.type
        assert env.payload["by"], env.type
        assert env.case_id == first.case_id and env.federation == first.federation, env.type
    cancelled = next(env for env in steps if env.type == "DisbursementCancelled")
    assert cancelled.payload["by"] == SYSTEM and cancelled.payload["reason"].startswith("the case exited")


def test_a_step_keeps_the_rule_version_its_request_was_decided_on(world, published):
    _, _, made = world
    approvals = {env.payload["disbursement_id"]: env.payload for _, env in published
                 if env is not None and env.type == "DisbursementApproved"}
    assert approvals[made["before"]]["rule_version"] == 1  # approved after the program was revised
    assert approvals[made["before"]]["amount"] == "100.51"  # half of 201.01, rounded half up
    assert approvals[made["after"]]["rule_version"] == 2 and approvals[made["after"]]["amount"] == "120.61"


def test_money_is_published_as_two_place_yuan(published):
    [goods] = [env.payload for _, env in published if env is not None and env.type == "DisbursementRequested"
               and env.payload["form"] == "goods"]
    assert goods["amount"] == "200.00" and [i["value"] for i in goods["items"]] == ["80.00", "120.00"]
    allocations = [env.payload for _, env in published if env is not None and env.type == "BudgetAllocated"]
    assert {"amount": "50000.00", "delta": "50000.00"}.items() <= allocations[1].items()  # gs.by out of gs


def test_the_envelope_is_keyed_by_the_case_or_by_the_records_own_id(world, published):
    _, _, made = world
    schema = EnvelopeSchema()
    household = ("Disbursement", "Batch.Excluded", "Referral", "Training.Enrolled", "Training.Completed",
                 "Training.DroppedOut")
    for domain_event, env in published:
        if env is None:
            continue
        name = type(domain_event).__qualname__
        assert schema.validate(env.to_dict()) == {}, name
        assert (env.service, env.version, env.type) == ("aid", 1, TYPES[name])
        assert env.occurred_at == domain_event.timestamp and env.federation == domain_event.federation
        if name.startswith(household):
            assert env.case_id == domain_event.case_id != str(domain_event.originator_id), name
        else:
            assert env.case_id == str(domain_event.originator_id), name
        if name.startswith("Program."):
            assert env.case_id in made["programs"] and env.federation == "gs"


def test_the_same_stored_event_always_gets_the_same_event_id(world, published):
    app, events, _ = world
    again = [aid_event(app, n, datetime(2027, 1, 1, tzinfo=UTC)) for n, _ in events]
    ids = [env.event_id for _, env in published if env is not None]
    assert ids == [env.event_id for env in again if env is not None]
    assert len(set(ids)) == len(ids)
    for domain_event, env in published:
        if env is not None:
            assert env.event_id == stored_event_id(domain_event.originator_id, domain_event.originator_version)
            assert UUID(env.event_id)


def test_a_batch_publishes_its_creation_exclusions_approval_and_bank_results(published):
    batch = {env.type: env for _, env in published if env is not None and env.type.startswith(("Batch", "Bank"))}
    created, excluded = batch["BatchCreated"].payload, batch["BatchExcluded"].payload
    assert created["amount"] == "1000.00" and created["total"] == yuan_times(created["amount"], created["included"])
    assert [c["check"] for c in excluded["failed"]] == ["category"]
    assert batch["BatchApproved"].payload["approved"] == created["included"]
    results = batch["BankResultsImported"].payload
    assert results["paid"] + results["failed"] == created["included"] and results["refused"] == 0


def yuan_times(amount: str, count: int) -> str:
    whole, cents = amount.split(".")
    total = (int(whole) * 100 + int(cents)) * count
    return f"{total // 100}.{total % 100:02d}"
