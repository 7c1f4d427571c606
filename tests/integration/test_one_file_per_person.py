"""One active file per person, province-wide (家庭信息对比核查), on every backend."""

import sqlite3
from datetime import date
from decimal import Decimal

import eventlet
import pytest

from services import clock
from services.intake.application import Cases, DuplicatePerson
from services.intake.domain import RepeatedPerson
from services.intake.identity import age_on
from tests.backends import backend_env
from tests.factories import BORN, application_body, id_number


def body(federation="gs.by", worker_id=None, member_ids=()):
    data = application_body(federation)
    data["household"]["monthly_income"] = Decimal("900")
    if worker_id:
        data["worker"]["id_number"] = worker_id
    for member, number in zip(data["household"]["members"], member_ids, strict=False):
        member["id_number"] = number
    return data


def open_case(cases, **kwargs):
    return cases.open_case(opened_by="li", **body(**kwargs))


def file(cases, case_id):
    cases.verify(case_id, "gs", by="li", visitors=["a", "b"], visited_on=date(2025, 3, 2),
                 per_capita_income=Decimal("600"), findings="f")
    cases.deliberate(case_id, "gs", by="li", decided_on=date(2025, 3, 5), outcome="recommend", notes="")
    cases.publish_notice(case_id, "gs", by="li", starts_on=date(2025, 3, 6), days=7)
    cases.approve(case_id, "gs", by="wang", approved_on=date(2025, 3, 13))


def exit_case(cases, case_id, exited_on=date(2026, 1, 5), reason="stable_employment"):
    return cases.exit(case_id, "gs", by="li", reason=reason, exited_on=exited_on, notes="")


def refile(cases, case_id):
    return cases.refile(case_id, "gs", by="wang", refiled_on=date(2026, 6, 1), reason="再次失业")


def test_the_same_worker_cannot_be_filed_twice_in_any_federation(cases):
    person = id_number()
    first = open_case(cases, federation="gs.by", worker_id=person)
    with pytest.raises(DuplicatePerson) as refused:
        open_case(cases, federation="gs.ln", worker_id=person)
    assert refused.value.details == {"existing_case_id": str(first.id), "existing_federation": "gs.by"}
    assert len(cases.list_cases("gs")) == 1


def test_a_member_of_one_household_cannot_be_the_worker_of_another(cases):
    spouse = id_number()
    first = open_case(cases, member_ids=[spouse])
    with pytest.raises(DuplicatePerson, match="already the member of active case") as refused:
        open_case(cases, federation="gs.ln", worker_id=spouse)
    assert refused.value.details["existing_case_id"] == str(first.id)


def test_a_person_cannot_appear_twice_in_one_household(cases):
    worker = id_number()
    with pytest.raises(RepeatedPerson):
        open_case(cases, worker_id=worker, member_ids=[worker])


def test_a_withdrawn_application_frees_the_person(cases):
    person = id_number()
    first = open_case(cases, worker_id=person)
    cases.withdraw(str(first.id), "gs", by="li", reason="搬离")
    assert open_case(cases, federation="gs.ln", worker_id=person).federation == "gs.ln"


def test_exit_frees_the_person_and_refiling_claims_them_again(cases):
    person = id_number()
    case = open_case(cases, worker_id=person)
    case_id = str(case.id)
    file(cases, case_id)
    exit_case(cases, case_id)
    other = open_case(cases, federation="gs.ln", worker_id=person)
    with pytest.raises(DuplicatePerson):
        refile(cases, case_id)
    assert cases.get_case(case_id, "gs").state == "exited"  # the refused re-filing stored nothing
    cases.withdraw(str(other.id), "gs", by="li", reason="重复申请")
    refiled = refile(cases, case_id)
    assert refiled.state == "filed" and len(refiled.refilings) == 1


def test_an_amendment_adding_a_member_checks_that_member(cases):
    taken = id_number()
    open_case(cases, worker_id=taken)
    case = open_case(cases)
    household = dict(case.household)
    mother = {"name": "王五", "relation": "parent", "age": age_on(BORN, clock.today()), "health": "disability",
              "schooling": "none", "id_number": taken}
    household["members"] = [*household["members"], mother]
    with pytest.raises(DuplicatePerson):
        cases.amend(str(case.id), "gs", by="li", changes={"household": household}, reason="母亲随住")


def test_exit_then_refiling_keeps_one_linked_history(cases):
    case_id = str(open_case(cases).id)
    file(cases, case_id)
    exit_case(cases, case_id, reason="income_above_line")
    refile(cases, case_id)
    topics = [n.topic.rsplit(".", 1)[-1] for n in cases.recorder.select_notifications(start=None, limit=100)
              if str(n.originator_id) == case_id]
    assert topics[-3:] == ["Filed", "Exited", "Refiled"]
    assert [r["case_id"] for r in cases.list_cases("gs", state="filed")] == [case_id]


def test_cases_due_for_review_a_year_after_filing_or_last_review(cases):
    reviewed, unreviewed = str(open_case(cases).id), str(open_case(cases).id)
    for case_id in (reviewed, unreviewed):
        file(cases, case_id)
    cases.review(reviewed, "gs", by="li", reviewed_on=date(2026, 2, 1), findings="仍困难", still_qualifies=True)
    due = cases.due_for_review("gs", None, date(2026, 3, 13))
    assert [r["case_id"] for r in due] == [unreviewed]
    assert due[0]["review_due_on"] == "2026-03-13"
    assert cases.due_for_review("gs", None, date(2026, 3, 12)) == []


@pytest.mark.postgres
def test_two_federations_filing_the_same_person_at_once_exactly_one_wins(postgres, tmp_path, request):
    env = backend_env(request, tmp_path, "postgres")
    province = [Cases(env), Cases(env)]  # two service instances, two connection pools
    try:
        for _ in range(20):
            person = id_number()

            def attempt(app, federation, person=person):
                try:
                    return app.open_case(opened_by="li", **body(federation, worker_id=person))
                except DuplicatePerson as refused:
                    return refused

            racers = [eventlet.spawn(attempt, app, fed) for app, fed in zip(province, ["gs.by", "gs.ln"], strict=True)]
            outcomes = [r.wait() for r in racers]
            assert sum(isinstance(o, DuplicatePerson) for o in outcomes) == 1, outcomes
    finally:
        for app in province:
            app.close()
    assert len(Cases(env).list_cases("gs")) == 20


def test_the_store_on_disk_holds_no_plain_id_number_or_phone(tmp_path, request):
    env = backend_env(request, tmp_path, "sqlite")
    app = Cases(env)
    data = body(member_ids=[id_number()])
    app.open_case(opened_by="li", **data)
    app.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    for secret in (data["worker"]["id_number"], data["household"]["members"][0]["id_number"],
                   data["worker"]["phone"], data["worker"]["name"]):
        assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / "store.db") as db:
        assert db.execute("SELECT count(*) FROM intake_persons").fetchone()[0] == 2
