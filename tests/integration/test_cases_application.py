"""The intake application on every backend: the same behaviour on memory, SQLite and PostgreSQL."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.application import CaseNotFound, Cases, ConcurrentChange
from services.intake.domain import IllegalTransition
from tests.factories import application_body


def open_case(cases, federation="gs.by.pg"):
    body = application_body(federation)
    body["household"]["monthly_income"] = Decimal(body["household"]["monthly_income"])
    return cases.open_case(opened_by="li", **body)


def file_case(cases, case_id, scope="gs"):
    cases.change(case_id, scope, lambda c: c.verify(["a", "b"], date(2026, 3, 2), Decimal("600"), "f", "li"))
    cases.change(case_id, scope, lambda c: c.deliberate(date(2026, 3, 5), "recommend", "", "li"))
    cases.change(case_id, scope, lambda c: c.publish_notice(date(2026, 3, 6), 7, "li"))
    case, _ = cases.change(case_id, scope, lambda c: c.approve(date(2026, 3, 13), "wang"))
    return case


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
        cases.change(case_id, "gs", lambda c: c.approve(date(2026, 3, 13), "wang"))
    assert cases.recorder.max_notification_id() == before


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
        cases.change(case_id, "gs.by", lambda c: c.withdraw("moved", "x"))


def test_a_code_that_only_shares_a_prefix_is_not_in_the_subtree(cases):
    case_id = str(open_case(cases, "gs.byx").id)
    assert cases.list_cases("gs.by") == []
    with pytest.raises(CaseNotFound):
        cases.get_case(case_id, "gs.by")


def test_two_changes_to_one_case_at_once_store_one_and_refuse_the_other(cases):
    case_id = str(open_case(cases).id)

    def withdraw_while_another_request_verifies(case):
        cases.change(case_id, "gs", lambda c: c.verify(["a", "b"], date(2026, 3, 2), Decimal("1"), "f", "li"))
        case.withdraw("moved", "li")

    with pytest.raises(ConcurrentChange):
        cases.change(case_id, "gs", withdraw_while_another_request_verifies)
    assert cases.get_case(case_id, "gs").state == "verified"
