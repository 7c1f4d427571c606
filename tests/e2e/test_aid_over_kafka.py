"""Aid as its own process over a real Kafka broker: it learns every case from intake's events, an exit in intake
cancels the case's pending requests, a festival batch over 500 filed households reaches exactly the eligible
ones, and every step of every disbursement reaches the audit history of its case.

The broker is shared by the whole session, so intake's topic already holds earlier tests' cases (aid reads it
from the start). Each test therefore works in a county of its own under gs.by (gs.by.t1a2b3c4), where its
programs and budgets live too: no other test's household counts in its batches or its budgets.
"""

from __future__ import annotations

import csv
import io
import random
import time
import uuid
from typing import Any

import pytest

from services import clock
from services.contracts.topics import INTAKE_TOPIC
from tests.e2e.flows import caught_up, end_offsets, file_case, history, metric, types_from, wait_for
from tests.harness.services import ProcessSystem, environment
from tests.import_files import to_csv, valid_row

pytestmark = pytest.mark.kafka

CSV = "text/csv"
STEP_TYPES = {"requested": "DisbursementRequested", "approved": "DisbursementApproved",
              "rejected": "DisbursementRejected", "paid": "DisbursementPaid", "confirmed": "DisbursementConfirmed",
              "failed": "DisbursementFailed", "reversed": "DisbursementReversed",
              "cancelled": "DisbursementCancelled"}


@pytest.fixture
def system(kafka, tmp_path):
    running = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}"))
    yield running
    running.stop()


@pytest.fixture
def county():
    """A federation no other test files a case in (gs.by.t1a2b3c4d)."""
    return f"gs.by.t{uuid.uuid4().hex[:8]}"


def today() -> str:
    return clock.today().isoformat()  # aid's processes decide on the same machine's clock


# Steps through aid's API.


def aid(system, role: str = "admin", fed: str = "gs", user: str = "admin1"):
    return system.client("aid", role, fed, user)


