"""What an auditor reads from the trail alone, on memory, SQLite and PostgreSQL: a case as of a day, its
clarity card (JSON and the printable page), the household-clear check and the anomalies, each line proved by
the indexes of the entries it comes from."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.audit.card_page import render
from services.audit.log import ENTRIES
from services.contracts import Envelope
from tests.trail_flows import append

TOPICS = {"intake": "relief.intake.case-events", "pairing": "relief.pairing.pairing-events",
          "aid": "relief.aid.aid-events"}
WORKER = {"name": "王芳", "id_number_masked": "6204**********0012", "id_digest": "a" * 64,
          "phone_masked": "139****5678", "employer": "白银公司", "migrant": False}
CHILD_DIGEST = "c" * 64
HOUSEHOLD = {"members": [{"name": "张小明", "relation": "child", "age": 18, "health": "healthy", "schooling": "college",
                          "id_number_masked": "6204**********1234", "id_digest": CHILD_DIGEST}],
             "monthly_income": "1200.00", "subsistence_line": "800.00", "per_capita_income": "600.00"}


class World:
    """Events of three services appended to the trail in order, each at its own topic's next offset."""

    def __init__(self, trail: Any) -> None:
        self.trail, self.offsets = trail, dict.fromkeys(TOPICS.values(), 0)

    def add(self, service: str, kind: str, case_id: str, on: str, payload: dict[str, Any],
            federation: str = "gs.by.pg") -> int:
        at = datetime.fromisoformat(on).replace(hour=2, tzinfo=UTC)  # 10:00 in China
        envelope = Envelope(str(uuid.uuid4()), kind, 1, at, at, federation, case_id, service, payload)
        topic = TOPICS[service]
        append(self.trail, [(envelope, None)], topic, self.offsets[topic])
        self.offsets[topic] += 1
        return self.trail.head().size - 1

    def household(self, case_id: str, verifier: str, opened_on: str = "2026-01-05") -> None:
        self.add("intake", "CaseOpened", case_id, opened_on, {
            "worker": {**WORKER, "id_digest": uuid.uuid4().hex * 2}, "household": HOUSEHOLD, "category": "subsistence",
            "causes": ["illness", "education"], "opened_by": "cw", "imported": None})
        self.add("intake", "CaseVerified", case_id, "2026-01-08", {
            "visitors": [verifier, "li"], "visited_on": "2026-01-08", "per_capita_income": "600.00",
            "findings": "丈夫因病失去劳动能力", "by": verifier})
        self.add("intake", "CaseDeliberated", case_id, "2026-01-12", {
            "decided_on": "2026-01-12", "outcome": "recommend", "notes": None, "by": "cw"})
        self.add("intake", "NoticePublished", case_id, "2026-01-13", {
            "starts_on": "2026-01-13", "days": 7, "ends_on": "2026-01-20", "by": "cw"})
        self.add("intake", "CaseApproved", case_id, "2026-01-21", {"approved_on": "2026-01-21", "approver": "wang"})
        self.add("intake", "CaseFiled", case_id, "2026-01-21", {"filed_on": "2026-01-21"})

    def disbursement(self, case_id: str, program: str, on: str, requester: str, steps: list[tuple[str, str, str]],
                     amount: str = "1000.00", beneficiary: str | None = None) -> str:
        did = str(uuid.uuid4())
        self.add("aid", "DisbursementRequested", case_id, on, {
            "disbursement_id": did, "program_id": program, "kind": "festival", "form": "money", "amount": amount,
            "items": None, "delivered_on": None, "reason": "春节送温暖", "beneficiary": beneficiary, "batch_id": None,
            "budget_federation": "gs.by", "decision": {"rule_version": 1, "passed": True, "checks": []},
            "requested_on": on, "by": requester})
        for kind, day, by in steps:
            extra = {"bank_reference": "BANK-1"} if kind == "DisbursementPaid" else {}
            extra |= {"confirmed_by": "王芳"} if kind == "DisbursementConfirmed" else {}
            self.add("aid", kind, case_id, day, {"disbursement_id": did, "kind": "festival", "amount": amount,
                                                 "rule_version": 1, "on": day, "reason": None, "by": by, **extra})
        return did


