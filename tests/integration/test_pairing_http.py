"""The pairing HTTP API in-process: each route's happy path, the roles, and every named error's status.

One container serves the whole module; each test works in its own federation (gs.t1, gs.t2, …) so what
one test registers never pairs another's households.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest
import requests
from nameko.containers import ServiceContainer
from openapi_spec_validator import validate

from services.config import DEV_JWT_SECRET
from services.pairing.application import Pairings
from services.pairing.service import PairingService
from services.runtime.store import EventStore
from services.transport.factory import forget
from services.web.auth import issue_token
from tests.harness.postgres import free_port

TODAY = date(2026, 12, 1)
PHONE = "13812345678"


class Client:
    """One user's calls to the service."""

    def __init__(self, base_url: str, role: str, fed: str, user: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {issue_token(DEV_JWT_SECRET, user, role, fed)}"

    def get(self, path: str, **params: str) -> requests.Response:
        return self.session.get(self.base_url + path, params=params, timeout=10)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=10)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(self.base_url + path, json=body, timeout=10)


class Api:
    def __init__(self, base_url: str, app: Pairings):
        self.base_url, self.app = base_url, app

    def client(self, role: str = "admin", fed: str = "gs", user: str = "coordinator") -> Client:
        return Client(self.base_url, role, fed, user)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pairing")
    address = f"127.0.0.1:{free_port()}"
    transport_url = f"embedded:///{tmp}/bus.db"
    container = ServiceContainer(PairingService, {
        "WEB_SERVER_ADDRESS": address, "STORE_URL": f"sqlite:///{tmp}/pairing.db", "TRANSPORT_URL": transport_url,
        "JWT_SECRET": DEV_JWT_SECRET, "max_workers": 10,
    })
    [store] = [d for d in container.dependencies if isinstance(d, EventStore)]
    container.start()
    app: Pairings = store.app  # type: ignore[assignment]
    app.today = lambda: TODAY  # type: ignore[method-assign]
    yield Api(f"http://{address}", app)
    container.stop()
    forget(transport_url)


def unit(api: Api, federation: str, function: str = "health") -> str:
    answer = api.client().post("/units", {"name": f"{federation} health bureau", "function": function,
                                          "federation": federation})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["unit_id"])


def cadre(api: Api, unit_id: str, federation: str, rank: str = "leader", user: str | None = None) -> str:
    body = {"name": "王芳", "unit_id": unit_id, "rank": rank, "federation": federation, "phone": PHONE,
            "user": user or f"u{uuid4().hex[:8]}"}
    answer = api.client().post("/cadres", body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["cadre_id"])


def filed(api: Api, federation: str, filed_on: date = date(2026, 10, 9), causes: tuple[str, ...] = ("illness",)) -> str:
    case_id = str(uuid4())
    api.app.case_filed(case_id, federation, filed_on=filed_on, occurred_at=datetime.now(UTC), causes=list(causes))
    return case_id


VISIT = {"visited_on": "2026-11-20", "kind": "routine", "findings": "medicine bought; the roof leaks",
         "problems_solved": "hospital bill reimbursed", "measures": "", "next_steps": "fix the roof"}


# The roster.


def test_a_unit_is_registered_and_listed_under_its_federation(api):
    unit_id = unit(api, "gs.t1")
    listed = api.client("auditor", "gs.t1").get("/units", federation="gs.t1")
    assert listed.status_code == 200
    assert [u["unit_id"] for u in listed.json()["units"]] == [unit_id]
    assert listed.json()["units"][0]["function"] == "health"


def test_cadres_are_listed_with_load_and_capacity_and_their_phone_masked_but_to_admin(api):
    unit_id = unit(api, "gs.t2")
    leader = cadre(api, unit_id, "gs.t2", "leader")
    filed(api, "gs.t2")
    as_admin = api.client().get("/cadres", federation="gs.t2", unit_id=unit_id).json()["cadres"]
    assert [(c["cadre_id"], c["load"], c["capacity"], c["phone"]) for c in as_admin] == [(leader, 1, 2, PHONE)]
    for role in ("caseworker", "approver", "cadre", "auditor"):
        [seen] = api.client(role, "gs.t2").get("/cadres", federation="gs.t2").json()["cadres"]
        assert seen["phone"] == "138****5678"