def ok(response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def case_in_aid(system, case_id: str) -> dict[str, Any] | None:
    response = aid(system, "auditor", "gs", "shen").get(f"/cases/{case_id}/aid")
    return response.json() if response.status_code == 200 else None


def wait_case_state(system, case_id: str, state: str, timeout: float = 60) -> None:
    wait_for(lambda: (case_in_aid(system, case_id) or {}).get("state") == state, timeout,
             f"case {case_id} {state} in aid")


def program(system, federation: str, kind: str = "festival", budget: str = "100000.00", **terms: Any) -> str:
    """A program of the county with its budget there; its id."""
    body: dict[str, Any] = {"name": f"{kind} {clock.today().year}", "kind": kind, "year": clock.today().year,
                            "federation": federation, **terms}
    if kind == "festival":
        body["festival"] = "spring_festival"
    program_id = str(ok(aid(system).post("/programs", body))["program_id"])
    ok(aid(system).post("/budgets", {"program_id": program_id, "federation": federation, "amount": budget}))
    return program_id


def budget(system, program_id: str, federation: str) -> dict[str, Any]:
    rows = ok(aid(system, "auditor", federation).get("/budgets", params={"program_id": program_id}), 200)["budgets"]
    [found] = [b for b in rows if b["federation"] == federation]
    return found


def request(system, case_id: str, program_id: str, amount: str | None = None) -> str:
    body = {"case_id": case_id, "program_id": program_id, "idempotency_key": str(uuid.uuid4()), "reason": "帮扶",
            "amount": amount}
    return str(ok(aid(system, "caseworker", "gs.by", "zhou").post("/disbursements", body))["disbursement_id"])


def act(system, disbursement_id: str, step: str, body: dict[str, Any] | None = None,
        role: str = "approver") -> dict[str, Any]:
    return ok(aid(system, role, "gs.by", "wang").post(f"/disbursements/{disbursement_id}/{step}", body))


def disbursement(system, disbursement_id: str) -> dict[str, Any]:
    return ok(aid(system, "auditor", "gs").get(f"/disbursements/{disbursement_id}"), 200)


def exit_in_intake(system, case_id: str) -> None:
    staff = system.client("intake", "caseworker", "gs.by", "li")
    ok(staff.post(f"/cases/{case_id}/exit", {"reason": "stable_employment", "exited_on": today()}))


def aid_history(system, case_id: str, want: list[str], timeout: float = 60) -> list[dict[str, Any]]:
    """The case's audit history once aid's events in it are `want` (or whatever it holds when time runs out)."""
    auditor = system.client("audit", "auditor", "gs", "shen")
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = auditor.get(f"/cases/{case_id}/history")
        if response.status_code == 200:
            events = response.json()["events"]
            if types_from(events, "aid") == want:
                return events
        time.sleep(0.2)
    return events


# The tests.


def test_a_case_that_exits_in_intake_has_its_pending_requests_cancelled_in_aid(system, county):
    system.start("intake", "aid", "audit")
    case_id = file_case(system, county)
    wait_case_state(system, case_id, "filed")
    living = program(system, county, kind="living", budget="5000.00", rule={"max": "800.00"})
    waiting = request(system, case_id, living, "200.00")
    reserved = request(system, case_id, living, "300.00")
    act(system, reserved, "approval")
    done = request(system, case_id, living, "100.00")
    act(system, done, "approval")
    act(system, done, "payment", {"paid_on": today(), "bank_reference": "ICBC-77"})
    assert (budget(system, living, county)["reserved"], budget(system, living, county)["paid"]) == ("300.00", "100.00")

    exit_in_intake(system, case_id)
    wait_for(lambda: {disbursement(system, d)["state"] for d in (waiting, reserved)} == {"cancelled"}, 60,
             "both pending requests cancelled in aid")
    for cancelled in (waiting, reserved):
        last = disbursement(system, cancelled)["steps"][-1]
        assert (last["state"], last["by"], last["on"]) == ("cancelled", "aid", today())
        assert last["reason"].startswith("the case exited") and last["reason"].endswith("stable_employment")
    assert disbursement(system, done)["state"] == "paid"  # money already paid stays paid
    left = budget(system, living, county)
    assert (left["reserved"], left["paid"], left["remaining"]) == ("0.00", "100.00", "4900.00")
    assert case_in_aid(system, case_id)["state"] == "exited"  # type: ignore[index]
    refused = aid(system, "caseworker", "gs.by", "zhou").post("/disbursements", {
        "case_id": case_id, "program_id": living, "idempotency_key": str(uuid.uuid4()), "reason": "x",
        "amount": "50.00"})
    assert refused.status_code == 409 and refused.json()["error"] == "not_eligible"
    assert [c["check"] for c in refused.json()["checks"]] == ["state"]

    events = aid_history(system, case_id, ["DisbursementRequested"] * 2 + [
        "DisbursementApproved", "DisbursementRequested", "DisbursementApproved", "DisbursementPaid",
        "DisbursementCancelled", "DisbursementCancelled"])
    cancellations = [e for e in events if e["type"] == "DisbursementCancelled"]
    assert {e["payload"]["disbursement_id"]: e["payload"]["amount"] for e in cancellations} == {
        waiting: "200.00", reserved: "300.00"}
    assert types_from(events, "intake")[-1] == "CaseExited"


def import_cases(system, rows: list[dict[str, str]]) -> None:
    staff = system.client("intake", "caseworker", "gs.by", "li")
    response = staff.post("/imports?filename=festival", data=to_csv(rows), headers={"Content-Type": CSV})
    assert response.status_code == 202, response.text
    view = response.json()
    deadline = time.monotonic() + 120
    while view["state"] == "running":
        assert time.monotonic() < deadline, view
        time.sleep(0.2)
        view = staff.get(f"/imports/{view['import_id']}").json()
    assert (view["state"], view["filed"], view["failures"]) == ("done", len(rows), []), view


def intake_settled(system, kafka: str, timeout: float = 90) -> None:
    """Wait until intake has published everything it stored and aid has applied all of intake's topic."""
    wait_for(lambda: metric(system, "intake", "relief_outbox_backlog_events") == 0, timeout, "intake's outbox empty")
    ends = end_offsets(kafka, INTAKE_TOPIC)
    wait_for(lambda: caught_up(system, "aid", INTAKE_TOPIC, ends), timeout, "aid through intake's topic")


def test_a_festival_batch_over_500_filed_households_reaches_exactly_the_eligible_ones(system, kafka, county):
    system.start("intake", "aid", "audit")
    rng = random.Random(uuid.uuid4().int)
    rows = [valid_row(rng, federation=f"{county}.v{n % 5}") for n in range(560)]
    for n, row in enumerate(rows):
        row["category"] = "accident" if n % 14 == 0 else ("marginal" if n % 2 else "subsistence")  # 40 accidents
    import_cases(system, rows)
    cases = ok(system.client("intake", "admin", "gs", "root").get("/cases", params={"federation": county}),
               200)["cases"]
    assert len(cases) == 560
    accidents = {c["case_id"] for c in cases if c["category"] == "accident"}
    exiting = set(sorted(c["case_id"] for c in cases if c["category"] != "accident")[:20])
    eligible = {c["case_id"] for c in cases} - accidents - exiting
    assert (len(accidents), len(exiting), len(eligible)) == (40, 20, 500)
    for case_id in exiting:
        exit_in_intake(system, case_id)
    intake_settled(system, kafka)
    for case in cases:  # every case as intake has it now, whichever partition its events took
        wait_case_state(system, case["case_id"], "exited" if case["case_id"] in exiting else "filed", 30)

    festival = program(system, county, amount="1000.00", budget="500000.00",
                       eligibility={"categories": ["subsistence", "marginal"]})
    started = time.monotonic()
    batch = ok(aid(system, "admin", "gs.by", "deng").post(f"/programs/{festival}/batches", {
        "federation": county, "reason": "春节送温暖", "idempotency_key": f"spring-{county}"}))
    assert (batch["included"], batch["total"]) == (500, "500000.00")
    assert {e["case_id"] for e in batch["excluded"]} == accidents
    assert {tuple(c["check"] for c in e["failed"]) for e in batch["excluded"]} == {("category",)}
    listed = ok(aid(system, "auditor", county).get("/disbursements", params={
        "federation": county, "program_id": festival, "limit": "1000"}), 200)["disbursements"]
    assert {d["case_id"] for d in listed} == eligible and len(listed) == 500
    assert {d["disbursement_id"] for d in listed} == set(batch["disbursements"])
    by_case = {d["case_id"]: d["disbursement_id"] for d in listed}

    approved = ok(aid(system, "approver", "gs.by", "wang").post(f"/batches/{batch['batch_id']}/approval"))
    assert (approved["approval"]["approved"], approved["approval"]["total"]) == (500, "500000.00")
    assert budget(system, festival, county)["remaining"] == "0.00"  # exactly what the budget covers

    exported = aid(system, "approver", "gs.by", "wang").get(f"/batches/{batch['batch_id']}/bank-file")
    assert exported.status_code == 200, exported.text
    lines = list(csv.reader(io.StringIO(exported.text)))
    assert lines[0] == ["disbursement_id", "name", "account", "amount"]
    assert {line[0] for line in lines[1:]} == set(by_case.values()) and {line[3] for line in lines[1:]} == {"1000.00"}
    returned = set(sorted(by_case.values())[:10])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["disbursement_id", "result", "date", "bank_reference", "reason"])
    for n, line in enumerate(lines[1:]):
        returned_line = line[0] in returned
        writer.writerow([line[0], "failed" if returned_line else "paid", today(), "" if returned_line else f"B{n}",
                         "账户已销户" if returned_line else ""])
    results = ok(aid(system, "approver", "gs.by", "wang").post(f"/batches/{batch['batch_id']}/bank-results", None,
                                                               data=out.getvalue().encode(),
                                                               headers={"Content-Type": CSV}), 200)
    assert (results["paid"], results["failed"], results["refused"]) == (490, 10, 0)
    seconds = time.monotonic() - started
    left = budget(system, festival, county)
    assert (left["paid"], left["failed"], left["reserved"], left["remaining"]) == (
        "490000.00", "10000.00", "0.00", "10000.00")
    report = ok(aid(system, "auditor", county).get("/reconciliation", params={"program": festival}), 200)
    [total] = report["totals"]
    assert (total["budget"], total["paid"], total["failed"], total["remaining"]) == (
        "500000.00", "490000.00", "10000.00", "10000.00")

    for case_id in sorted(eligible):
        want = ["DisbursementRequested", "DisbursementApproved",
                "DisbursementFailed" if by_case[case_id] in returned else "DisbursementPaid"]
        events = aid_history(system, case_id, want)
        assert types_from(events, "aid") == want, (case_id, events)
        assert {e["payload"]["disbursement_id"] for e in events if e["service"] == "aid"} == {by_case[case_id]}
    for case_id in accidents:
        assert types_from(aid_history(system, case_id, ["BatchExcluded"]), "aid") == ["BatchExcluded"]
    for case_id in exiting:
        assert types_from(history(system, case_id, 2), "aid") == []
    assert seconds < 60, f"batch, approval, bank file and results took {seconds:.1f}s"