@pytest.fixture
def world(trail) -> dict[str, Any]:
    """Household A in good order; household B with every anomaly the checks look for."""
    w = World(trail)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    unit, cadre, program, training = (str(uuid.uuid4()) for _ in range(4))
    w.household(a, "zhang")
    w.household(b, "approver2")
    w.add("intake", "MeasurePlanned", a, "2026-01-22", {
        "measure_id": "m1", "kind": "employment", "description": "推荐<b>电焊</b>岗位", "planned_on": "2026-01-22",
        "due_on": "2026-06-30", "by": "cw"})
    w.add("pairing", "UnitRegistered", unit, "2026-01-02", {"unit_id": unit, "name": "白银市人社局",
                                                           "function": "employment", "by": "admin"}, "gs.by")
    w.add("pairing", "CadreRegistered", cadre, "2026-01-02", {
        "cadre_id": cadre, "name": "刘洋", "unit_id": unit, "rank": "staff", "phone_masked": "138****0000",
        "user": "liuyang", "by": "admin"}, "gs.by")
    w.add("pairing", "PairingAssigned", a, "2026-01-25", {
        "unit_id": unit, "cadre_id": cadre, "contact": "刘洋", "rule": {"summary": "因病 → 人社"},
        "assigned_on": "2026-01-25", "by": "pairing"})
    w.add("pairing", "VisitRecorded", a, "2026-02-10", {
        "visit_id": str(uuid.uuid4()), "visited_on": "2026-02-10", "kind": "routine", "findings": "病情稳定",
        "problems_solved": "办理医保", "measures": "就业推荐", "next_steps": "跟进培训", "visitor": "liuyang",
        "cadre_id": cadre})
    w.add("aid", "ProgramCreated", program, "2026-01-03", {
        "program_id": program, "name": "2026年春节送温暖", "kind": "festival", "year": 2026,
        "festival": "spring_festival", "help": "social_assistance", "version": 1,
        "terms": {"amount": "1000.00", "rule": None, "eligibility": {
            "include_exited": False, "categories": [], "causes": [], "household_cap": "1500.00",
            "min_members": None, "max_members": None}}, "by": "admin"}, "gs")
    w.add("aid", "BudgetAllocated", str(uuid.uuid4()), "2026-01-04",
          {"program_id": program, "amount": "100000.00", "delta": "100000.00", "by": "admin"}, "gs")
    budget = w.add("aid", "BudgetAllocated", str(uuid.uuid4()), "2026-01-04",
                   {"program_id": program, "amount": "2000.00", "delta": "2000.00", "by": "admin"}, "gs.by")
    good = w.disbursement(a, program, "2026-02-01", "cw1", [
        ("DisbursementApproved", "2026-02-02", "approver1"), ("DisbursementPaid", "2026-02-03", "bank"),
        ("DisbursementConfirmed", "2026-02-05", "cw1")])
    referral = str(uuid.uuid4())
    w.add("aid", "ReferralMade", a, "2026-02-06", {
        "referral_id": referral, "person": "worker", "employer": "白银公司", "position": "电焊工",
        "monthly_wage_offered": "3500.00", "referred_on": "2026-02-06", "by": "cw1"})
    w.add("aid", "ReferralOutcome", a, "2026-03-02", {
        "referral_id": referral, "outcome": "hired", "monthly_wage": "3500.00", "recorded_on": "2026-03-02",
        "by": "cw1"})
    w.add("aid", "TrainingCreated", training, "2026-01-10", {
        "training_id": training, "course": "电焊工培训", "provider": "白银技师学院", "starts_on": "2026-02-01",
        "ends_on": "2026-03-01", "by": "admin"}, "gs.by")
    w.add("aid", "TrainingEnrolled", a, "2026-02-01", {"training_id": training, "person": "a" * 64,
                                                       "enrolled_on": "2026-02-01", "by": "cw1"})
    w.add("aid", "TrainingCompleted", a, "2026-03-01", {"training_id": training, "person": "a" * 64,
                                                        "completed_on": "2026-03-01", "certificate": "焊工证",
                                                        "by": "cw1"})
    by_requester = w.disbursement(b, program, "2026-02-01", "cw2", [
        ("DisbursementApproved", "2026-02-02", "cw2"), ("DisbursementPaid", "2026-02-03", "bank")])
    by_verifier = w.disbursement(b, program, "2026-02-01", "cw3", [
        ("DisbursementApproved", "2026-02-02", "approver2"), ("DisbursementPaid", "2026-02-04", "bank")])
    exit_index = w.add("intake", "CaseExited", b, "2026-03-01", {
        "reason": "other", "exited_on": "2026-03-01", "notes": None, "by": "cw"})
    after_exit = w.disbursement(b, program, "2026-03-04", "cw4", [("DisbursementPaid", "2026-03-05", "bank")])
    return {"a": a, "b": b, "unit": unit, "cadre": cadre, "program": program, "budget": budget, "good": good,
            "by_requester": by_requester, "by_verifier": by_verifier, "after_exit": after_exit,
            "exit_index": exit_index, "events": w}


