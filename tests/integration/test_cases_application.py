"""The intake application on every backend: the same behaviour on memory, SQLite and PostgreSQL."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.application import CaseNotFound, Cases, ConcurrentChange
from services.intake.domain import Case, FutureDate, IllegalTransition, SeparationOfDuties
from tests.factories import application_body


def open_case(cases, federation="gs.by.pg", opened_by="li"):
    body = application_body(federation)
    body["household"]["monthly_income"] = Decimal(body["household"]["monthly_income"])
    return cases.open_case(opened_by=opened_by, **body)


def verify(cases, case_id, scope="gs", visited_on=date(2026, 3, 2), per_capita_income=Decimal("600")):
    return cases.verify(case_id, scope, by="li", visitors=["a", "b"], visited_on=visited_on,
                        per_capita_income=per_capita_income, findings="f")


def file_case(cases, case_id, scope="gs"):
    verify(cases, case_id, scope)
    cases.deliberate(case_id, scope, by="li", decided_on=date(2026, 3, 5), outcome="recommend", notes="")
    cases.publish_notice(case_id, scope, by="li", starts_on=date(2026, 3, 6), days=7)
    return cases.approve(case_id, scope, by="wang", approved_on=date(2026, 3, 13))


def test_a_filed_case_reloads_with_its_whole_file(cases, env):
    case_id = str(open_case(cases).id)
    file_case(cases, case_id)
    reopened = Cases(env) if "memory" not in env["PERSISTENCE_MODULE"] else cases
    case = reopened.get_case(case_id, "gs")
    assert case.state == "filed"
    assert case.household["per_capita_income"] == Decimal("600.00")  # 1800 over three people
    assert case.verification["visitors"] == ["a", "b"]


def test_every_step_is_one_stored_event_in_order(cases):
    case_id = str(open_case(cases).id)
    file_case(cases, case_id)
    notifications = cases.recorder.select_notifications(start=None, limit=100)
    assert [n.topic.rsplit(".", 1)[-1] for n in notifications] == [
        "Opened", "Verified", "Deliberated", "NoticePublished", "Approved", "Filed",
    ]


def test_a_refused_step_stores_nothing(cases):
    case_id = str(open_case(cases).id)
    before = cases.recorder.max_notification_id()
    with pytest.raises(IllegalTransition):
        cases.approve(case_id, "gs", by="wang", approved_on=date(2026, 3, 13))
    assert cases.recorder.max_notification_id() == before


def test_a_business_date_after_tomorrow_is_refused_by_the_clock_of_the_application(cases):
    case_id = str(open_case(cases).id)
    cases.today = lambda: date(2026, 3, 1)  # the application's clock, fixed
    with pytest.raises(FutureDate, match="visited_on"):
        verify(cases, case_id, visited_on=date(2026, 3, 3))
    assert verify(cases, case_id, visited_on=date(2026, 3, 2)).state == "verified"


def test_the_user_who_opened_a_case_may_not_approve_it(cases):
    case_id = str(open_case(cases, opened_by="wang").id)
    with pytest.raises(SeparationOfDuties, match="wang opened this case"):
        file_case(cases, case_id)
    assert cases.get_case(case_id, "gs").state == "on_notice"


def test_listing_is_scoped_to_the_federation_subtree(cases):
    in_pg = str(open_case(cases, "gs.by.pg").id)
    in_by = str(open_case(cases, "gs.by").id)
    in_ln = str(open_case(cases, "gs.ln").id)
    file_case(cases, in_by)
    assert {r["case_id"] for r in cases.list_cases("gs.by")} == {in_pg, in_by}
    assert {r["case_id"] for r in cases.list_cases("gs")} == {in_pg, in_by, in_ln}
    assert [r["case_id"] for r in cases.list_cases("gs.by", state="filed")] == [in_by]
    assert [r["case_id"] for r in cases.list_cases("gs.by", federation="gs.by.pg")] == [in_pg]
    assert cases.list_cases("gs.by", federation="gs.ln") == []


def test_a_case_outside_the_subtree_is_not_found(cases):
    case_id = str(open_case(cases, "gs.ln").id)
    with pytest.raises(CaseNotFound):
        cases.get_case(case_id, "gs.by")
    with pytest.raises(CaseNotFound):
        cases.withdraw(case_id, "gs.by", by="x", reason="moved")


def test_a_code_that_only_shares_a_prefix_is_not_in_the_subtree(cases):
    case_id = str(open_case(cases, "gs.byx").id)
    assert cases.list_cases("gs.by") == []
    with pytest.raises(CaseNotFound):
        cases.get_case(case_id, "gs.by")


def test_two_changes_to_one_case_at_once_store_one_and_refuse_the_other(cases, monkeypatch):
    case_id = str(open_case(cases).id)
    withdraw = Case.withdraw

    def withdraw_while_another_request_verifies(case, reason, by):
        verify(cases, case_id, per_capita_income=Decimal("1"))  # loads, changes and saves the same case
        withdraw(case, reason, by)

    monkeypatch.setattr(Case, "withdraw", withdraw_while_another_request_verifies)
    with pytest.raises(ConcurrentChange):
        cases.withdraw(case_id, "gs", by="li", reason="moved")
    assert cases.get_case(case_id, "gs").state == "verified"


def test_cases_from_before_the_case_search_are_found_once_reindexed(cases):
    from services.eventstore import Release
    from services.intake.case_index import SEARCH

    case = open_case(cases, "gs.by")
    cases.commit([], [Release(SEARCH, str(case.id))], [])  # as a store from before the search table holds it
    assert cases.find_cases("gs", text="张伟")["cases"] == []
    assert cases.find_cases("gs")["cases"][0]["name_masked"] is None
    assert cases.reindex_search() == 1
    assert [c["case_id"] for c in cases.find_cases("gs", text="张伟")["cases"]] == [str(case.id)]
    assert cases.reindex_search() == 0