def test_every_step_of_every_disbursement_reaches_the_audit_history_of_its_case(system, county):
    system.start("intake", "aid", "audit")
    case_id = file_case(system, county)
    wait_case_state(system, case_id, "filed")
    living = program(system, county, kind="living", rule={"max": "2000.00"})
    goods = program(system, county, kind="goods", rule={"max": "500.00"})

    reversed_ = request(system, case_id, living, "600.00")
    act(system, reversed_, "approval")
    act(system, reversed_, "payment", {"paid_on": today(), "bank_reference": "ICBC-1"})
    act(system, reversed_, "confirmation", {"confirmed_on": today(), "by": "王芳"}, role="caseworker")
    act(system, reversed_, "reversal", {"reversed_on": today(), "reason": "重复发放"})
    rejected = request(system, case_id, living, "200.00")
    act(system, rejected, "rejection", {"reason": "材料不全"})
    failed = request(system, case_id, living, "300.00")
    act(system, failed, "approval", role="approver")
    act(system, failed, "failure", {"failed_on": today(), "reason": "账户冻结"})
    delivered = str(ok(aid(system, "caseworker", "gs.by", "zhou").post("/deliveries", {
        "case_id": case_id, "program_id": goods, "delivered_on": today(), "idempotency_key": str(uuid.uuid4()),
        "items": [{"item": "大米", "quantity": 2, "unit": "袋", "value": "150.00"}]}))["disbursement_id"])
    act(system, delivered, "approval")
    act(system, delivered, "payment", {"paid_on": today(), "bank_reference": "NOTE-3"})
    cancelled = request(system, case_id, living, "400.00")
    act(system, cancelled, "approval")
    exit_in_intake(system, case_id)
    wait_for(lambda: disbursement(system, cancelled)["state"] == "cancelled", 60, "the approved request cancelled")

    mine = [reversed_, rejected, failed, delivered, cancelled]
    steps = {d: disbursement(system, d)["steps"] for d in mine}
    assert [s["state"] for s in steps[reversed_]] == ["requested", "approved", "paid", "confirmed", "reversed"]
    want = [STEP_TYPES[s["state"]] for d in mine for s in steps[d]]  # each disbursement's steps, in order
    events = aid_history(system, case_id, want)
    published = [e for e in events if e["service"] == "aid"]
    assert [e["type"] for e in published] == want
    assert [(e["payload"]["disbursement_id"], e["payload"]["by"]) for e in published] == [
        (d, s["by"]) for d in mine for s in steps[d]]
    amounts = {d: disbursement(system, d)["amount"] for d in mine}
    assert all(e["payload"]["amount"] == amounts[e["payload"]["disbursement_id"]] for e in published)
    assert all(e["federation"] == county for e in published)
    first = published[0]["payload"]
    assert first["decision"]["rule_version"] == 1 and first["decision"]["passed"] is True
    assert all(e["payload"]["rule_version"] == 1 for e in published if e["type"] != "DisbursementRequested")
    paid = next(e for e in published if e["type"] == "DisbursementPaid")["payload"]
    assert (paid["bank_reference"], paid["by"]) == ("ICBC-1", "wang")
    rejection = next(e for e in published if e["type"] == "DisbursementRejected")["payload"]
    assert rejection["reason"] == "材料不全"
    goods_requested = next(e for e in published if e["type"] == "DisbursementRequested"
                           and e["payload"]["disbursement_id"] == delivered)["payload"]
    assert (goods_requested["form"], goods_requested["items"][0]["value"]) == ("goods", "150.00")
