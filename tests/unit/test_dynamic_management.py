"""Review, exit, return to hardship, amendments and the plan (动态管理、一户一计划) on the Case aggregate."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.domain import Case, IllegalTransition


@pytest.fixture
def filed():
    case = Case("gs.by", {"name": "张伟", "id_number": "X1"}, {"members": []}, "marginal", ["illness"], "li")
    case.verify(["a", "b"], date(2025, 3, 2), Decimal("600"), "ok", "li")
    case.deliberate(date(2025, 3, 5), "recommend", "", "li")
    case.publish_notice(date(2025, 3, 6), 7, "li")
    case.approve(date(2025, 3, 13), "wang")
    return case


def test_an_exit_needs_one_of_the_known_reasons(filed):
    with pytest.raises(IllegalTransition, match="needs a reason"):
        filed.exit("tired_of_it", date(2026, 1, 5), "", "li")
    filed.exit("stable_employment", date(2026, 1, 5), "进厂务工", "li")
    assert filed.state == "exited"
    assert filed.exits == [{"reason": "stable_employment", "exited_on": "2026-01-05", "notes": "进厂务工", "by": "li"}]


def test_a_return_to_hardship_refiles_the_same_case(filed):
    filed.exit("income_above_line", date(2026, 1, 5), "", "li")
    filed.refile(date(2026, 6, 1), "再次失业", "wang")
    assert filed.state == "filed"
    assert filed.refilings == [{"refiled_on": "2026-06-01", "reason": "再次失业", "by": "wang"}]
    assert filed.last_filed_on == "2026-06-01"


def test_only_an_exited_case_can_be_refiled(filed):
    with pytest.raises(IllegalTransition, match="must be exited"):
        filed.refile(date(2026, 6, 1), "x", "wang")


def test_a_refiling_cannot_predate_the_exit(filed):
    filed.exit("moved", date(2026, 1, 5), "", "li")
    with pytest.raises(IllegalTransition, match="before the exit"):
        filed.refile(date(2026, 1, 1), "x", "wang")


def test_reviews_are_recorded_on_filed_cases_only(filed):
    filed.review(date(2026, 3, 1), "仍困难", True, "li")
    assert filed.reviews[0]["still_qualifies"] is True
    filed.exit("moved", date(2026, 4, 1), "", "li")
    with pytest.raises(IllegalTransition):
        filed.review(date(2026, 5, 1), "x", True, "li")


def test_an_amendment_records_what_changed_and_why(filed):
    filed.amend({"category": "subsistence", "causes": ["illness"]}, "纳入低保", "li")
    assert filed.category == "subsistence"
    assert filed.amendments == [{"changed": ["category"], "reason": "纳入低保", "by": "li"}]


def test_an_amendment_cannot_change_who_the_worker_is(filed):
    with pytest.raises(IllegalTransition, match="different person"):
        filed.amend({"worker": {"name": "张伟", "id_number": "X2"}}, "typo", "li")


def test_an_amendment_that_changes_nothing_is_refused(filed):
    with pytest.raises(IllegalTransition, match="changes nothing"):
        filed.amend({"category": "marginal"}, "same", "li")


def test_a_plan_measure_is_tracked_to_done(filed):
    measure = filed.add_measure("medical", "协调大病救助", date(2025, 4, 1), date(2025, 6, 30), "li")
    assert filed.measures[measure]["done_on"] is None
    filed.complete_measure(measure, date(2025, 5, 20), "报销 8000 元", "li")
    assert filed.measures[measure]["done_on"] == "2025-05-20"
    with pytest.raises(IllegalTransition, match="already done"):
        filed.complete_measure(measure, date(2025, 5, 21), "again", "li")


def test_a_measure_kind_must_be_known(filed):
    with pytest.raises(IllegalTransition, match="measure kind"):
        filed.add_measure("luck", "x", date(2025, 4, 1), None, "li")
