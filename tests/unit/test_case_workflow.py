"""The filing workflow rules of the Case aggregate (申请、审核、公示、审批、录入)."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.domain import FutureDate, IllegalTransition, InvalidValue, SeparationOfDuties
from tests.factories import opened_case

TODAY = date(2026, 12, 1)


@pytest.fixture
def case():
    return opened_case("gs.by", opened_by="li")


def verified(case, visitors=("王芳", "赵强"), by="li"):
    case.verify(list(visitors), date(2026, 3, 2), Decimal("600"), "ok", by, today=TODAY)
    return case


def on_notice(case, starts=date(2026, 3, 6), days=7, **verification):
    verified(case, **verification).deliberate(date(2026, 3, 5), "recommend", "", "li", today=TODAY)
    case.publish_notice(starts, days, "li", today=TODAY)
    return case


def test_a_case_goes_from_application_to_filed(case):
    on_notice(case).approve(date(2026, 3, 13), "wang", today=TODAY)
    assert case.state == "filed"
    assert case.approval == {"approved_on": "2026-03-13", "approver": "wang", "filed_on": "2026-03-13"}


def test_verification_needs_two_different_staff(case):
    with pytest.raises(IllegalTransition, match="two different staff"):
        case.verify(["王芳", "王芳"], date(2026, 3, 2), Decimal("600"), "ok", "li", today=TODAY)


def test_a_verified_income_cannot_be_negative(case):
    with pytest.raises(InvalidValue, match="per_capita_income: must not be negative"):
        case.verify(["王芳", "赵强"], date(2026, 3, 2), Decimal("-1"), "ok", "li", today=TODAY)


def test_steps_out_of_order_are_refused_with_the_reason(case):
    with pytest.raises(IllegalTransition, match="case is applied, must be deliberated"):
        case.publish_notice(date(2026, 3, 6), 7, "li", today=TODAY)
    with pytest.raises(IllegalTransition, match="must be on_notice"):
        case.approve(date(2026, 3, 13), "wang", today=TODAY)


def test_approval_waits_until_the_notice_has_run_its_days(case):
    on_notice(case, starts=date(2026, 3, 6), days=7)
    with pytest.raises(IllegalTransition, match="until 2026-03-13"):
        case.approve(date(2026, 3, 12), "wang", today=TODAY)
    case.approve(date(2026, 3, 13), "wang", today=TODAY)


def test_an_open_objection_blocks_approval(case):
    on_notice(case)
    objection = case.raise_objection(date(2026, 3, 7), "收入未如实申报", "邻居", today=TODAY)
    with pytest.raises(IllegalTransition, match="objection"):
        case.approve(date(2026, 3, 20), "wang", today=TODAY)
    case.resolve_objection(objection, False, "核实无误", "li")
    case.approve(date(2026, 3, 20), "wang", today=TODAY)
    assert case.state == "filed"


def test_an_upheld_objection_sends_the_case_back_to_verification(case):
    on_notice(case)
    objection = case.raise_objection(date(2026, 3, 7), "收入未如实申报", "邻居", today=TODAY)
    case.resolve_objection(objection, True, "需重新核查", "li")
    assert case.state == "applied"
    assert case.verification is None and case.notice is None
    verified(case)
    assert case.state == "verified"


def test_objections_are_taken_only_during_the_notice(case):
    on_notice(case, starts=date(2026, 3, 6), days=7)
    with pytest.raises(IllegalTransition, match="during the notice"):
        case.raise_objection(date(2026, 3, 13), "late", "x", today=TODAY)


def test_a_deliberation_that_rejects_ends_the_case(case):
    verified(case).deliberate(date(2026, 3, 5), "reject", "收入高于标准", "li", today=TODAY)
    assert case.state == "rejected"
    assert "收入高于标准" in case.closure["reason"]


def test_a_deliberation_outcome_is_recommend_or_reject(case):
    with pytest.raises(InvalidValue, match="outcome: must be one of recommend, reject"):
        verified(case).deliberate(date(2026, 3, 5), "maybe", "", "li", today=TODAY)
    assert case.state == "verified"


def test_dates_cannot_run_backwards(case):
    verified(case)
    with pytest.raises(IllegalTransition, match="before the home visit"):
        case.deliberate(date(2026, 3, 1), "recommend", "", "li", today=TODAY)


def test_a_home_visit_dated_after_tomorrow_is_refused(case):
    refused = "visited_on: 2026-12-03 is in the future; the latest date accepted is 2026-12-02"
    with pytest.raises(FutureDate, match=refused):
        case.verify(["王芳", "赵强"], date(2026, 12, 3), Decimal("600"), "ok", "li", today=TODAY)
    case.verify(["王芳", "赵强"], date(2026, 12, 2), Decimal("600"), "ok", "li", today=TODAY)  # a day of clock skew


def test_a_deliberation_and_an_approval_dated_in_the_future_are_refused(case):
    verified(case)
    with pytest.raises(FutureDate, match="decided_on"):
        case.deliberate(date(2027, 1, 1), "recommend", "", "li", today=TODAY)
    on_notice(opened := opened_case())
    with pytest.raises(FutureDate, match="approved_on"):
        opened.approve(date(2027, 1, 1), "wang", today=TODAY)


@pytest.mark.parametrize(
    ("approver", "reason"),
    [("li", "opened this case"), ("zhao", "recorded this case's home visit"), ("王芳", "made this case's home visit")],
)
def test_who_opened_visited_or_recorded_the_visit_may_not_approve(approver, reason):
    case = on_notice(opened_case(opened_by="li"), by="zhao")
    with pytest.raises(SeparationOfDuties, match=f"{approver} {reason} and so may not approve it"):
        case.approve(date(2026, 3, 13), approver, today=TODAY)
    assert case.state == "on_notice"


@pytest.mark.parametrize("end", ["reject", "withdraw"])
def test_rejection_and_withdrawal_only_before_filing(case, end):
    on_notice(case).approve(date(2026, 3, 13), "wang", today=TODAY)
    with pytest.raises(IllegalTransition, match="already filed"):
        getattr(case, end)("reason", "li")


def test_withdrawal_records_the_reason(case):
    verified(case).withdraw("申请人主动撤回", "li")
    assert case.state == "withdrawn"
    assert case.closure == {"reason": "申请人主动撤回", "by": "li"}


def test_every_recorded_event_carries_the_case_federation(case):
    on_notice(case).approve(date(2026, 3, 13), "wang", today=TODAY)
    assert {e.federation for e in case.collect_events()} == {"gs.by"}
