"""Visits due (季季访, 回访): calendar quarters while filed, half-years of follow-up after an exit."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.pairing.application import NotYourHousehold
from services.pairing.domain import FutureDate, NotPaired, VisitBeforeFiling
from services.pairing.index import CASES, Tally, coverage
from services.pairing.visits import Due, Period, add_months, dues, next_due, overdue, quarter_of, quarters
from tests.factories import PAIRING_TODAY
from tests.unit.test_pairing_lifecycle import cadre, filed, unit


def d(text):
    return date.fromisoformat(text)


def windows(periods, as_of, months=12):
    return [(x.kind, x.starts_on.isoformat(), x.ends_on.isoformat()) for x in dues(periods, d(as_of), months)]


def test_quarters_are_calendar_quarters():
    assert quarter_of(d("2026-03-31")) == (d("2026-01-01"), d("2026-03-31"))
    assert quarter_of(d("2026-04-01")) == (d("2026-04-01"), d("2026-06-30"))
    assert quarter_of(d("2026-12-15")) == (d("2026-10-01"), d("2026-12-31"))


def test_months_are_added_to_the_last_day_when_the_month_is_shorter():
    assert add_months(d("2026-08-31"), 6) == d("2027-02-28")
    assert add_months(d("2027-08-31"), 6) == d("2028-02-29")
    assert add_months(d("2026-11-15"), 3) == d("2027-02-15")


def test_the_quarter_of_filing_is_due_from_the_filing_day():
    assert windows([Period(d("2026-02-10"))], "2026-07-01") == [
        ("quarter", "2026-02-10", "2026-03-31"), ("quarter", "2026-04-01", "2026-06-30")]


def calendar_quarters(period, until):
    """The quarters of a period as the calendar gives them, one quarter_of after another."""
    owed, day = [], period.filed_on
    while True:
        start, end = quarter_of(day)
        if end > until or (period.exited_on is not None and end >= period.exited_on):
            return owed
        owed.append(Due("quarter", max(start, period.filed_on), end))
        day = end + timedelta(days=1)


@given(st.dates(date(2000, 1, 1), date(2040, 12, 31)), st.integers(0, 3000), st.one_of(st.none(), st.integers(0, 3000)))
def test_quarters_counted_in_quarters_are_the_calendar_s(filed_on, until_days, exit_days):
    period = Period(filed_on, None if exit_days is None else filed_on + timedelta(days=exit_days))
    until = filed_on + timedelta(days=until_days)
    assert quarters(period, until) == calendar_quarters(period, until)


def test_a_quarter_is_owed_only_once_it_has_ended():
    assert windows([Period(d("2026-02-10"))], "2026-03-30") == []
    assert windows([Period(d("2026-02-10"))], "2026-03-31") == [("quarter", "2026-02-10", "2026-03-31")]


def test_a_visit_on_the_quarter_s_last_day_counts_and_the_next_day_is_the_next_quarter():
    period = [Period(d("2026-01-05"))]
    assert overdue(period, [d("2026-03-31")], d("2026-04-01")) is None
    due, days, missed = overdue(period, [d("2026-04-01")], d("2026-04-01"))
    assert (due.ends_on, days, missed) == (d("2026-03-31"), 1, 1)


def test_days_overdue_count_from_the_first_of_the_missed_run():
    period = [Period(d("2026-01-05"))]
    due, days, missed = overdue(period, [], d("2026-07-11"))
    assert (due.ends_on, days, missed) == (d("2026-03-31"), 102, 2)
    due, days, missed = overdue(period, [d("2026-02-01")], d("2026-07-11"))
    assert (due.ends_on, days, missed) == (d("2026-06-30"), 11, 1)


def test_a_case_exited_on_the_quarter_s_last_day_owes_no_visit_for_that_quarter():
    assert windows([Period(d("2026-01-05"), d("2026-06-30"))], "2026-07-01") == [
        ("quarter", "2026-01-05", "2026-03-31")]


def test_follow_ups_are_due_each_half_year_for_twelve_months_after_exit():
    periods = [Period(d("2026-01-05"), d("2026-02-15"))]
    assert windows(periods, "2028-01-01") == [
        ("follow_up", "2026-02-15", "2026-08-14"), ("follow_up", "2026-08-15", "2027-02-14")]


def test_the_follow_up_half_year_ends_on_the_day_before_six_months():
    periods = [Period(d("2026-01-05"), d("2026-02-15"))]
    assert overdue(periods, [d("2026-08-14")], d("2026-08-15")) is None
    due, days, _ = overdue(periods, [d("2026-08-15")], d("2026-08-15"))
    assert (due.kind, due.ends_on, days) == ("follow_up", d("2026-08-14"), 1)


def test_the_follow_up_period_is_configurable():
    periods = [Period(d("2026-01-05"), d("2026-02-15"))]
    assert len(windows(periods, "2030-01-01", months=24)) == 4
    assert windows(periods, "2030-01-01", months=9) == [
        ("follow_up", "2026-02-15", "2026-08-14"), ("follow_up", "2026-08-15", "2026-11-14")]


def test_follow_up_stops_after_the_period_and_nothing_is_owed_after_it():
    periods = [Period(d("2026-01-05"), d("2026-02-15"))]
    visits = [d("2026-05-01"), d("2026-12-01")]
    assert overdue(periods, visits, d("2029-01-01")) is None


def test_a_re_filing_ends_the_follow_up_and_quarters_start_again():
    periods = [Period(d("2026-01-05"), d("2026-02-15")), Period(d("2026-05-10"))]
    assert windows(periods, "2026-10-01") == [
        ("quarter", "2026-05-10", "2026-06-30"), ("quarter", "2026-07-01", "2026-09-30")]


# Recording visits through the application: who may, and which dates.

TODAY = PAIRING_TODAY




FIRST_VISIT = date(2026, 4, 10)


def visit(app, case_id, role="caseworker", user="li", visited_on=FIRST_VISIT, kind="routine"):
    return app.record_visit(case_id, "gs", role=role, user=user, visited_on=visited_on, kind=kind,
                            findings="病情稳定", problems_solved="协调住院报销", measures="医保报销",
                            next_steps="下季度回访")


@pytest.fixture
def paired(pairings):
    doctor = cadre(pairings, unit(pairings))
    case_id = filed(pairings, filed_on=d("2026-03-01"))
    user = next(c["user_name"] for c in pairings.cadres("gs") if c["cadre_id"] == doctor)
    return case_id, doctor, user


def test_the_paired_cadre_records_a_visit_of_their_household(pairings, paired):
    case_id, doctor, user = paired
    case = visit(pairings, case_id, role="cadre", user=user)
    assert case.visits[-1]["visitor"] == user
    assert case.visits[-1]["cadre_id"] == doctor
    assert case.visits[-1]["problems_solved"] == "协调住院报销"


def test_a_caseworker_of_the_federation_or_the_contact_may_record_a_visit(pairings, paired):
    case_id, _, _ = paired
    pairings.override(case_id, "gs", cadre_id=paired[1], contact="zhao", reason="村干部联系", by="coordinator")
    visit(pairings, case_id, role="caseworker", user="li")
    visit(pairings, case_id, role="cadre", user="zhao")
    assert [v["visitor"] for v in pairings.get_pairing(case_id, "gs").visits] == ["li", "zhao"]


def test_another_cadre_may_not_record_a_visit(pairings, paired):
    case_id, _, _ = paired
    with pytest.raises(NotYourHousehold):
        visit(pairings, case_id, role="cadre", user="someone_else")
    with pytest.raises(NotYourHousehold):
        visit(pairings, case_id, role="auditor", user="audit")


def test_a_visit_dated_after_tomorrow_is_refused(pairings, paired):
    case_id, _, _ = paired
    visit(pairings, case_id, visited_on=TODAY + timedelta(days=1))
    with pytest.raises(FutureDate):
        visit(pairings, case_id, visited_on=TODAY + timedelta(days=2))


def test_a_visit_before_filing_is_refused(pairings, paired):
    case_id, _, _ = paired
    with pytest.raises(VisitBeforeFiling):
        visit(pairings, case_id, visited_on=d("2026-02-28"))
    visit(pairings, case_id, visited_on=d("2026-03-01"))


def test_a_visit_to_an_uncovered_household_is_refused(pairings):
    case_id = filed(pairings)
    with pytest.raises(NotPaired):
        visit(pairings, case_id)
    with pytest.raises(NotYourHousehold):
        visit(pairings, case_id, role="cadre", user="anyone")


def test_an_exited_household_gets_follow_up_visits_from_its_last_cadre(pairings, paired):
    case_id, doctor, user = paired
    pairings.case_exited(case_id, "gs.by", reason="stable_employment", exited_on=d("2026-06-01"),
                         occurred_at=datetime(2026, 6, 1, tzinfo=UTC))
    case = visit(pairings, case_id, role="cadre", user=user, visited_on=d("2026-09-01"), kind="follow_up")
    assert case.visits[-1]["cadre_id"] == doctor


def test_overdue_lists_households_without_their_due_visit_with_the_cadre(pairings, paired):
    case_id, doctor, _ = paired
    visited = filed(pairings)  # uncovered: still owes its visits, with no cadre responsible
    [late, waiting] = sorted(pairings.overdue("gs", d("2026-04-15")), key=lambda r: r["cadre_id"] is None)
    assert (late["case_id"], late["cadre_id"], late["days_overdue"], late["due_by"]) == (
        case_id, doctor, 15, "2026-03-31")
    assert (waiting["case_id"], waiting["cadre_id"]) == (visited, None)
    visit(pairings, case_id, visited_on=d("2026-03-20"))
    assert [r["case_id"] for r in pairings.overdue("gs", d("2026-04-15"))] == [visited]


def test_the_next_visit_due_is_the_open_window_without_a_visit():
    period = [Period(d("2026-01-05"))]
    assert next_due(period, [], d("2026-02-01")).ends_on == d("2026-03-31")
    assert next_due(period, [d("2026-01-20")], d("2026-02-01")).ends_on == d("2026-06-30")
    exited = [Period(d("2026-01-05"), d("2026-02-15"))]
    assert next_due(exited, [], d("2026-03-01")) == Due("follow_up", d("2026-02-15"), d("2026-08-14"))
    assert next_due(exited, [d("2026-03-01"), d("2026-09-01")], d("2026-09-02")) is None


def test_a_cadre_sees_their_households_with_the_last_visit_and_the_next_due(pairings, paired):
    case_id, doctor, user = paired
    visit(pairings, case_id, role="cadre", user=user, visited_on=d("2026-11-20"))
    [mine] = pairings.households(user, d("2026-12-01"))
    assert (mine["case_id"], mine["cadre_id"], mine["last_visit_on"]) == (case_id, doctor, "2026-11-20")
    assert mine["next_due"] == {"kind": "quarter", "from": "2027-01-01", "by": "2027-03-31"}
    assert pairings.households("nobody", d("2026-12-01")) == []


def test_the_gauges_tally_agrees_with_coverage_and_overdue_and_recounts_only_changed_households(pairings, paired):
    case_id, _, _ = paired
    waiting = filed(pairings)  # uncovered
    day = d("2026-04-15")
    tally = Tally(pairings.follow_up_months)
    rows = pairings.select_rows(CASES)
    found = coverage(rows, [], day, pairings.paired_within_days, pairings.follow_up_months)
    late = pairings.overdue("gs", day)
    assert tally.count(rows, day) == {"gs": [found["filed"], found["paired"], found["uncovered"], len(late)]} == {
        "gs": [2, 1, 1, 2]}
    assert tally.recomputed == 2
    assert tally.count(pairings.select_rows(CASES), day) == {"gs": [2, 1, 1, 2]} and tally.recomputed == 0
    visit(pairings, case_id, visited_on=d("2026-03-20"))  # the paired household is no longer behind
    assert tally.count(pairings.select_rows(CASES), day) == {"gs": [2, 1, 1, 1]} and tally.recomputed == 1
    assert tally.count(pairings.select_rows(CASES), d("2026-07-15")) == {"gs": [2, 1, 1, 2]}  # a new day: all again
    assert tally.recomputed == 2
    assert waiting in {r["case_id"] for r in pairings.overdue("gs", d("2026-07-15"))}