def entry_type(trail, index: int) -> str:
    row = trail.select_rows(ENTRIES, keys=[f"{index:012d}"])[0]
    return str(json.loads(row["entry"])["event"]["type"])


def test_the_case_as_of_a_day_is_what_the_trail_had_recorded_by_then(trail, world):
    before = trail.as_of(world["a"], date(2026, 1, 10))
    assert before["state"] == "verified" and before["disbursements"] == [] and before["pairing"] is None

    filed = trail.as_of(world["a"], date(2026, 1, 21))
    assert filed["state"] == "filed" and filed["dates"]["filed_on"] == "2026-01-21"
    assert filed["filed_periods"][0]["filed_on"] == "2026-01-21"

    paid = trail.as_of(world["a"], date(2026, 2, 4))
    (d,) = paid["disbursements"]
    assert d["status"] == "paid" and paid["paid_total"] == "1000.00"
    assert [entry_type(trail, s["index"]) for s in d["steps"]] == [
        "DisbursementRequested", "DisbursementApproved", "DisbursementPaid"]
    assert paid["pairing"]["cadre_id"] == world["cadre"] and paid["visits"] == []  # visited on 10 February
    assert paid["visit_standing"] == {"last_visit_on": None, "next_due_by": "2026-03-31", "overdue": None}

    later = trail.as_of(world["a"], date(2026, 7, 15))
    assert [v["visited_on"] for v in later["visits"]] == ["2026-02-10"]
    assert later["disbursements"][0]["status"] == "confirmed"
    assert later["referrals"][0]["position"] == "电焊工" and later["trainings"][0]["status"] == "completed"
    assert later["visit_standing"]["overdue"]["due_by"] == "2026-06-30"  # no visit in the second quarter

    exited = trail.as_of(world["b"], date(2026, 3, 2))
    assert exited["state"] == "exited" and exited["filed_periods"][0]["exited_on"] == "2026-03-01"

    with pytest.raises(Exception, match="no entry recorded"):
        trail.as_of(world["a"], date(2025, 12, 31))


def test_the_clarity_card_links_every_line_to_its_entries_and_prints_in_chinese(trail, world):
    card = trail.card(world["a"], date(2026, 3, 10))
    assert card["worker"]["name"] == "王芳" and card["household"]["members"][0]["name"] == "张小明"
    assert card["pairing"]["unit_name"] == "白银市人社局" and card["pairing"]["cadre_name"] == "刘洋"
    assert card["pairing"]["contact"] == "刘洋"
    (money,) = card["money"]
    assert (money["program"], money["status"], money["paid_on"], money["confirmed_on"]) == (
        "2026年春节送温暖", "confirmed", "2026-02-03", "2026-02-05")
    assert [entry_type(trail, i) for i in money["indexes"]] == [
        "DisbursementRequested", "DisbursementApproved", "DisbursementPaid", "DisbursementConfirmed"]
    assert card["trainings"][0]["course"] == "电焊工培训" and card["trainings"][0]["certificate"] == "焊工证"
    assert entry_type(trail, card["measures"][0]["indexes"][0]) == "MeasurePlanned"

    page = render(card)
    assert page.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in page and "困难职工家庭帮扶明白卡" in page
    assert "王芳" in page and "1,000.00 元" in page and "2026年2月3日" in page and "已签收" in page
    assert f"#{money['indexes'][0]}" in page
    assert "<b>电焊</b>" not in page and "推荐&lt;b&gt;电焊&lt;/b&gt;岗位" in page  # values are escaped

    trail.erase(world["a"], None)
    erased = trail.card(world["a"], date(2026, 3, 10))
    assert erased["worker"]["name"] == "erased" and erased["household"]["members"][0]["name"] == "erased"
    assert erased["money"][0]["amount"] == "1000.00" and erased["pairing"]["cadre_name"] == "刘洋"
    assert "王芳" not in render(erased) and "已依法删除" in render(erased)

    with pytest.raises(Exception, match="not a household"):
        trail.card(world["unit"], date(2026, 3, 10))


