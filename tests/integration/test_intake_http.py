"""The intake HTTP API through a real nameko container: validation, access and errors."""

import copy

import pytest

from tests.factories import WORKFLOW, application_body, id_number


def case_count(system):
    return len(system.client("intake", "admin", "gs").get("/cases").json()["cases"])


def set_path(body, path, value):
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


DELETE = object()
BAD_FIELDS = [
    (("federation",), "GS.BY", "federation"),
    (("federation",), DELETE, "federation"),
    (("worker", "id_number"), "62040219800517001", "worker.id_number"),
    (("worker", "id_number"), "620402198005170015", "worker.id_number"),
    (("worker", "id_number"), "620402198002300014", "worker.id_number"),
    (("worker", "name"), "", "worker.name"),
    (("worker", "phone"), "12345", "worker.phone"),
    (("worker", "migrant"), "maybe", "worker.migrant"),
    (("household", "monthly_income"), "-1", "household.monthly_income"),
    (("household", "monthly_income"), "lots", "household.monthly_income"),
    (("household", "subsistence_line"), "0", "household.subsistence_line"),
    (("household", "members", 0, "relation"), "cousin-ish", "household.members.0.relation"),
    (("household", "members", 0, "age"), -3, "household.members.0.age"),
    (("household", "members", 0, "health"), "fine", "household.members.0.health"),
    (("household", "members", 0, "schooling"), "phd", "household.members.0.schooling"),
    (("category",), "poor", "category"),
    (("causes",), [], "causes"),
    (("causes",), ["illness", "bad_luck"], "causes.1"),
    (("unexpected",), 1, "unexpected"),
]


def field_at(fields, dotted):
    node = fields
    for part in dotted.split("."):
        key = int(part) if part.isdigit() and int(part) in node else part
        node = node[key]
    return node


@pytest.mark.parametrize(("path", "value", "field"), BAD_FIELDS, ids=[f[2] + ":" + repr(f[1])[:12] for f in BAD_FIELDS])
def test_each_bad_field_is_a_400_naming_it_and_records_nothing(system, staff, path, value, field):
    before = case_count(system)
    body = application_body()
    set_path(body, path, value)
    response = staff.post("/cases", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] == "bad_request"
    assert field_at(error["fields"], field)
    assert case_count(system) == before


