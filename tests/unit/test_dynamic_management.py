"""Review, exit, return to hardship, amendments and the plan (动态管理、一户一计划) on the Case aggregate."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.domain import FutureDate, IllegalTransition, InvalidValue, SeparationOfDuties
from tests.factories import opened_case

TODAY = date(2026, 12, 1)


@pytest.fixture
def filed():
    case = opened_case("gs.by", opened_by="li")
    case.verify(["a", "b"], date(2025, 3, 2), Decimal("600"), "ok", "li", today=TODAY)
    case.deliberate(date(2025, 3, 5), "recommend", "", "li", today=TODAY)
    case.publish_notice(date(2025, 3, 6), 7, "li", today=TODAY)
    case.approve(date(2025, 3, 13), "wang", today=TODAY)
    return case


def test_an_exit_needs_one_of_the_known_reasons(filed):
    with pytest.raises(InvalidValue, match="needs a reason"):
        filed.exit("tired_of_it", date(2026, 1, 5), "", "li", today=TODAY)
    filed.exit("stable_employment", date(2026, 1, 5), "进厂务工", "li", today=TODAY)
    assert filed.state == "exited"
    assert filed.exits == [{"reason": "stable_employment", "exited_on": "2026-01-05", "notes": "进厂务工", "by": "li"}]


def test_a_return_to_hardship_refiles_the_same_case(filed):
    filed.exit("income_above_line", date(2026, 1, 5), "", "li", today=TODAY)
    filed.refile(date(2026, 6, 1), "再次失业", "wang", today=TODAY)
    assert filed.state == "filed"
    assert filed.refilings == [{"refiled_on": "2026-06-01", "reason": "再次失业", "by": "wang"}]
    assert filed.last_filed_on == "2026-06-01"


def test_only_an_exited_case_can_be_refiled(filed):
    with pytest.raises(IllegalTransition, match="must be exited"):
        filed.refile(date(2026, 6, 1), "x", "wang", today=TODAY)


def test_a_refiling_cannot_predate_the_exit(filed):
    filed.exit("moved", date(2026, 1, 5), "", "li", today=TODAY)
    with pytest.raises(IllegalTransition, match="before the exit"):
        filed.refile(date(2026, 1, 1), "x", "wang", today=TODAY)


def test_a_refiling_is_approved_by_someone_independent_of_the_case(filed):
    filed.exit("moved", date(2026, 1, 5), "", "li", today=TODAY)
    with pytest.raises(SeparationOfDuties, match="li opened this case and so may not re-file it"):
        filed.refile(date(2026, 6, 1), "x", "li", today=TODAY)


@pytest.mark.parametrize("step", ["review", "exit", "refile", "complete"])
def test_management_dates_in_the_future_are_refused(filed, step):
    future = date(2026, 12, 3)
    with pytest.raises(FutureDate):
        if step == "review":
            filed.review(future, "x", True, "li", today=TODAY)
        elif step == "exit":
            filed.exit("moved", future, "", "li", today=TODAY)
        elif step == "refile":
            filed.exit("moved", date(2026, 1, 5), "", "li", today=TODAY)
            filed.refile(future, "x", "wang", today=TODAY)
        else:
            measure = filed.add_measure("medical", "x", date(2025, 4, 1), None, "li")
            filed.complete_measure(measure, future, "x", "li", today=TODAY)


def test_reviews_are_recorded_on_filed_cases_only(filed):
    filed.review(date(2026, 3, 1), "仍困难", True, "li", today=TODAY)
    assert filed.reviews[0]["still_qualifies"] is True
    filed.exit("moved", date(2026, 4, 1), "", "li", today=TODAY)
    with pytest.raises(IllegalTransition):
        filed.review(date(2026, 5, 1), "x", True, "li", today=TODAY)


def test_a_review_is_due_a_year_after_the_last_filing_or_review(filed):
    assert filed.review_due_on == "2026-03-13"
    filed.review(date(2026, 2, 1), "仍困难", True, "li", today=TODAY)
    assert filed.review_due_on == "2027-02-01"
    filed.exit("moved", date(2026, 4, 1), "", "li", today=TODAY)
    assert filed.review_due_on is None


def test_a_review_due_on_29_february_falls_on_28_february():
    case = opened_case()
    case.verify(["a", "b"], date(2024, 2, 1), Decimal("600"), "ok", "li", today=TODAY)
    case.deliberate(date(2024, 2, 2), "recommend", "", "li", today=TODAY)
    case.publish_notice(date(2024, 2, 22), 7, "li", today=TODAY)
    case.approve(date(2024, 2, 29), "wang", today=TODAY)
    assert case.review_due_on == "2025-02-28"


def test_an_amendment_records_what_changed_and_why(filed):
    filed.amend({"category": "subsistence", "causes": ["illness", "education"]}, "纳入低保", "li", today=TODAY)
    assert filed.category == "subsistence"
    assert filed.amendments == [{"changed": ["category"], "reason": "纳入低保", "by": "li"}]


def test_an_amendment_cannot_change_who_the_worker_is(filed):
    with pytest.raises(IllegalTransition, match="different person"):
        filed.amend({"worker": {**filed.worker, "id_number": "11010519491231002X"}}, "typo", "li", today=TODAY)


def test_an_amendment_that_changes_nothing_is_refused(filed):
    with pytest.raises(IllegalTransition, match="changes nothing"):
        filed.amend({"category": "marginal"}, "same", "li", today=TODAY)


def test_an_amendment_checks_category_and_causes_as_an_opening_does(filed):
    with pytest.raises(InvalidValue, match=r"changes\.category: must be one of"):
        filed.amend({"category": "poor"}, "x", "li", today=TODAY)
    with pytest.raises(InvalidValue, match=r"changes.causes\[1\]: must be one of"):
        filed.amend({"causes": ["illness", "bad_luck"]}, "x", "li", today=TODAY)
    with pytest.raises(InvalidValue, match=r"changes\.causes: name at least one cause"):
        filed.amend({"causes": []}, "x", "li", today=TODAY)


def test_an_amended_household_gets_its_per_capita_income_recomputed(filed):
    household = {**filed.household, "monthly_income": Decimal("900"), "per_capita_income": Decimal("1")}
    filed.amend({"household": household}, "失业", "li", today=TODAY)
    assert filed.household["per_capita_income"] == Decimal("300.00")


def test_a_plan_measure_is_tracked_to_done(filed):
    measure = filed.add_measure("medical", "协调大病救助", date(2025, 4, 1), date(2025, 6, 30), "li")
    assert filed.measures[measure]["done_on"] is None
    filed.complete_measure(measure, date(2025, 5, 20), "报销 8000 元", "li", today=TODAY)
    assert filed.measures[measure]["done_on"] == "2025-05-20"
    with pytest.raises(IllegalTransition, match="already done"):
        filed.complete_measure(measure, date(2025, 5, 21), "again", "li", today=TODAY)


def test_a_measure_kind_must_be_known(filed):
    with pytest.raises(InvalidValue, match="measure kind"):
        filed.add_measure("luck", "x", date(2025, 4, 1), None, "li")