def test_household_clear_says_which_of_the_six_items_fail_and_why(trail, world):
    report = trail.household_clear("gs.by", date(2026, 2, 20))
    by_case = {c["case_id"]: c for c in report["cases"]}
    assert report["households"] == 2 and report["clear"] == 1
    assert by_case[world["a"]]["clear"] is True
    b = by_case[world["b"]]
    assert set(b["failed"]) == {"money", "measures", "pairing"}
    reasons = " ".join(r["reason"] for r in b["items"]["money"]["reasons"])
    assert world["by_requester"] in reasons and "not confirmed" in reasons
    assert b["items"]["measures"]["reasons"][0]["reason"].startswith("no measure planned")

    later = {c["case_id"]: c for c in trail.household_clear("gs.by", date(2026, 7, 15))["cases"]}
    assert world["b"] not in later  # exited: no longer a filed household
    assert set(later[world["a"]]["failed"]) == {"measures", "pairing"}  # m1 due 30 June undone; Q2 not visited
    assert trail.household_clear("gs.ln", date(2026, 2, 20))["households"] == 0

    first = trail.household_clear("gs.by", date(2026, 2, 20), limit=1)
    assert first["next"] is not None
    rest = trail.household_clear("gs.by", date(2026, 2, 20), after=first["next"], limit=1000)
    seen = [c["case_id"] for c in first["cases"] + rest["cases"]]
    assert sorted(seen) == sorted([world["a"], world["b"]])


def test_anomalies_are_found_in_the_trail_alone_with_the_entries_that_prove_them(trail, world):
    found = trail.anomalies("gs", None, date(2026, 4, 15))["findings"]
    checks = sorted(f["check"] for f in found)
    assert checks == sorted(["approved_by_requester", "approved_by_verifier", "over_household_cap",
                             "duplicate_festival", "budget_overrun", "exit_without_reason",
                             "paid_without_approval", "paid_not_filed"])
    assert all(f["case_id"] in (world["b"], None) for f in found)  # household A is in order
    by_check = {f["check"]: f for f in found}
    after_exit = by_check["paid_not_filed"]
    assert world["after_exit"] in after_exit["detail"] and "exited on 2026-03-01" in after_exit["detail"]
    assert world["exit_index"] in after_exit["indexes"] and "DisbursementPaid" in [
        entry_type(trail, i) for i in after_exit["indexes"]]
    overrun = by_check["budget_overrun"]
    assert overrun["federation"] == "gs.by" and world["budget"] in overrun["indexes"]
    assert "3000.00" in overrun["detail"] and "2000.00" in overrun["detail"]
    assert "3000.00" in by_check["over_household_cap"]["detail"]
    assert by_check["exit_without_reason"]["indexes"] == [world["exit_index"]]

    only_march = trail.anomalies("gs", date(2026, 3, 1), date(2026, 3, 31))["findings"]
    assert sorted(f["check"] for f in only_march) == [  # the cap and the duplicate: on the last payment's day
        "duplicate_festival", "exit_without_reason", "over_household_cap", "paid_not_filed", "paid_without_approval"]
    summer = {f["check"] for f in trail.anomalies("gs.by.pg", date(2026, 7, 1), date(2026, 7, 15))["findings"]}
    assert summer == {"visit_overdue"}  # household A missed its second-quarter visit
    assert trail.anomalies("gs.ln", None, date(2026, 4, 15))["findings"] == []


def test_one_student_paid_twice_by_one_education_program_is_a_finding(trail, world):
    w, grant = world["events"], str(uuid.uuid4())
    w.add("aid", "ProgramCreated", grant, "2026-01-03", {
        "program_id": grant, "name": "2026年金秋助学", "kind": "education", "year": 2026, "festival": None,
        "help": "schooling", "version": 1, "terms": {"amount": "3000.00", "rule": None, "eligibility": {
            "include_exited": False, "categories": [], "causes": [], "household_cap": None,
            "min_members": None, "max_members": None}}, "by": "admin"}, "gs")
    for federation, amount in (("gs", "100000.00"), ("gs.by", "10000.00")):
        w.add("aid", "BudgetAllocated", str(uuid.uuid4()), "2026-01-04",
              {"program_id": grant, "amount": amount, "delta": amount, "by": "admin"}, federation)
    steps = [("DisbursementApproved", "2026-02-11", "approver1"), ("DisbursementPaid", "2026-02-12", "bank")]
    first = w.disbursement(world["a"], grant, "2026-02-10", "cw1", steps, "3000.00", CHILD_DIGEST)
    second = w.disbursement(world["a"], grant, "2026-02-10", "cw1", steps, "3000.00", CHILD_DIGEST)

    found = [f for f in trail.anomalies("gs", None, date(2026, 4, 15))["findings"] if f["case_id"] == world["a"]]
    assert [f["check"] for f in found] == ["duplicate_student"]
    (twice,) = found
    assert twice["on"] == "2026-02-12" and "2026年金秋助学" in twice["detail"]
    rows = {json.loads(r["entry"])["event"]["payload"].get("disbursement_id")
            for r in trail.select_rows(ENTRIES) if int(r["idx"]) in twice["indexes"]}
    assert {first, second} <= rows