def test_a_retired_cadres_household_is_handed_over(api):
    unit_id = unit(api, "gs.t3")
    first = cadre(api, unit_id, "gs.t3")
    case_id = filed(api, "gs.t3")
    second = cadre(api, unit_id, "gs.t3")
    assert api.client().get(f"/pairings/{case_id}").json()["cadre_id"] == first
    answer = api.client().post(f"/cadres/{first}/retirement", {"retired_on": "2026-11-30", "reason": "调离"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["active"] is False and answer.json()["retirement"]["reason"] == "调离"
    pairing = api.client().get(f"/pairings/{case_id}").json()
    assert pairing["cadre_id"] == second
    assert pairing["history"][-1]["event"] == "reassigned"


def test_raising_capacity_pairs_the_waiting_household(api):
    unit_id = unit(api, "gs.t4")
    staff = cadre(api, unit_id, "gs.t4", "staff")
    cadre_id_first = filed(api, "gs.t4", date(2026, 10, 1))
    waiting = filed(api, "gs.t4", date(2026, 10, 2))
    uncovered = api.client().get(f"/pairings/{waiting}").json()
    assert (uncovered["state"], uncovered["cadre_id"]) == ("uncovered", None)
    assert "no active cadre" in uncovered["reason"]
    answer = api.client().put("/capacity/gs.t4", {"leader": 3, "staff": 2})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"federation": "gs.t4", "leader": 3, "staff": 2}
    assert api.client().get(f"/pairings/{waiting}").json()["cadre_id"] == staff
    assert api.client().get(f"/pairings/{cadre_id_first}").json()["cadre_id"] == staff


# Pairings.


def test_a_filed_case_shows_its_pairing_and_rule(api):
    unit_id = unit(api, "gs.t5")
    leader = cadre(api, unit_id, "gs.t5", user="zhang")
    case_id = filed(api, "gs.t5.a")
    answer = api.client("caseworker", "gs.t5").get(f"/pairings/{case_id}")
    assert answer.status_code == 200
    pairing = answer.json()
    assert (pairing["state"], pairing["cadre_id"], pairing["unit_id"], pairing["contact"]) == (
        "active", leader, unit_id, "zhang")
    assert pairing["assigned_on"] == "2026-10-09"
    assert pairing["history"][0]["rule"]["cause"] == "illness"


def test_the_pairing_of_an_unknown_or_never_paired_case_is_404(api):
    assert api.client().get(f"/pairings/{uuid4()}").status_code == 404
    opened = str(uuid4())
    api.app.case_opened(opened, "gs.t6", category="low_income", causes=["illness"], occurred_at=datetime.now(UTC))
    answer = api.client().get(f"/pairings/{opened}")
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


def test_an_override_moves_the_household_within_capacity(api):
    unit_id = unit(api, "gs.t7")
    first = cadre(api, unit_id, "gs.t7")
    case_id = filed(api, "gs.t7")
    other = cadre(api, unit_id, "gs.t7")
    answer = api.client("approver", "gs.t7", "deng").put(
        f"/pairings/{case_id}", {"cadre_id": other, "contact": "村委李四", "reason": "lives next door"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["cadre_id"], answer.json()["contact"]) == (other, "村委李四")
    assert answer.json()["history"][-1]["rule"]["by"] == "deng"
    refused = api.client("caseworker", "gs.t7").put(f"/pairings/{case_id}", {"cadre_id": first, "reason": "x"})
    assert refused.status_code == 403


def test_an_override_over_capacity_or_across_subtrees_is_409(api):
    unit_id = unit(api, "gs.t8")
    busy = cadre(api, unit_id, "gs.t8.a", "staff")
    held = filed(api, "gs.t8.a")
    cadre(api, unit_id, "gs.t8.b", "leader")
    moving = filed(api, "gs.t8.b")
    across = api.client().put(f"/pairings/{moving}", {"cadre_id": busy, "reason": "knows the family"})
    assert across.status_code == 409 and across.json()["error"] == "outside_subtree"
    full = cadre(api, unit_id, "gs.t8.a", "staff")
    filed(api, "gs.t8.a")  # busy carries 1 of 1: this one goes to the new staff cadre, who is full then too
    over = api.client().put(f"/pairings/{held}", {"cadre_id": full, "reason": "knows the family"})
    assert over.status_code == 409 and over.json()["error"] == "capacity_full"
    assert api.client().get(f"/pairings/{held}").json()["cadre_id"] == busy


# Visits.


def test_a_cadre_records_a_visit_to_their_own_household_only(api):
    unit_id = unit(api, "gs.t9")
    cadre(api, unit_id, "gs.t9", user="liu")
    mine = filed(api, "gs.t9")
    cadre(api, unit_id, "gs.t9", user="chen")
    theirs = filed(api, "gs.t9")  # the least-loaded cadre: chen
    liu = api.client("cadre", "gs.t9", "liu")
    answer = liu.post(f"/cases/{mine}/visits", VISIT)
    assert answer.status_code == 201, answer.text
    [visit] = answer.json()["visits"]
    assert (visit["visitor"], visit["visited_on"], visit["kind"]) == ("liu", "2026-11-20", "routine")
    refused = liu.post(f"/cases/{theirs}/visits", VISIT)
    assert refused.status_code == 403 and refused.json()["error"] == "not_your_household"
    by_caseworker = api.client("caseworker", "gs.t9", "zhou").post(f"/cases/{theirs}/visits", VISIT)
    assert by_caseworker.status_code == 201
    listed = api.client("auditor", "gs.t9").get(f"/cases/{theirs}/visits").json()
    assert [v["visitor"] for v in listed["visits"]] == ["zhou"]
    households = liu.get("/my/households", as_of="2026-12-01").json()["households"]
    assert [(h["case_id"], h["last_visit_on"]) for h in households] == [(mine, "2026-11-20")]
    # This quarter's visit is done: the next one due is next quarter's.
    assert households[0]["next_due"] == {"kind": "quarter", "from": "2027-01-01", "by": "2027-03-31"}


def test_a_visit_in_the_future_or_to_an_unknown_case_is_refused(api):
    unit_id = unit(api, "gs.t10")
    cadre(api, unit_id, "gs.t10", user="he")
    case_id = filed(api, "gs.t10")
    he = api.client("cadre", "gs.t10", "he")
    future = he.post(f"/cases/{case_id}/visits", {**VISIT, "visited_on": "2026-12-05"})
    assert future.status_code == 400 and "visited_on" in future.json()["fields"]
    early = he.post(f"/cases/{case_id}/visits", {**VISIT, "visited_on": "2026-09-01"})
    assert early.status_code == 400 and "visited_on" in early.json()["fields"]
    assert he.post(f"/cases/{uuid4()}/visits", VISIT).status_code == 404
    assert api.client("auditor", "gs.t10").post(f"/cases/{case_id}/visits", VISIT).status_code == 403


def test_households_without_their_due_visit_are_listed_overdue(api):
    unit_id = unit(api, "gs.t11")
    leader = cadre(api, unit_id, "gs.t11")
    case_id = filed(api, "gs.t11", date(2026, 4, 1))
    answer = api.client("caseworker", "gs.t11").get("/visits/overdue", federation="gs.t11", as_of="2026-12-01")
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["households"]
    assert (row["case_id"], row["cadre_id"], row["due_by"], row["missed"]) == (case_id, leader, "2026-06-30", 2)
    assert row["days_overdue"] == (date(2026, 12, 1) - date(2026, 6, 30)).days
    assert api.client("cadre", "gs.t11").get("/visits/overdue").status_code == 403


def test_coverage_counts_filed_paired_uncovered_and_loads(api):
    unit_id = unit(api, "gs.t12")
    cadre(api, unit_id, "gs.t12", "staff")
    filed(api, "gs.t12")
    waiting = filed(api, "gs.t12")
    auditor = api.client("auditor", "gs.t12")
    answer = auditor.get("/coverage", federation="gs.t12")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "federation": "gs.t12", "as_of": TODAY.isoformat(), "filed": 2, "paired": 1,
        "paired_within": {"days": 15, "households": 1}, "uncovered": 1,
        "uncovered_households": [{"case_id": waiting, "federation": "gs.t12", "since": "2026-10-09", "days": 53,
                                  "reason": answer.json()["uncovered_households"][0]["reason"]}],
        "cadre_loads": {"1": 1}, "visits": [],
    }
    assert "no active cadre with free capacity" in answer.json()["uncovered_households"][0]["reason"]
    before = auditor.get("/coverage", federation="gs.t12", as_of="2026-10-08").json()
    assert (before["filed"], before["paired"], before["cadre_loads"]) == (0, 0, {})  # the cadre came later
    assert auditor.get("/coverage", federation="gs.t12", within_days="x").status_code == 400
    figures = auditor.get("/coverage", federation="gs.t12", uncovered_limit="0").json()  # the dashboard's ask
    assert (figures["uncovered"], figures["uncovered_households"]) == (1, [])
    assert auditor.get("/coverage", federation="gs.t12", uncovered_limit="1").json() == answer.json()
    assert auditor.get("/coverage", federation="gs.t12", uncovered_limit="-1").status_code == 400
    assert api.client("auditor", "gs.t12").get("/coverage", federation="gs.t1").status_code == 403


def test_a_visit_to_an_uncovered_household_is_409_for_a_caseworker_and_403_for_a_cadre(api):
    case_id = filed(api, "gs.t15")  # no cadre anywhere above gs.t15 but at gs, where none is registered
    answer = api.client("caseworker", "gs.t15").post(f"/cases/{case_id}/visits", VISIT)
    assert answer.status_code == 409 and answer.json()["error"] == "not_paired"
    assert api.client("cadre", "gs.t15", "nobody").post(f"/cases/{case_id}/visits", VISIT).status_code == 403


# Bad input, roles, the served description.


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/units", {"name": "  ", "function": "health", "federation": "gs.t13"}, "name"),
    ("/units", {"name": "卫健局", "function": "health", "federation": "gs.by\n"}, "federation"),
    ("/units", {"name": "卫健局", "function": "weather", "federation": "gs.t13"}, "function"),
    ("/cadres", {"name": "王芳", "unit_id": "x", "rank": "leader", "federation": "gs.t13", "phone": PHONE,
                 "user": "w"}, "unit_id"),
    ("/cadres", {"name": "王芳", "unit_id": str(uuid4()), "rank": "leader", "federation": "gs.t13",
                 "phone": "1381234567８", "user": "w"}, "phone"),
])
def test_bad_input_is_400_naming_the_field(api, path, body, field):
    answer = api.client().post(path, body)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["fields"]


