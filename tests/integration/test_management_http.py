"""Dynamic management, the plan, amendments and reports through the intake HTTP API."""

from copy import deepcopy

import pytest

from tests.e2e.flows import file_case
from tests.factories import WORKFLOW, application_body, id_number


@pytest.fixture
def approver(system):
    return system.client("intake", "approver", "gs.by", "wang")


def test_the_same_person_in_another_federation_is_409_naming_the_existing_case(system, staff):
    body = application_body("gs.by.pg")
    first = staff.post("/cases", body).json()["case_id"]
    other = system.client("intake", "caseworker", "gs.ln", "ma")
    response = other.post("/cases", dict(application_body("gs.ln"), worker=body["worker"]))
    assert response.status_code == 409
    assert response.json()["error"] == "duplicate_person"
    assert response.json()["existing_case_id"] == first
    assert response.json()["existing_federation"] == "gs.by.pg"


def test_a_member_id_number_is_validated_and_masked_for_auditors(system, staff):
    body = application_body()
    body["household"]["members"][0]["id_number"] = "620402198005170015"
    assert staff.post("/cases", body).status_code == 400
    body["household"]["members"][0]["id_number"] = spouse = id_number()
    case_id = staff.post("/cases", body).json()["case_id"]
    members = system.client("intake", "auditor", "gs").get(f"/cases/{case_id}").json()["household"]["members"]
    assert members[0]["id_number"] == spouse[:4] + "*" * 10 + spouse[-4:]


def test_exit_and_refiling_through_the_api(system, staff, approver):
    case_id = file_case(system)
    assert staff.post(f"/cases/{case_id}/exit", {"reason": "quit", "exited_on": "2026-05-01"}).status_code == 400
    exited = staff.post(f"/cases/{case_id}/exit", {"reason": "stable_employment", "exited_on": "2026-05-01"})
    assert exited.json()["state"] == "exited"
    assert staff.post(f"/cases/{case_id}/refiling", {"refiled_on": "2026-09-01", "reason": "x"}).status_code == 403
    refiled = approver.post(f"/cases/{case_id}/refiling", {"refiled_on": "2026-09-01", "reason": "再次失业"})
    assert refiled.json()["state"] == "filed" and refiled.json()["returns_to_hardship"] == 1


def test_review_and_due_for_review(system, staff):
    due, reviewed = file_case(system, "gs.by.hn"), file_case(system, "gs.by.hn")
    review = {"reviewed_on": "2026-11-10", "findings": "仍困难", "still_qualifies": True}
    assert staff.post(f"/cases/{reviewed}/review", review).status_code == 201
    listed = staff.get("/cases/due-for-review", params={"federation": "gs.by.hn", "as_of": "2027-03-13"}).json()
    assert [c["case_id"] for c in listed["cases"]] == [due]
    assert listed["cases"][0]["review_due_on"] == "2027-03-13"


def test_a_measure_of_the_plan_is_tracked_to_done(system, staff):
    case_id = file_case(system)
    added = staff.post(f"/cases/{case_id}/measures",
                       {"kind": "schooling", "description": "金秋助学", "planned_on": "2026-04-01"})
    measure_id = added.json()["measure_id"]
    done = staff.post(f"/cases/{case_id}/measures/{measure_id}/completion",
                      {"done_on": "2026-09-01", "result": "资助 3000 元"})
    [measure] = done.json()["measures"]
    assert measure["done_on"] == "2026-09-01" and measure["kind"] == "schooling"


def test_an_amendment_records_what_changed_and_why(system, staff):
    case_id = file_case(system)
    response = staff.post(f"/cases/{case_id}/amendment",
                          {"changes": {"category": "subsistence"}, "reason": "已纳入低保"})
    assert response.json()["category"] == "subsistence"
    assert response.json()["amendments"] == [{"changed": ["category"], "reason": "已纳入低保", "by": "li"}]
    assert staff.post(f"/cases/{case_id}/amendment", {"changes": {}, "reason": "x"}).status_code == 409


def file_a_year_earlier(system, staff, approver, federation):
    """File a case with the factory workflow's dates moved back a year (to 2025)."""
    case_id = staff.post("/cases", application_body(federation)).json()["case_id"]
    for step, body in WORKFLOW:
        earlier = {k: v.replace("2026-", "2025-") if isinstance(v, str) else v for k, v in body.items()}
        assert (approver if step == "approval" else staff).post(f"/cases/{case_id}/{step}", earlier).status_code == 201
    return case_id


def test_stats_of_a_year(system, staff, approver):
    federation = "gs.by.yx"
    case_id = file_a_year_earlier(system, staff, approver, federation)
    file_a_year_earlier(system, staff, approver, federation)
    staff.post(f"/cases/{case_id}/exit", {"reason": "income_above_line", "exited_on": "2026-02-01"})
    stats = staff.get("/stats", params={"federation": federation, "year": 2026}).json()
    assert stats["files_at_start_of_year"] == 2
    assert stats["exited_in_year"] == 1
    assert stats["exit_rate"] == 0.5
    assert stats["by_state"]["filed"] == 1 and stats["by_state"]["exited"] == 1
    assert staff.get("/stats", params={"federation": "gs.ln"}).status_code == 403