def test_a_body_that_is_not_json_is_a_400(staff):
    response = staff.post("/cases", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "body" in response.json()["fields"]


def test_bad_dates_in_workflow_steps_are_400(staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    step = copy.deepcopy(WORKFLOW[0][1])
    step["visited_on"] = "2026-02-30"
    response = staff.post(f"/cases/{case_id}/verification", step)
    assert response.status_code == 400
    assert "visited_on" in response.json()["fields"]


def test_the_workflow_runs_to_filed_and_each_step_is_visible(system, staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    approver = system.client("intake", "approver", "gs.by", "wang")
    for step, body in WORKFLOW:
        caller = approver if step == "approval" else staff
        response = caller.post(f"/cases/{case_id}/{step}", body)
        assert response.status_code == 201, response.text
    case = staff.get(f"/cases/{case_id}").json()
    assert case["state"] == "filed"
    assert case["approval"]["approver"] == "wang"


def test_a_home_visit_or_deliberation_dated_after_tomorrow_is_a_400_naming_the_date(staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    visit = dict(WORKFLOW[0][1], visited_on="2999-03-02")
    response = staff.post(f"/cases/{case_id}/verification", visit)
    assert response.status_code == 400, response.text
    assert response.json()["fields"]["visited_on"]
    assert staff.post(f"/cases/{case_id}/verification", WORKFLOW[0][1]).status_code == 201
    decision = dict(WORKFLOW[1][1], decided_on="2999-03-05")
    response = staff.post(f"/cases/{case_id}/deliberation", decision)
    assert response.status_code == 400 and response.json()["fields"]["decided_on"]
    assert staff.get(f"/cases/{case_id}").json()["state"] == "verified"


def test_an_approval_dated_after_tomorrow_is_a_400(system, staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    for step, body in WORKFLOW[:3]:
        assert staff.post(f"/cases/{case_id}/{step}", body).status_code == 201
    approver = system.client("intake", "approver", "gs.by", "wang")
    response = approver.post(f"/cases/{case_id}/approval", {"approved_on": "2999-03-13"})
    assert response.status_code == 400 and response.json()["fields"]["approved_on"]


@pytest.mark.parametrize(("approver", "reason"), [("li", "opened this case"), ("王芳", "made this case's home visit")])
def test_who_opened_the_case_or_visited_the_home_may_not_approve_it(system, staff, approver, reason):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    for step, body in WORKFLOW[:3]:
        assert staff.post(f"/cases/{case_id}/{step}", body).status_code == 201
    response = system.client("intake", "approver", "gs.by", approver).post(f"/cases/{case_id}/approval",
                                                                           WORKFLOW[3][1])
    assert response.status_code == 409
    assert response.json()["error"] == "separation_of_duties"
    assert reason in response.json()["message"]
    assert staff.get(f"/cases/{case_id}").json()["state"] == "on_notice"


def test_a_member_age_that_disagrees_with_their_id_number_is_a_400_naming_the_field(system, staff):
    before = case_count(system)
    body = application_body()
    body["household"]["members"][0].update(id_number=id_number(), age=3)
    response = staff.post("/cases", body)
    assert response.status_code == 400, response.text
    assert field_at(response.json()["fields"], "household.members.0.age")
    assert "household.members[0].age" in response.json()["message"]
    assert case_count(system) == before


def test_the_same_id_number_twice_in_one_household_is_a_400(staff):
    body = application_body()
    body["household"]["members"][0]["id_number"] = body["worker"]["id_number"]
    response = staff.post("/cases", body)
    assert response.status_code == 400
    assert "appears twice" in response.json()["message"]


def test_an_illegal_transition_is_409_with_the_reason(system, staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    response = system.client("intake", "approver", "gs.by", "wang").post(
        f"/cases/{case_id}/approval", {"approved_on": "2026-03-13"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "illegal_transition"
    assert "must be on_notice" in response.json()["message"]


def test_objection_upheld_returns_the_case_to_verification(system, staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    for step, body in WORKFLOW[:3]:
        assert staff.post(f"/cases/{case_id}/{step}", body).status_code == 201
    raised = staff.post(f"/cases/{case_id}/objections", {"raised_on": "2026-03-08", "by": "邻居", "reason": "有车"})
    objection_id = raised.json()["objection_id"]
    resolved = staff.post(f"/cases/{case_id}/objections/{objection_id}/resolution", {"upheld": True, "notes": "属实"})
    assert resolved.json()["state"] == "applied"


def test_no_token_is_401(system):
    assert system.client("intake", role=None).post("/cases", application_body()).status_code == 401
    assert system.client("intake", role=None).get("/cases").status_code == 401


def test_a_forged_token_is_401(system):
    client = system.client("intake", role=None)
    client.session.headers["Authorization"] = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    assert client.get("/cases").status_code == 401


def test_a_role_that_may_not_act_is_403(system):
    cadre = system.client("intake", "cadre", "gs.by", "zhou")
    assert cadre.post("/cases", application_body()).status_code == 403


def test_opening_a_case_outside_ones_federation_is_403(staff):
    response = staff.post("/cases", application_body("gs.ln"))
    assert response.status_code == 403
    assert "outside gs.by" in response.json()["message"]


def test_a_case_in_another_subtree_is_404_and_not_listed(system):
    other = system.client("intake", "caseworker", "gs.ln", "ma")
    case_id = other.post("/cases", application_body("gs.ln.xg")).json()["case_id"]
    ours = system.client("intake", "caseworker", "gs.by", "li")
    assert ours.get(f"/cases/{case_id}").status_code == 404
    assert case_id not in {c["case_id"] for c in ours.get("/cases").json()["cases"]}
    assert case_id in {c["case_id"] for c in system.client("intake", "auditor", "gs").get("/cases").json()["cases"]}


def test_list_filters_by_federation_and_state(system, staff):
    case_id = staff.post("/cases", application_body("gs.by.jc")).json()["case_id"]
    staff.post(f"/cases/{case_id}/withdrawal", {"reason": "搬离"})
    listed = staff.get("/cases", params={"federation": "gs.by.jc", "state": "withdrawn"}).json()["cases"]
    assert [c["case_id"] for c in listed] == [case_id]
    assert staff.get("/cases", params={"state": "nonsense"}).status_code == 400


def test_every_role_sees_id_numbers_and_phone_masked(system, staff):
    body = application_body()
    case_id = staff.post("/cases", body).json()["case_id"]
    masked = body["worker"]["id_number"][:4] + "*" * 10 + body["worker"]["id_number"][-4:]
    for caller in (staff, system.client("intake", "approver"), system.client("intake", "auditor", "gs")):
        seen = caller.get(f"/cases/{case_id}").json()["worker"]
        assert (seen["id_number"], seen["phone"]) == (masked, "139****5678")


def test_a_disclosure_shows_personal_data_in_full_and_records_who_and_why(system, staff):
    body = application_body()
    case_id = staff.post("/cases", body).json()["case_id"]
    before = staff.get(f"/cases/{case_id}").json()["version"]
    shown = staff.post(f"/cases/{case_id}/disclosure", {"reason": "核对银行卡开户信息"})
    assert shown.status_code == 200
    assert shown.json()["worker"] == {"name": body["worker"]["name"], "id_number": body["worker"]["id_number"],
                                      "phone": body["worker"]["phone"]}
    assert [m["name"] for m in shown.json()["members"]] == [m["name"] for m in body["household"]["members"]]
    assert staff.get(f"/cases/{case_id}").json()["version"] == before + 1  # the read is an event of the case


@pytest.mark.parametrize("reason", [None, "", "   ", "a\x00b"])
def test_a_disclosure_without_a_readable_reason_is_refused_and_shows_nothing(system, staff, reason):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    refused = staff.post(f"/cases/{case_id}/disclosure", {} if reason is None else {"reason": reason})
    assert refused.status_code == 400
    assert "reason" in refused.json()["fields"]
    assert "worker" not in refused.json()


@pytest.mark.parametrize("role", ["cadre", "auditor", "admin"])
def test_only_caseworkers_and_approvers_may_ask_for_a_disclosure(system, staff, role):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    refused = system.client("intake", role).post(f"/cases/{case_id}/disclosure", {"reason": "想看看"})
    assert refused.status_code == 403


def test_no_disclosure_outside_the_callers_subtree(system, staff):
    case_id = staff.post("/cases", application_body("gs.by.jc")).json()["case_id"]
    other = system.client("intake", "caseworker", "gs.by.pg")
    assert other.post(f"/cases/{case_id}/disclosure", {"reason": "核对"}).status_code == 404


def test_health_and_metrics_need_no_token(system):
    anonymous = system.client("intake", role=None)
    assert anonymous.get("/health").json() == {"status": "ok", "service": "intake"}
    metrics = anonymous.get("/metrics").text
    assert 'relief_http_requests_total{method="POST",route="/cases",service="intake",status="201"}' in metrics
    assert "relief_http_request_seconds_bucket" in metrics


# The case list: filters, search by name or masked ID number, pages.


def test_the_case_list_finds_a_worker_by_exact_name_masked_id_or_its_last_four(system):
    staff = system.client("intake", "caseworker", "gs.by.sl", "li")
    body = application_body("gs.by.sl")
    body["worker"]["name"] = "欧阳娜娜"
    case_id = staff.post("/cases", body).json()["case_id"]
    other = staff.post("/cases", application_body("gs.by.sl")).json()["case_id"]
    number = body["worker"]["id_number"]
    masked = number[:4] + "*" * 10 + number[-4:]
    for text in ("欧阳娜娜", " 欧阳 娜娜 ", masked, number[-4:]):
        found = staff.get("/cases", params={"q": text}).json()
        assert [c["case_id"] for c in found["cases"]] == [case_id], text
        assert found["total"] == 1
    [row] = staff.get("/cases", params={"q": "欧阳娜娜"}).json()["cases"]
    assert (row["name_masked"], row["id_number_masked"]) == ("欧**娜", masked)
    assert staff.get("/cases", params={"q": "欧阳"}).json()["cases"] == []  # a part of a name is not searched
    assert other in [c["case_id"] for c in staff.get("/cases").json()["cases"]]


def test_the_case_list_filters_by_category_and_cause_and_pages_newest_first(system):
    staff = system.client("intake", "caseworker", "gs.by.dg", "li")
    opened = []
    for category, causes in (("marginal", ["illness"]), ("subsistence", ["illness", "disability"]),
                             ("subsistence", ["disability"]), ("marginal", ["education"])):
        opened.append(staff.post("/cases", application_body("gs.by.dg", category=category, causes=causes))
                      .json()["case_id"])
    deep = staff.get("/cases", params={"category": "subsistence"}).json()
    assert [c["case_id"] for c in deep["cases"]] == [opened[2], opened[1]]
    ill = staff.get("/cases", params={"cause": "illness"}).json()
    assert [c["case_id"] for c in ill["cases"]] == [opened[1], opened[0]]
    first = staff.get("/cases", params={"limit": 3}).json()
    second = staff.get("/cases", params={"limit": 3, "offset": 3}).json()
    assert (first["total"], second["total"], second["offset"]) == (4, 4, 3)
    assert [c["case_id"] for c in first["cases"] + second["cases"]] == opened[::-1]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "501"}, {"offset": "-1"}, {"limit": "ten"},
                                   {"category": "rich"}, {"cause": "luck"}, {"q": "a\nb"}, {"q": ""}])
def test_a_bad_case_list_query_is_a_400_naming_the_field(system, staff, query):
    answer = staff.get("/cases", params=query)
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) == set(query)


def test_a_member_with_an_id_number_is_shown_with_the_digest_other_services_know_them_by(system, staff):
    from services.config import DEV_PERSON_KEY
    from services.intake.identity import person_digest

    body = application_body()
    body["household"]["members"][0]["id_number"] = spouse = id_number()
    case_id = staff.post("/cases", body).json()["case_id"]
    members = staff.get(f"/cases/{case_id}").json()["household"]["members"]
    assert members[0]["id_digest"] == person_digest(DEV_PERSON_KEY, spouse)
    assert members[0]["id_number"] == spouse[:4] + "*" * 10 + spouse[-4:]
    assert "id_digest" not in members[1]  # no ID number given, nothing to digest