def test_a_cadre_needs_a_mobile_phone_and_a_federation_under_their_units(api):
    unit_id = unit(api, "gs.t16.a")
    body = {"name": "王芳", "unit_id": unit_id, "rank": "staff", "federation": "gs.t16.a", "user": "wang"}
    landline = api.client().post("/cadres", {**body, "phone": "0931-8123456"})
    assert landline.status_code == 400 and "phone" in landline.json()["fields"]
    above = api.client().post("/cadres", {**body, "phone": PHONE, "federation": "gs.t16"})
    assert above.status_code == 400 and "federation" in above.json()["fields"]
    created = api.client().post("/cadres", {**body, "phone": PHONE})
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("rank", "load", "capacity", "phone", "user", "active")} == {
        "rank": "staff", "load": 0, "capacity": 1, "phone": PHONE, "user": "wang", "active": True}
    assert api.client().post("/cadres", {**body, "phone": PHONE, "unit_id": str(uuid4())}).status_code == 404


def test_bad_query_or_capacity_is_400_naming_the_field(api):
    assert "federation" in api.client().get("/units", federation="gs.by\n").json()["fields"]
    assert "as_of" in api.client().get("/visits/overdue", as_of="2026-13-01").json()["fields"]
    answer = api.client().put("/capacity/gs.t13", {"leader": 51, "staff": True})
    assert answer.status_code == 400 and {"leader", "staff"} <= set(answer.json()["fields"])
    bad_path = api.client().put("/capacity/GS.T13", {"leader": 1, "staff": 1})
    assert bad_path.status_code == 400 and "federation" in bad_path.json()["fields"]


