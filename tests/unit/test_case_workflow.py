"""The filing workflow rules of the Case aggregate (申请、审核、公示、审批、录入)."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.domain import Case, IllegalTransition


@pytest.fixture
def case():
    return Case("gs.by", {"name": "张伟"}, {"members": []}, "marginal", ["illness"], "li")


def verified(case):
    case.verify(["王芳", "赵强"], date(2026, 3, 2), Decimal("600"), "ok", "li")
    return case


def on_notice(case, starts=date(2026, 3, 6), days=7):
    verified(case).deliberate(date(2026, 3, 5), "recommend", "", "li")
    case.publish_notice(starts, days, "li")
    return case


def test_a_case_goes_from_application_to_filed(case):
    on_notice(case).approve(date(2026, 3, 13), "wang")
    assert case.state == "filed"
    assert case.approval == {"approved_on": "2026-03-13", "approver": "wang", "filed_on": "2026-03-13"}


def test_verification_needs_two_different_staff(case):
    with pytest.raises(IllegalTransition, match="two different staff"):
        case.verify(["王芳", "王芳"], date(2026, 3, 2), Decimal("600"), "ok", "li")


def test_steps_out_of_order_are_refused_with_the_reason(case):
    with pytest.raises(IllegalTransition, match="case is applied, must be deliberated"):
        case.publish_notice(date(2026, 3, 6), 7, "li")
    with pytest.raises(IllegalTransition, match="must be on_notice"):
        case.approve(date(2026, 3, 13), "wang")


def test_approval_waits_until_the_notice_has_run_its_days(case):
    on_notice(case, starts=date(2026, 3, 6), days=7)
    with pytest.raises(IllegalTransition, match="until 2026-03-13"):
        case.approve(date(2026, 3, 12), "wang")
    case.approve(date(2026, 3, 13), "wang")


def test_an_open_objection_blocks_approval(case):
    on_notice(case)
    objection = case.raise_objection(date(2026, 3, 7), "收入未如实申报", "邻居")
    with pytest.raises(IllegalTransition, match="objection"):
        case.approve(date(2026, 3, 20), "wang")
    case.resolve_objection(objection, False, "核实无误", "li")
    case.approve(date(2026, 3, 20), "wang")
    assert case.state == "filed"


def test_an_upheld_objection_sends_the_case_back_to_verification(case):
    on_notice(case)
    objection = case.raise_objection(date(2026, 3, 7), "收入未如实申报", "邻居")
    case.resolve_objection(objection, True, "需重新核查", "li")
    assert case.state == "applied"
    assert case.verification is None and case.notice is None
    verified(case)
    assert case.state == "verified"


def test_objections_are_taken_only_during_the_notice(case):
    on_notice(case, starts=date(2026, 3, 6), days=7)
    with pytest.raises(IllegalTransition, match="during the notice"):
        case.raise_objection(date(2026, 3, 13), "late", "x")


def test_a_deliberation_that_rejects_ends_the_case(case):
    verified(case).deliberate(date(2026, 3, 5), "reject", "收入高于标准", "li")
    assert case.state == "rejected"
    assert "收入高于标准" in case.closure["reason"]


def test_dates_cannot_run_backwards(case):
    verified(case)
    with pytest.raises(IllegalTransition, match="before the home visit"):
        case.deliberate(date(2026, 3, 1), "recommend", "", "li")


@pytest.mark.parametrize("end", ["reject", "withdraw"])
def test_rejection_and_withdrawal_only_before_filing(case, end):
    on_notice(case).approve(date(2026, 3, 13), "wang")
    with pytest.raises(IllegalTransition, match="already filed"):
        getattr(case, end)("reason", "li")


def test_withdrawal_records_the_reason(case):
    verified(case).withdraw("申请人主动撤回", "li")
    assert case.state == "withdrawn"
    assert case.closure == {"reason": "申请人主动撤回", "by": "li"}
