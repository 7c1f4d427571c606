"""The auditor's views over real events: intake, pairing, aid and audit as processes over a real Kafka broker.

A household is filed, paired and visited, paid a festival grant that it confirms; its exit, recorded late,
dates from months before the payment. The trail alone then shows the case as of a day, the clarity card with
the unit, the cadre and the payment each proved by their entries, and the payment made after the exit as an
anomaly that aid itself could not see when it paid.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from services import clock
from tests.e2e.flows import file_case, metric, register_cadres, wait_for
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka


@pytest.fixture
def system(kafka, tmp_path):
    running = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}"))
    yield running
    running.stop()


def ok(response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def history_types(system, case_id: str) -> list[str]:
    response = system.client("audit", "auditor", "gs", "shen").get(f"/cases/{case_id}/history")
    return [e["type"] for e in response.json()["events"]] if response.status_code == 200 else []


def wait_in_trail(system, case_id: str, kind: str, timeout: float = 60) -> None:
    wait_for(lambda: kind in history_types(system, case_id), timeout, f"{kind} of {case_id} in the trail")


def test_card_as_of_and_anomalies_come_from_real_events_and_catch_a_payment_after_the_exit(system):
    system.start("intake", "pairing", "aid", "audit")
    county = f"gs.by.t{uuid.uuid4().hex[:8]}"
    register_cadres(system, county, count=2, function="health")
    case_id = file_case(system, county)
    wait_in_trail(system, case_id, "PairingAssigned")
    today = clock.today().isoformat()  # the services' clock
    staff = system.client("pairing", "caseworker", county, "li")
    ok(staff.post(f"/cases/{case_id}/visits", {"visited_on": today, "kind": "routine", "findings": "病情稳定",
                                               "problems_solved": "办理医保"}))

    admin = system.client("aid", "admin", "gs", "admin1")
    program_id = ok(admin.post("/programs", {"name": "春节送温暖", "kind": "festival", "festival": "spring_festival",
                                             "year": clock.today().year, "federation": county,
                                             "amount": "1000.00"}))["program_id"]
    ok(admin.post("/budgets", {"program_id": program_id, "federation": county, "amount": "5000.00"}))
    wait_for(lambda: system.client("aid", "auditor", "gs", "shen").get(f"/cases/{case_id}/aid").status_code == 200,
             60, "the case in aid")
    caseworker = system.client("aid", "caseworker", "gs.by", "zhou")
    approver = system.client("aid", "approver", "gs.by", "wang")
    did = ok(caseworker.post("/disbursements", {"case_id": case_id, "program_id": program_id, "reason": "春节",
                                                "idempotency_key": str(uuid.uuid4())}))["disbursement_id"]
    ok(approver.post(f"/disbursements/{did}/approval"))
    ok(approver.post(f"/disbursements/{did}/payment", {"paid_on": today, "bank_reference": "ICBC-9"}))
    ok(caseworker.post(f"/disbursements/{did}/confirmation", {"confirmed_on": today, "by": "户主"}))
    wait_in_trail(system, case_id, "DisbursementConfirmed")

    # The exit is recorded today, but the household left on 1 June: before the payment.
    intake = system.client("intake", "caseworker", "gs.by", "li")
    ok(intake.post(f"/cases/{case_id}/exit", {"reason": "stable_employment", "exited_on": "2026-06-01",
                                              "notes": "已在本地企业稳定就业"}))
    wait_in_trail(system, case_id, "CaseExited")
    wait_in_trail(system, case_id, "PairingEnded")

    auditor = system.client("audit", "auditor", "gs", "shen")
    events = ok(auditor.get(f"/cases/{case_id}/history"), 200)["events"]
    index_of = {e["index"]: e for e in events}
    recorded = clock.today()  # every event of this test was recorded today

    card = ok(auditor.get(f"/cases/{case_id}/card"), 200)
    assert card["state"] == "exited" and sorted(card["causes"]) == ["education", "illness"]
    assert card["pairing"]["unit_name"] == "市人民医院" and card["pairing"]["cadre_name"].startswith("帮扶干部")
    assert "PairingAssigned" in {index_of[i]["type"] for i in card["pairing"]["indexes"] if i in index_of}
    (money,) = card["money"]
    assert (money["disbursement_id"], money["program"], money["status"], money["paid_on"]) == (
        did, "春节送温暖", "confirmed", today)
    assert [index_of[i]["type"] for i in money["indexes"]] == [
        "DisbursementRequested", "DisbursementApproved", "DisbursementPaid", "DisbursementConfirmed"]
    assert [v["findings"] for v in card["visits"]] == ["病情稳定"]
    page = auditor.get(f"/cases/{case_id}/card.html")
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "困难职工家庭帮扶明白卡" in page.text and "1,000.00 元" in page.text and "已签收" in page.text

    now = ok(auditor.get(f"/cases/{case_id}/as-of", params={"date": recorded.isoformat()}), 200)
    assert now["state"] == "exited" and now["paid_total"] == "1000.00"
    assert now["filed_periods"][0]["exited_on"] == "2026-06-01" and now["entries"] == len(events)
    before = auditor.get(f"/cases/{case_id}/as-of", params={"date": (recorded - timedelta(days=1)).isoformat()})
    assert before.status_code == 404, before.text
    bad = auditor.get(f"/cases/{case_id}/as-of", params={"date": "2026-02-30"})
    assert bad.status_code == 400 and "date" in bad.json()["fields"]

    found = ok(auditor.get("/anomalies", params={"federation": county}), 200)["findings"]
    late = [f for f in found if f["check"] == "paid_not_filed"]
    assert len(late) == 1 and late[0]["case_id"] == case_id and did in late[0]["detail"]
    assert "exited on 2026-06-01" in late[0]["detail"]
    proving = {index_of[i]["type"] for i in late[0]["indexes"]}
    assert {"DisbursementPaid", "CaseFiled", "CaseExited"} <= proving
    assert not [f for f in found if f["check"] in ("approved_by_requester", "paid_without_approval")]

    second = file_case(system, county)
    wait_in_trail(system, second, "PairingAssigned")
    clear = ok(auditor.get("/household-clear", params={"federation": county, "as_of": today}), 200)
    assert [c["case_id"] for c in clear["cases"]] == [second]  # the first one exited: no longer filed
    assert "measures" in clear["cases"][0]["failed"]  # no measure planned yet
    pairing = clear["cases"][0]["items"]["pairing"]["reasons"]  # paired, but filed in March and never visited
    assert len(pairing) == 1 and "overdue" in pairing[0]["reason"]


    # The trail's metrics, read from the store: its size, the checkpoint's age (signed at most 10 s apart).
    assert metric(system, "audit", "relief_trail_log_size") >= max(index_of) + 1
    assert 0 <= metric(system, "audit", "relief_trail_checkpoint_age_seconds") < 30
    assert metric(system, "audit", "relief_trail_entries_total", topic="relief.aid.aid-events") >= 4