def test_a_review_or_exit_dated_after_tomorrow_is_a_400_naming_the_date(system, staff):
    case_id = file_case(system)
    review = {"reviewed_on": "2999-01-10", "findings": "x", "still_qualifies": True}
    review = staff.post(f"/cases/{case_id}/review", review)
    assert review.status_code == 400 and "reviewed_on" in review.json()["fields"]
    exited = staff.post(f"/cases/{case_id}/exit", {"reason": "moved", "exited_on": "2999-01-10"})
    assert exited.status_code == 400 and "exited_on" in exited.json()["fields"]
    assert staff.get(f"/cases/{case_id}").json()["state"] == "filed"


def test_an_approver_who_opened_the_case_may_not_refile_it(system, staff):
    case_id = file_case(system)
    staff.post(f"/cases/{case_id}/exit", {"reason": "moved", "exited_on": "2026-05-01"})
    same_user = system.client("intake", "approver", "gs.by", "li")
    response = same_user.post(f"/cases/{case_id}/refiling", {"refiled_on": "2026-09-01", "reason": "再次失业"})
    assert response.status_code == 409
    assert response.json()["error"] == "separation_of_duties"


def test_an_amended_member_age_must_agree_with_the_id_number(system, staff):
    case_id = file_case(system)
    household = application_body()["household"]
    household["members"][0].update(id_number=id_number(), age=20)
    response = staff.post(f"/cases/{case_id}/amendment", {"changes": {"household": household}, "reason": "补录"})
    assert response.status_code == 400, response.text
    assert response.json()["fields"]["changes"]["household"]["members"]["0"]["age"]


def shown_sections(case: dict) -> dict:
    """The worker and household as the case view shows them (masked), in the shape an amendment takes."""
    household = {key: case["household"][key] for key in ("members", "monthly_income", "subsistence_line")}
    return deepcopy({"worker": case["worker"], "household": household})


def test_sections_sent_back_as_shown_keep_the_masked_numbers_and_change_the_rest(system, staff):
    body = application_body()
    body["household"]["members"][0]["id_number"] = spouse = id_number()
    case_id = staff.post("/cases", body).json()["case_id"]
    changes = shown_sections(staff.get(f"/cases/{case_id}").json())
    assert "*" in changes["worker"]["phone"] and "*" in changes["household"]["members"][0]["id_number"]
    changes["worker"]["employer"] = "白银市政公司"
    changes["household"]["monthly_income"] = "900.00"
    response = staff.post(f"/cases/{case_id}/amendment", {"changes": changes, "reason": "换了工作"})
    assert response.status_code == 201, response.text
    assert sorted(response.json()["amendments"][0]["changed"]) == ["household", "worker"]
    shown = staff.post(f"/cases/{case_id}/disclosure", {"reason": "核对修改"}).json()
    assert shown["worker"]["id_number"] == body["worker"]["id_number"]
    assert shown["worker"]["phone"] == body["worker"]["phone"]
    assert shown["members"][0]["id_number"] == spouse
    case = staff.get(f"/cases/{case_id}").json()
    assert case["worker"]["employer"] == "白银市政公司" and case["household"]["monthly_income"] == "900.00"
    # A new phone typed in full replaces the stored one; the ID number left out stays.
    changes = shown_sections(case)
    del changes["worker"]["id_number"]
    changes["worker"]["phone"] = "13700001111"
    assert staff.post(f"/cases/{case_id}/amendment", {"changes": changes, "reason": "换号"}).status_code == 201
    assert staff.post(f"/cases/{case_id}/disclosure", {"reason": "核对"}).json()["worker"]["phone"] == "13700001111"


def test_a_masked_value_that_is_not_the_cases_own_is_refused_at_its_field(system, staff):
    body = application_body()
    body["household"]["members"][0]["id_number"] = id_number()
    body["household"]["members"][1].update(id_number=id_number(), age=body["household"]["members"][0]["age"])
    case_id = staff.post("/cases", body).json()["case_id"]
    case = staff.get(f"/cases/{case_id}").json()

    def refused(changes: dict) -> dict:
        response = staff.post(f"/cases/{case_id}/amendment", {"changes": changes, "reason": "改"})
        assert response.status_code == 400, response.text
        return response.json()["fields"]["changes"]

    changes = shown_sections(case)
    changes["worker"]["phone"] = "139****0000"
    assert refused(changes)["worker"]["phone"]
    changes = shown_sections(case)
    del changes["household"]["members"][0]["id_digest"]
    assert refused(changes)["household"]["members"]["0"]["id_digest"]
    changes = shown_sections(case)
    first, second = changes["household"]["members"]
    first["id_digest"] = second["id_digest"]  # another member's digest: its mask differs
    assert refused(changes)["household"]["members"]["0"]["id_number"]
    changes = shown_sections(case)
    changes["household"]["members"][0]["id_number"] = "6204**********12"
    assert refused(changes)["household"]["members"]["0"]["id_number"]
    assert staff.get(f"/cases/{case_id}").json()["amendments"] == []
