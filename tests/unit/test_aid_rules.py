"""Aid's rules, one test each, on aggregates built directly (no store, no clock).

Eligibility is decided by `Program.decide` for a household on a day; budgets never go below zero;
a disbursement moves only along its lifecycle, with separation of duties and dates that never go back;
referrals and trainings record their outcomes once; money is integer fen, never float.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from services.aid.domain import (
    APPROVED,
    CANCELLED,
    COMPLETED,
    CONFIRMED,
    DROPPED,
    ENROLLED,
    EXITED,
    FAILED,
    FILED,
    HIRED,
    INTERVIEWED,
    MONEY,
    NOT_HIRED,
    PAID,
    REJECTED,
    REQUESTED,
    REVERSED,
    AidCase,
    Ask,
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
from services.aid.money import fen, share_of, yuan
from tests.aid_flows import AID_TODAY, digest

DAY = AID_TODAY  # 2026-12-01
FILED_ON = date(2026, 3, 1)
LATER = DAY + timedelta(days=2)


def household(
    category: str = "subsistence", causes: tuple[str, ...] = ("illness",), children: int = 1,
    federation: str = "gs.by", filed_on: date | None = FILED_ON, verifiers: tuple[str, ...] = ("li",),
) -> AidCase:
    """A household as intake reports it: the worker, a spouse and `children` children, filed on `filed_on`."""
    worker = {"name": "王芳", "id_number_masked": "6204**********0012", "id_digest": digest(str(uuid4()))}
    members = [{"relation": "spouse", "age": 40, "schooling": "none", "id_number_masked": "6204**********1234",
                "id_digest": digest(str(uuid4()))}]
    members += [{"relation": "child", "age": 18, "schooling": "college", "id_number_masked": "6204**********5678",
                 "id_digest": digest(str(uuid4()))} for _ in range(children)]
    case = AidCase(str(uuid4()), federation, category, sorted(causes), worker, members, str(uuid4()))
    case.verify(list(verifiers), None)
    if filed_on is not None:
        case.file(filed_on, None)
    return case


def program(kind: str = "festival", amount: int | None = 100_000, rule: dict[str, Any] | None = None,
            **eligibility: Any) -> Program:
    festival = "spring_festival" if kind == "festival" else None
    return Program.create(f"{kind} 2026", kind, 2026, "gs", festival, None,
                          {"amount": amount, "rule": rule, "eligibility": eligibility}, "admin")


def checks(decision: dict[str, Any]) -> dict[str, bool]:
    return {c["check"]: c["passed"] for c in decision["checks"]}


def decide(p: Program, case: AidCase, on: date = DAY, amount: int | None = None, **ask: Any) -> dict[str, Any]:
    return p.decide(case, on, Ask(amount, held=case.held(), **ask))


def request(case: AidCase | None = None, p: Program | None = None, by: str = "caseworker1",
            on: date = DAY, **ask: Any) -> Disbursement:
    case = case or household()
    p = p or program()
    decision = decide(p, case, on, **ask)
    d = Disbursement.request(
        idempotency_key=str(uuid4()), fingerprint="", case=case, program=p, decision=decision, reason="送温暖",
        beneficiary=ask.get("beneficiary"), form=MONEY, items=None, delivered_on=None, budget_federation="gs",
        batch_id=None, by=by, on=on,
    )
    case.hold(str(d.id), str(p.id), d.amount, ask.get("beneficiary"))
    return d


def held_by(case: AidCase, p: Program, amount: int, beneficiary: str | None = None) -> None:
    case.hold(str(uuid4()), str(p.id), amount, beneficiary)


# Eligibility: the state on the decision date.


def test_state_passes_only_on_days_the_case_is_filed():
    case = household(filed_on=date(2026, 3, 1))
    case.exit(date(2026, 11, 1), "stable_employment", None)
    p = program(include_exited=False)
    assert not checks(decide(p, case, date(2026, 2, 28)))["state"]  # before the filing
    assert checks(decide(p, case, date(2026, 3, 1)))["state"]
    assert checks(decide(p, case, date(2026, 10, 31)))["state"]
    assert not checks(decide(p, case, date(2026, 11, 1)))["state"]  # exited that day


def test_a_refiled_case_is_filed_again_from_its_new_filing():
    case = household(filed_on=date(2026, 3, 1))
    case.exit(date(2026, 6, 1), "stable_employment", None)
    case.file(date(2026, 9, 1), None)
    assert not case.filed_on_day(date(2026, 7, 1))
    assert case.filed_on_day(date(2026, 9, 1)) and case.filed_on_day(date(2026, 4, 1))


def test_an_exited_household_is_excluded_unless_the_program_includes_exited():
    case = household()
    case.exit(date(2026, 11, 1), "stable_employment", None)
    refused = decide(program(), case)
    assert not refused["passed"] and not checks(refused)["state"]
    assert "exited" in refused["checks"][0]["detail"]
    taken = decide(program(include_exited=True), case)
    assert taken["passed"] and checks(taken)["state"]


def test_include_exited_never_takes_a_case_that_was_never_filed():
    assert not checks(decide(program(include_exited=True), household(filed_on=None)))["state"]


def test_category_must_be_one_the_program_takes():
    p = program(categories=["marginal", "accident"])
    assert not checks(decide(p, household(category="subsistence")))["category"]
    assert checks(decide(p, household(category="marginal")))["category"]


def test_causes_need_at_least_one_shared_cause():
    p = program(causes=["disability", "education"])
    assert not checks(decide(p, household(causes=("illness",))))["causes"]
    passed = decide(p, household(causes=("illness", "education")))
    assert checks(passed)["causes"] and passed["passed"]


def test_family_size_counts_the_worker_and_the_members():
    three = household(children=1)  # worker, spouse, child
    assert checks(decide(program(min_members=3), three))["family_size"]
    assert not checks(decide(program(min_members=4), three))["family_size"]
    assert checks(decide(program(max_members=3), three))["family_size"]
    assert not checks(decide(program(max_members=2), three))["family_size"]


def test_a_program_without_a_rule_makes_no_check_for_it():
    names = set(checks(decide(program(), household())))
    assert not names & {"category", "causes", "family_size", "household_cap", "beneficiary"}


# Eligibility: the amount.


def test_a_fixed_amount_is_the_programs_and_no_other():
    p = program(amount=100_000)
    given = decide(p, household())
    assert given["amount"] == 100_000 and given["passed"]
    assert decide(p, household(), amount=100_000)["passed"]
    other = decide(p, household(), amount=50_000)
    assert not other["passed"] and not checks(other)["amount"]


def test_a_max_rule_takes_any_amount_up_to_the_max():
    p = program("emergency", amount=None, rule={"max": 300_000})
    assert decide(p, household(), amount=300_000)["passed"]
    assert decide(p, household(), amount=123_45)["amount"] == 123_45
    over = decide(p, household(), amount=300_001)
    assert not over["passed"] and not checks(over)["amount"]
    unnamed = decide(p, household())
    assert not unnamed["passed"] and unnamed["amount"] is None


def test_a_share_rule_gives_the_share_of_the_cost_rounded_half_up_to_the_fen():
    p = program("medical", amount=None, rule={"share": "0.5", "cap": 500_000})
    given = decide(p, household(), out_of_pocket=20_101)  # 201.01 yuan: 100.505 → 100.51
    assert given["amount"] == 10_051 and given["passed"]
    assert decide(p, household(), amount=10_051, out_of_pocket=20_101)["passed"]
    assert not decide(p, household(), amount=10_050, out_of_pocket=20_101)["passed"]


def test_a_share_rule_is_capped():
    p = program("medical", amount=None, rule={"share": "0.8", "cap": 300_000})
    assert decide(p, household(), out_of_pocket=1_000_000)["amount"] == 300_000
    assert decide(p, household(), out_of_pocket=375_000)["amount"] == 300_000  # exactly at the cap
    assert decide(p, household(), out_of_pocket=374_999)["amount"] == 299_999  # 2999.992 → 2999.99


def test_a_share_rule_needs_the_out_of_pocket_cost():
    missing = decide(program("medical", amount=None, rule={"share": "0.5", "cap": 100}), household())
    assert not missing["passed"] and not checks(missing)["amount"] and missing["amount"] is None


def test_the_household_cap_counts_what_the_household_holds_of_this_program_in_its_year():
    p = program("living", amount=None, rule={"max": 200_000}, household_cap=150_000)
    case = household()
    held_by(case, p, 100_000)
    held_by(case, program("living", amount=None, rule={"max": 200_000}), 200_000)  # another program's
    assert decide(p, case, amount=50_000)["passed"]  # exactly the cap
    over = decide(p, case, amount=50_001)
    assert not over["passed"] and not checks(over)["household_cap"]
    assert "1500.01 of at most 1500.00" in over["checks"][-1]["detail"]


def test_a_let_go_request_no_longer_counts_against_the_cap():
    p = program("living", amount=None, rule={"max": 200_000}, household_cap=150_000)
    case = household()
    d = request(case, p, amount=150_000)
    assert not decide(p, case, amount=1)["passed"]
    case.let_go(str(d.id))
    assert decide(p, case, amount=1)["passed"]


# Eligibility: once-only rules.


def test_a_household_gets_a_festivals_aid_once():
    p = program()
    case = household()
    assert checks(decide(p, case))["once_per_festival"]
    request(case, p)
    again = decide(p, case)
    assert not again["passed"] and not checks(again)["once_per_festival"]
    assert checks(decide(program(), case))["once_per_festival"]  # another program (another festival or year)


def test_a_student_gets_one_education_grant_per_academic_year():
    p = program("education", amount=300_000)
    case = household(children=2)
    first, second = (m["id_digest"] for m in case.members[1:])
    assert decide(p, case, beneficiary=first)["passed"]
    request(case, p, beneficiary=first)
    again = decide(p, case, beneficiary=first)
    assert not again["passed"] and not checks(again)["once_per_student"]
    assert decide(p, case, beneficiary=second)["passed"]  # the sibling has had none


def test_an_education_grant_names_its_student():
    unnamed = decide(program("education", amount=300_000), household())
    assert not unnamed["passed"] and not checks(unnamed)["once_per_student"]


def test_the_beneficiary_is_a_member_of_the_household_by_digest():
    p = program("education", amount=300_000)
    case = household()
    assert checks(decide(p, case, beneficiary=case.members[1]["id_digest"]))["beneficiary"]
    stranger = decide(p, case, beneficiary=digest("someone else"))
    assert not stranger["passed"] and not checks(stranger)["beneficiary"]
    neighbour = household().members[1]["id_digest"]
    assert not checks(decide(p, case, beneficiary=neighbour))["beneficiary"]


def test_the_budget_check_is_the_applications_not_the_programs():
    assert "budget" not in checks(decide(program(), household()))


# The decision and its version.


def test_a_decision_records_the_rule_version_and_every_check_with_why():
    p = program(categories=["subsistence"], causes=["illness"], min_members=2, household_cap=200_000)
    decision = decide(p, household(category="marginal"))
    assert decision["rule_version"] == 1
    assert [c["check"] for c in decision["checks"]] == [
        "state", "category", "causes", "family_size", "amount", "once_per_festival", "household_cap"]
    assert all(isinstance(c["passed"], bool) and c["detail"] for c in decision["checks"])
    assert decision["passed"] is False and checks(decision)["category"] is False
    assert sum(not c["passed"] for c in decision["checks"]) == 1


def test_a_failed_decision_refuses_the_request_with_every_check():
    case = household(category="marginal")
    p = program(categories=["subsistence"])
    with pytest.raises(NotEligible, match="category") as refused:
        request(case, p)
    assert refused.value.decision["rule_version"] == 1 and len(refused.value.decision["checks"]) == 4
    assert case.held() == []


def test_revising_a_program_makes_a_new_version_and_old_decisions_keep_theirs():
    p = program(amount=100_000)
    d = request(p=p)
    p.revise({"amount": 150_000, "rule": None, "eligibility": {}}, "物价上涨", "admin")
    assert p.rule_version == 2 and p.terms["amount"] == 150_000 and p.versions[0]["amount"] == 100_000
    assert decide(p, household())["rule_version"] == 2 and decide(p, household())["amount"] == 150_000
    assert d.decision["rule_version"] == 1 and d.amount == 100_000
    d.approve("approver1", [], DAY)
    [approved] = [e for e in d.collect_events() if type(e).__qualname__ == "Disbursement.Approved"]
    assert approved.rule_version == 1 and approved.amount == 100_000


def test_the_same_terms_again_are_no_new_version():
    p = program(amount=100_000)
    with pytest.raises(IllegalTransition):
        p.revise({"amount": 100_000, "rule": None, "eligibility": {}}, "again", "admin")
    assert p.rule_version == 1


def test_terms_give_exactly_one_of_a_fixed_amount_and_a_rule():
    with pytest.raises(InvalidValue):
        program(amount=100_000, rule={"max": 100})
    with pytest.raises(InvalidValue):
        program(amount=None, rule=None)
    with pytest.raises(InvalidValue):
        program(amount=None, rule={"share": "0.5"})  # a share rule has a cap


# Budgets.


def budget(amount: int = 100_000) -> Budget:
    b = Budget.open(program(), "gs")
    b.allocate(amount, "admin")
    return b


def test_a_budget_goes_only_at_or_under_the_programs_federation():
    with pytest.raises(InvalidValue):
        Budget.open(program(), "nm")
    assert Budget.open(program(), "gs.by.pg").federation == "gs.by.pg"


def test_allocating_sets_the_budget_and_returns_the_change():
    b = budget(100_000)
    assert b.allocate(150_000, "admin") == 50_000 and b.amount == 150_000 and b.remaining == 150_000
    with pytest.raises(IllegalTransition):
        b.allocate(150_000, "admin")


def test_a_reduction_takes_only_what_is_unallocated_and_unreserved():
    b = budget(100_000)
    b.pass_down("gs.by", 30_000, "admin")
    b.reserve(20_000, 1, "d1")
    b.spend(10_000, 1, "d1")
    assert b.remaining == 50_000
    with pytest.raises(BudgetExhausted):
        b.allocate(49_999, "admin")
    assert b.amount == 100_000
    assert b.allocate(50_000, "admin") == -50_000 and b.remaining == 0


def test_passing_down_never_takes_more_than_the_remainder():
    b = budget(100_000)
    b.reserve(40_000, 1, "d1")
    with pytest.raises(BudgetExhausted):
        b.pass_down("gs.by", 60_001, "admin")
    assert b.children == 0
    b.pass_down("gs.by", 60_000, "admin")
    assert b.remaining == 0
    b.pass_down("gs.by", -10_000, "admin")  # a child's reduction comes back
    assert b.children == 50_000 and b.remaining == 10_000


def test_a_reservation_never_takes_a_budget_below_zero():
    b = budget(100_000)
    b.reserve(99_999, 1, "d1")
    with pytest.raises(BudgetExhausted):
        b.reserve(2, 1, "d2")
    assert b.reserved == 99_999
    b.reserve(1, 1, "d3")
    assert b.remaining == 0


def test_spend_release_and_give_back_move_money_between_the_figures():
    b = budget(100_000)
    b.reserve(60_000, 3, "batch")
    b.spend(20_000, 1, "d1")
    assert (b.reserved, b.spent, b.remaining) == (40_000, 20_000, 40_000)
    b.release(20_000, 1, "d2", FAILED)
    assert (b.reserved, b.failed, b.remaining) == (20_000, 20_000, 60_000)
    b.release(20_000, 1, "d3", CANCELLED)
    assert (b.reserved, b.failed, b.remaining) == (0, 20_000, 80_000)  # a cancellation is no failure
    b.give_back(20_000, "d1")
    assert (b.spent, b.reversed, b.remaining) == (0, 20_000, 100_000)


# Disbursements: the lifecycle.


def approved(**kwargs: Any) -> Disbursement:
    d = request(**kwargs)
    d.approve("approver1", [], DAY)
    return d


def paid(**kwargs: Any) -> Disbursement:
    d = approved(**kwargs)
    d.pay(DAY, "B1", "approver1", eligible_that_day=True)
    return d


def test_a_request_carries_the_decided_amount_and_decision():
    d = request()
    assert (d.state, d.amount, d.decision["rule_version"], d.requested_by) == (REQUESTED, 100_000, 1, "caseworker1")


def test_requested_approved_paid_confirmed():
    d = paid()
    d.confirm(LATER, "王芳", "caseworker1")
    assert d.state == CONFIRMED and d.bank_reference == "B1"
    assert [s["state"] for s in d.steps] == [REQUESTED, APPROVED, PAID, CONFIRMED]
    assert d.steps[-1]["confirmed_by"] == "王芳"


@pytest.mark.parametrize(("start", "step", "end"), [
    (request, lambda d: d.reject("重复申请", "approver1", DAY), REJECTED),
    (request, lambda d: d.cancel("the case exited", DAY, "system"), CANCELLED),
    (approved, lambda d: d.cancel("the case exited", DAY, "system"), CANCELLED),
    (approved, lambda d: d.fail(DAY, "account closed", "approver1"), FAILED),
    (paid, lambda d: d.reverse(DAY, "重复发放", "approver1"), REVERSED),
    (paid, lambda d: (d.confirm(DAY, "王芳", "li"), d.reverse(LATER, "冒领", "approver1")), REVERSED),
])
def test_every_legal_step(start, step, end):
    d = start()
    step(d)
    assert d.state == end and d.steps[-1]["state"] == end


def confirmed() -> Disbursement:
    d = paid()
    d.confirm(DAY, "王芳", "li")
    return d


def ended(state: str):
    def make() -> Disbursement:
        d = {REJECTED: request, FAILED: approved, REVERSED: paid, CANCELLED: request}[state]()
        {REJECTED: lambda: d.reject("no", "approver1", DAY), FAILED: lambda: d.fail(DAY, "closed", "approver1"),
         REVERSED: lambda: d.reverse(DAY, "back", "approver1"),
         CANCELLED: lambda: d.cancel("exit", DAY, "system")}[state]()
        return d
    return make


STEPS = {
    "approve": lambda d: d.approve("approver2", [], DAY),
    "reject": lambda d: d.reject("no", "approver2", DAY),
    "pay": lambda d: d.pay(DAY, "B2", "approver2", eligible_that_day=True),
    "fail": lambda d: d.fail(DAY, "closed", "approver2"),
    "confirm": lambda d: d.confirm(DAY, "王芳", "li"),
    "reverse": lambda d: d.reverse(DAY, "back", "approver2"),
    "cancel": lambda d: d.cancel("exit", DAY, "system"),
}
LEGAL = {
    REQUESTED: {"approve", "reject", "cancel"}, APPROVED: {"pay", "fail", "cancel"}, PAID: {"confirm", "reverse"},
    CONFIRMED: {"reverse"}, REJECTED: set(), FAILED: set(), REVERSED: set(), CANCELLED: set(),
}
STATES = {REQUESTED: request, APPROVED: approved, PAID: paid, CONFIRMED: confirmed, REJECTED: ended(REJECTED),
          FAILED: ended(FAILED), REVERSED: ended(REVERSED), CANCELLED: ended(CANCELLED)}


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in LEGAL for a in STEPS if a not in LEGAL[s]])
def test_every_illegal_step_is_refused_and_changes_nothing(state, action):
    d = STATES[state]()
    assert d.state == state
    steps = list(d.steps)
    with pytest.raises(IllegalTransition):
        STEPS[action](d)
    assert d.state == state and d.steps == steps


def test_the_requester_cannot_approve():
    d = request(by="caseworker1")
    with pytest.raises(SeparationOfDuties, match="requested"):
        d.approve("caseworker1", [], DAY)
    assert d.state == REQUESTED


def test_a_verifier_of_the_case_cannot_approve():
    case = household(verifiers=("li", "zhao"))
    d = request(case)
    with pytest.raises(SeparationOfDuties, match="verified"):
        d.approve("zhao", case.verifiers, DAY)
    d.approve("approver1", case.verifiers, DAY)
    assert d.state == APPROVED and d.steps[-1]["by"] == "approver1"


def test_a_payment_is_refused_when_the_case_is_not_filed_that_day():
    d = approved()
    with pytest.raises(NotFiledOnDay):
        d.pay(DAY, "B1", "approver1", eligible_that_day=False)
    assert d.state == APPROVED and d.bank_reference is None


def test_a_payment_is_never_dated_before_the_request():
    d = approved()
    with pytest.raises(InvalidValue) as before:
        d.pay(DAY - timedelta(days=1), "B1", "approver1", eligible_that_day=True)
    assert before.value.fields == {"paid_on": [before.value.problem]} and d.state == APPROVED


def test_a_payment_is_never_dated_before_the_approval():
    d = request()
    d.approve("approver1", [], LATER)
    with pytest.raises(InvalidValue, match="paid_on"):
        d.pay(DAY + timedelta(days=1), "B1", "approver1", eligible_that_day=True)
    assert d.state == APPROVED


def test_a_failure_is_never_dated_before_the_approval():
    d = request()
    d.approve("approver1", [], LATER)
    with pytest.raises(InvalidValue, match="failed_on"):
        d.fail(DAY, "account closed", "approver1")
    assert d.state == APPROVED


def test_a_confirmation_is_never_dated_before_the_payment():
    d = request()
    d.approve("approver1", [], DAY)
    d.pay(LATER, "B1", "approver1", eligible_that_day=True)
    with pytest.raises(InvalidValue, match="confirmed_on"):
        d.confirm(DAY, "王芳", "li")
    assert d.state == PAID


def test_a_reversal_is_never_dated_before_the_last_step():
    d = paid()
    d.confirm(LATER, "王芳", "li")
    with pytest.raises(InvalidValue, match="reversed_on"):
        d.reverse(DAY, "冒领", "approver1")
    assert d.state == CONFIRMED


def test_every_step_records_the_amount_kind_rule_version_and_who_acted():
    d = paid(p=program("emergency", amount=None, rule={"max": 300_000}), amount=123_45)
    d.reverse(LATER, "冒领", "approver2")
    steps = [e for e in d.collect_events() if type(e).__qualname__ != "Disbursement.Requested"]
    assert [type(e).__qualname__ for e in steps] == [
        "Disbursement.Approved", "Disbursement.Paid", "Disbursement.Reversed"]
    assert [(e.amount, e.kind, e.rule_version, e.by) for e in steps] == [
        (123_45, "emergency", 1, "approver1"), (123_45, "emergency", 1, "approver1"),
        (123_45, "emergency", 1, "approver2")]


# Job referrals.


def referral(case: AidCase | None = None) -> Referral:
    case = case or household()
    return Referral.make(case, case.members[0]["id_digest"], "白银公司", "电焊工", 400_000, DAY, "li")


def test_a_referral_is_for_a_person_of_a_filed_household():
    case = household()
    with pytest.raises(InvalidValue, match="person"):
        Referral.make(case, digest("stranger"), "白银公司", "电焊工", None, DAY, "li")
    assert Referral.make(case, case.worker["id_digest"], "白银公司", "电焊工", None, DAY, "li").outcome is None
    with pytest.raises(InvalidValue, match="case_id"):
        referral(household(filed_on=None))


def test_interviewed_then_hired_with_a_wage():
    r = referral()
    r.record(INTERVIEWED, None, DAY, "li")
    r.record(HIRED, 420_000, LATER, "li")
    assert r.outcome == HIRED and [o["outcome"] for o in r.outcomes] == [INTERVIEWED, HIRED]
    assert r.outcomes[-1]["monthly_wage"] == 420_000


def test_a_hire_records_the_wage_and_nothing_else_does():
    with pytest.raises(InvalidValue, match="monthly_wage"):
        referral().record(HIRED, None, DAY, "li")
    with pytest.raises(InvalidValue, match="monthly_wage"):
        referral().record(NOT_HIRED, 300_000, DAY, "li")
    with pytest.raises(InvalidValue, match="monthly_wage"):
        referral().record(INTERVIEWED, 300_000, DAY, "li")


@pytest.mark.parametrize("end", [HIRED, NOT_HIRED])
@pytest.mark.parametrize("after", [INTERVIEWED, HIRED, NOT_HIRED])
def test_nothing_is_recorded_after_a_referral_ends(end, after):
    r = referral()
    r.record(end, 420_000 if end == HIRED else None, DAY, "li")
    with pytest.raises(IllegalTransition):
        r.record(after, 420_000 if after == HIRED else None, LATER, "li")
    assert len(r.outcomes) == 1


def test_an_interview_is_recorded_once():
    r = referral()
    r.record(INTERVIEWED, None, DAY, "li")
    with pytest.raises(IllegalTransition):
        r.record(INTERVIEWED, None, LATER, "li")


def test_an_outcome_is_never_dated_before_the_referral_or_the_interview():
    r = referral()
    with pytest.raises(InvalidValue, match="recorded_on"):
        r.record(INTERVIEWED, None, DAY - timedelta(days=1), "li")
    r.record(INTERVIEWED, None, LATER, "li")
    with pytest.raises(InvalidValue, match="recorded_on"):
        r.record(HIRED, 420_000, DAY, "li")
    assert r.outcome == INTERVIEWED


def test_an_unknown_outcome_is_refused():
    with pytest.raises(InvalidValue, match="outcome"):
        referral().record("promoted", None, DAY, "li")


# Skills training.


def training() -> Training:
    return Training.create("电焊工", "白银技校", "gs.by", date(2026, 4, 1), date(2026, 6, 30), "admin")


def test_a_course_never_ends_before_it_starts():
    with pytest.raises(InvalidValue, match="ends_on"):
        Training.create("电焊工", "白银技校", "gs.by", date(2026, 4, 1), date(2026, 3, 31), "admin")


def test_a_person_enrols_in_a_course_once():
    t, case = training(), household()
    person = case.members[0]["id_digest"]
    t.enrol(case, person, date(2026, 4, 1), "li")
    assert t.enrolment(case.case_id, person)["state"] == ENROLLED
    with pytest.raises(IllegalTransition):
        t.enrol(case, person, date(2026, 4, 2), "li")
    t.enrol(case, case.worker["id_digest"], date(2026, 4, 2), "li")  # another person of the household
    assert len(t.enrolments) == 2


def test_enrolment_is_for_a_person_of_a_household_of_the_courses_subtree_before_it_ends():
    t, case = training(), household()
    with pytest.raises(InvalidValue, match="person"):
        t.enrol(case, digest("stranger"), date(2026, 4, 1), "li")
    with pytest.raises(InvalidValue, match="case_id"):
        elsewhere = household(federation="gs.lz")
        t.enrol(elsewhere, elsewhere.worker["id_digest"], date(2026, 4, 1), "li")
    with pytest.raises(InvalidValue, match="enrolled_on"):
        t.enrol(case, case.worker["id_digest"], date(2026, 7, 1), "li")
    assert t.enrolments == {}


def test_completion_records_the_certificate_and_ends_the_enrolment():
    t, case = training(), household()
    person = case.worker["id_digest"]
    t.enrol(case, person, date(2026, 4, 1), "li")
    with pytest.raises(InvalidValue, match="completed_on"):
        t.complete(case.case_id, person, date(2026, 3, 31), "GS-2026-001", "li")
    t.complete(case.case_id, person, date(2026, 6, 30), "GS-2026-001", "li")
    found = t.enrolment(case.case_id, person)
    assert (found["state"], found["certificate"], found["completed_on"]) == (COMPLETED, "GS-2026-001", "2026-06-30")
    with pytest.raises(IllegalTransition):
        t.complete(case.case_id, person, date(2026, 6, 30), "GS-2026-002", "li")
    with pytest.raises(IllegalTransition):
        t.drop_out(case.case_id, person, date(2026, 6, 30), "moved", "li")


def test_a_dropout_ends_the_enrolment_with_its_reason():
    t, case = training(), household()
    person = case.worker["id_digest"]
    t.enrol(case, person, date(2026, 4, 10), "li")
    with pytest.raises(InvalidValue, match="dropped_on"):
        t.drop_out(case.case_id, person, date(2026, 4, 9), "外出务工", "li")
    t.drop_out(case.case_id, person, date(2026, 5, 1), "外出务工", "li")
    assert t.enrolment(case.case_id, person)["state"] == DROPPED
    assert t.enrolment(case.case_id, person)["reason"] == "外出务工"
    with pytest.raises(IllegalTransition):
        t.complete(case.case_id, person, date(2026, 6, 30), "GS-2026-001", "li")


def test_only_an_enrolled_person_completes_or_drops_out():
    t, case = training(), household()
    with pytest.raises(IllegalTransition):
        t.complete(case.case_id, case.worker["id_digest"], date(2026, 6, 30), "GS-2026-001", "li")
    with pytest.raises(IllegalTransition):
        t.drop_out(case.case_id, case.worker["id_digest"], date(2026, 6, 30), "moved", "li")


# The household as intake reports it.


def test_a_case_files_from_open_or_exited_and_exits_only_when_filed():
    case = household(filed_on=None)
    with pytest.raises(IllegalTransition):
        case.exit(DAY, "stable_employment", None)
    case.file(FILED_ON, None)
    with pytest.raises(IllegalTransition):
        case.file(DAY, None)
    case.exit(DAY, "stable_employment", None)
    assert case.state == EXITED
    with pytest.raises(IllegalTransition):
        case.close("withdrawn", None)
    case.file(LATER, None)
    assert case.state == FILED and len(case.periods) == 2


# Money.


def test_fen_turns_yuan_into_exact_integer_fen():
    assert fen("1000.00") == 100_000 and type(fen("1000.00")) is int
    assert fen(Decimal("0.1") + Decimal("0.2")) == 30  # the float sum would be 0.30000000000000004
    assert fen("0.29") == 29 and fen(7) == 700 and fen("-0.05") == -5


def test_fen_refuses_more_than_two_places():
    with pytest.raises(ValueError):
        fen("0.005")
    with pytest.raises(ValueError):
        fen(Decimal("1000.001"))


def test_yuan_writes_two_places():
    assert [yuan(n) for n in (100_000, 5, 0, 1_076_200_000, -5, -12_345)] == [
        "1000.00", "0.05", "0.00", "10762000.00", "-0.05", "-123.45"]


def test_share_of_rounds_half_up_to_the_fen_exactly():
    assert share_of(201, "0.5") == 101  # 100.5: half up, not to even (round() would give 100)
    assert share_of(100, "0.29") == 29  # float: 100 * 0.29 = 28.999999999999996
    assert share_of(2_345, "0.15") == 352  # 351.75
    assert share_of(2_343, "0.15") == 351  # 351.45
    assert share_of(99_999_999_999, "0.3333") == 33_330_000_000  # 33,329,999,999.6667, beyond float's exactness
    assert type(share_of(201, "0.5")) is int


# Copies the aggregate cache hands out (CheapCopy): a command on a copy never changes the cached original.


def snapshot(aggregate: Any) -> str:
    return repr(sorted((k, repr(v)) for k, v in vars(aggregate).items()))


def test_a_command_on_a_copy_leaves_the_cached_aggregates_as_they_were():
    import copy

    case = household()
    p = program(kind="festival")
    d = request(case, p)
    d.approve("approver1", [], DAY)
    budget = Budget.open(p, "gs")
    budget.allocate(1_000_000, "admin")
    training = Training.create("电焊工", "白银技校", "gs.by", DAY, DAY + timedelta(days=30), "li")
    training.enrol(case, case.worker["id_digest"], DAY, "li")
    referral = Referral.make(case, case.worker["id_digest"], "白银公司", "电焊工", None, DAY, "li")
    originals = [case, p, d, budget, training, referral]
    for aggregate in originals:
        aggregate.collect_events()
    before = [snapshot(a) for a in originals]
    twins = [copy.deepcopy(a) for a in originals]
    t_case, t_p, t_d, t_budget, t_training, t_referral = twins
    t_case.hold("x", str(p.id), 5, None)
    t_case.exit(DAY, "stable_employment", "e1")
    t_p.revise({"amount": 200_000, "rule": None, "eligibility": {}}, "raised", "admin")
    t_d.pay(DAY, "B1", "cashier", eligible_that_day=True)
    t_budget.reserve(100_000, 1, "x")
    t_training.complete(case.case_id, case.worker["id_digest"], DAY, "C1", "li")
    t_referral.record("hired", 300_000, DAY, "li")
    assert [snapshot(a) for a in originals] == before
    assert all(len(t.collect_events()) > 0 for t in twins if t is not t_case) and t_case.state == "exited"