def test_only_a_coordinator_keeps_the_roster_and_only_in_their_federation(api):
    body = {"name": "卫健局", "function": "health", "federation": "gs.t14"}
    assert api.client("caseworker", "gs").post("/units", body).status_code == 403
    assert api.client("admin", "gs.t1").post("/units", body).status_code == 403
    assert api.client("admin", "gs.t1").put("/capacity/gs.t14", {"leader": 1, "staff": 1}).status_code == 403


def test_the_served_openapi_description_is_valid(api):
    answer = requests.get(api.base_url + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    spec = answer.json()
    validate(spec)
    assert {"/units", "/cadres", "/cadres/{cadre_id}/retirement", "/capacity/{federation}", "/pairings/{case_id}",
            "/cases/{case_id}/visits", "/visits/overdue", "/my/households", "/coverage"} <= set(spec["paths"])


def test_metrics_count_pairings_and_show_coverage_per_top_level_federation(api, monkeypatch):
    from services.pairing import metrics

    monkeypatch.setattr(metrics.GAUGES, "refresh", 0.0)
    before = metric_value(api, "relief_pairing_pairings_total", event="assigned")
    unit_id = unit(api, "gs.t20")
    cadre(api, unit_id, "gs.t20", "staff")
    filed(api, "gs.t20")
    filed(api, "gs.t20")
    assert metric_value(api, "relief_pairing_pairings_total", event="assigned") == before + 1
    found = api.app.coverage("gs")
    ratio = metric_value(api, "relief_pairing_coverage_ratio", federation="gs")
    assert ratio == pytest.approx(found["paired"] / found["filed"])
    assert metric_value(api, "relief_pairing_uncovered_households", federation="gs") == found["uncovered"]
    assert metric_value(api, "relief_pairing_overdue_visits", federation="gs") == len(api.app.overdue("gs", TODAY))
    text = requests.get(api.base_url + "/metrics", timeout=10).text
    assert PHONE not in text


def metric_value(api: Api, name: str, **labels: str) -> float:
    text = requests.get(api.base_url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


def test_a_login_name_belongs_to_one_cadre_and_a_retired_cadre_visits_no_household(api):
    unit_id = unit(api, "gs.t21")
    cadre(api, unit_id, "gs.t21", "staff", user="zhangwei")
    body = {"name": "张伟", "unit_id": unit_id, "rank": "staff", "federation": "gs.t21", "phone": PHONE,
            "user": "zhangwei"}
    again = api.client().post("/cadres", body)
    assert again.status_code == 409 and again.json()["error"] == "duplicate_user"

    leaving = cadre(api, unit_id, "gs.t21", "staff", user="lina")
    case_id = filed(api, "gs.t21", causes=("illness",))
    api.app.case_exited(case_id, "gs.t21", reason="stable_employment", exited_on=date(2026, 11, 1),
                        occurred_at=datetime.now(UTC))
    pairing = api.client("auditor", "gs.t21").get(f"/pairings/{case_id}").json()
    who = pairing["cadre_id"]
    user = "zhangwei" if who != leaving else "lina"
    assert api.client().post(f"/cadres/{who}/retirement", {"retired_on": "2026-11-30", "reason": "退休"}).ok
    follow_up = {**VISIT, "kind": "follow_up"}
    answer = api.client("cadre", "gs.t21", user).post(f"/cases/{case_id}/visits", follow_up)
    assert answer.status_code == 403 and answer.json()["error"] == "not_your_household"
    assert "retired" in answer.json()["message"]


def test_a_roster_file_registers_units_and_cadres_and_lists_the_rows_it_refused(api):
    csv_text = ("kind,name,function,federation,unit,rank,phone,user\n"
                "单位,gs.t22 民政局,civil_affairs,gs.t22,,,,\n"
                "干部,李娜,,gs.t22,gs.t22 民政局,staff,13812345678,t22-lina\n"
                "干部,王强,,gs.t22,gs.t22 民政局,staff,12345,t22-wang\n")
    session = requests.Session()
    session.headers["Authorization"] = api.client().session.headers["Authorization"]
    answer = session.post(api.base_url + "/roster/imports", data=csv_text.encode(),
                          headers={"Content-Type": "text/csv"}, timeout=30)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rows"], report["units_registered"], report["cadres_registered"]) == (3, 1, 1)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(4, "phone")]
    assert [c["user"] for c in api.client().get("/cadres", federation="gs.t22").json()["cadres"]] == ["t22-lina"]
    again = session.post(api.base_url + "/roster/imports", data=csv_text.encode(),
                         headers={"Content-Type": "text/csv"}, timeout=30).json()
    assert (again["units_registered"], again["units_existing"], again["cadres_registered"]) == (0, 1, 0)
    bad = session.post(api.base_url + "/roster/imports", data=b"\xff\xfe", headers={"Content-Type": "text/csv"},
                       timeout=30)
    assert bad.status_code == 400 and "file" in bad.json()["fields"]
    caseworker = api.client("caseworker", "gs.t22")
    refused = caseworker.session.post(api.base_url + "/roster/imports", data=csv_text.encode(),
                                      headers={"Content-Type": "text/csv"}, timeout=30)
    assert refused.status_code == 403
