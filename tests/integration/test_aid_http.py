"""The aid HTTP API through the in-process system: cases filed through intake's API reach aid as events, and
every route is driven as its users drive it (programs, budgets, disbursements, goods, batches, referrals,
trainings, reconciliation, reports, metrics, the served description).

One system serves the whole module; each test works in a county of its own under gs.by (gs.by.a1b2c3),
where its programs and budgets live too, so no other test's case, budget or request counts in its figures.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from services import clock
from services.intake.identity import mask_id_number
from tests.factories import WORKFLOW, application_body

TODAY = clock.today()  # aid decides on its own clock, as it runs
YEAR = TODAY.year
CSV = "text/csv"
VERIFIER = "li"  # intake's caseworker who verifies (and opens) every case filed here


# The world: counties, cases filed through intake, programs and budgets.


def county() -> str:
    return f"gs.by.a{uuid.uuid4().hex[:8]}"


def aid(system, role: str = "admin", fed: str = "gs", user: str = "admin1"):
    return system.client("aid", role, fed, user)


def filed_case(system, federation: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """File a case through intake's API (open, verify, deliberate, notice, approve) and wait until aid knows
    it as filed; the case id and the application body it was opened with."""
    staff = system.client("intake", "caseworker", "gs.by", VERIFIER)
    approver = system.client("intake", "approver", "gs.by", "wang")
    body = application_body(federation, **overrides)
    response = staff.post("/cases", body)
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    for step, step_body in WORKFLOW:
        response = (approver if step == "approval" else staff).post(f"/cases/{case_id}/{step}", step_body)
        assert response.status_code == 201, response.text
    wait_for_case(system, case_id, "filed")
    return case_id, body


def exit_case(system, case_id: str, exited_on: date = TODAY) -> None:
    staff = system.client("intake", "caseworker", "gs.by", VERIFIER)
    response = staff.post(f"/cases/{case_id}/exit", {"reason": "stable_employment", "exited_on": exited_on.isoformat()})
    assert response.status_code == 201, response.text
    wait_for_case(system, case_id, "exited")


def wait_for_case(system, case_id: str, state: str, timeout: float = 20) -> dict[str, Any]:
    """Poll aid's GET /cases/{id}/aid until intake's events have brought the case to `state`."""
    auditor = aid(system, "auditor", "gs", "shen")
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        response = auditor.get(f"/cases/{case_id}/aid")
        if response.status_code == 200:
            seen = response.json()
            if seen["state"] == state:
                return seen
        time.sleep(0.05)
    raise AssertionError(f"case {case_id} not {state} in aid within {timeout}s (last seen: {seen})")


def create_program(system, federation: str, kind: str = "festival", amount: str | None = "1000.00",
                   **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"{kind} {YEAR}", "kind": kind, "year": YEAR, "federation": federation,
                            "amount": amount, **extra}
    if kind == "festival":
        body.setdefault("festival", "spring_festival")
    response = aid(system).post("/programs", body)
    assert response.status_code == 201, response.text
    return response.json()


def allocate(system, program_id: str, federation: str, amount: str, scope: str = "gs") -> requests.Response:
    return aid(system, "admin", scope).post("/budgets", {"program_id": program_id, "federation": federation,
                                                         "amount": amount})


def funded(system, federation: str, budget: str = "10000.00", **program: Any) -> str:
    """A program of `federation` with a budget there; its id."""
    program_id = create_program(system, federation, **program)["program_id"]
    response = allocate(system, program_id, federation, budget)
    assert response.status_code == 201, response.text
    return program_id


def budget_of(system, program_id: str, federation: str) -> dict[str, Any]:
    response = aid(system, "auditor", "gs").get("/budgets", params={"program_id": program_id,
                                                                    "federation": federation})
    assert response.status_code == 200, response.text
    [found] = [b for b in response.json()["budgets"] if b["federation"] == federation]
    return found


def request_aid(system, case_id: str, program_id: str, key: str | None = None, user: str = "zhou",
                **extra: Any) -> requests.Response:
    body = {"case_id": case_id, "program_id": program_id, "idempotency_key": key or str(uuid.uuid4()),
            "reason": "送温暖", **extra}
    return aid(system, "caseworker", "gs.by", user).post("/disbursements", body)


def requested(system, case_id: str, program_id: str, **extra: Any) -> str:
    response = request_aid(system, case_id, program_id, **extra)
    assert response.status_code == 201, response.text
    return str(response.json()["disbursement_id"])


def approve(system, disbursement_id: str, user: str = "wang") -> requests.Response:
    return aid(system, "approver", "gs.by", user).post(f"/disbursements/{disbursement_id}/approval")


def approved(system, case_id: str, program_id: str, **extra: Any) -> str:
    disbursement_id = requested(system, case_id, program_id, **extra)
    response = approve(system, disbursement_id)
    assert response.status_code == 201, response.text
    return disbursement_id


def step(system, disbursement_id: str, name: str, body: dict[str, Any], role: str = "approver") -> requests.Response:
    return aid(system, role, "gs.by", "wang").post(f"/disbursements/{disbursement_id}/{name}", body)


def paid(system, disbursement_id: str, reference: str = "ICBC-0001") -> None:
    response = step(system, disbursement_id, "payment", {"paid_on": TODAY.isoformat(), "bank_reference": reference})
    assert response.status_code == 201, response.text


def disbursement(system, disbursement_id: str) -> dict[str, Any]:
    response = aid(system, "auditor", "gs").get(f"/disbursements/{disbursement_id}")
    assert response.status_code == 200, response.text
    return response.json()


def put(client, path: str, body: Any) -> requests.Response:
    """PUT with the client's token (the harness client posts and gets only)."""
    return client.session.put(client.base_url + path, json=body, timeout=10)


def day(offset: int) -> str:
    return (date(YEAR, 1, 1) + timedelta(days=offset)).isoformat()


# Programs.


def test_an_admin_creates_a_program_and_a_revision_makes_a_new_version(system):
    fed = county()
    body = {"name": "金秋助学", "kind": "education", "year": YEAR, "federation": fed, "amount": "3000.00",
            "eligibility": {"categories": ["marginal"], "household_cap": "6000.00"}}
    created = aid(system).post("/programs", body)
    assert created.status_code == 201, created.text
    program = created.json()
    assert (program["name"], program["kind"], program["year"], program["federation"], program["help"]) == (
        "金秋助学", "education", YEAR, fed, "schooling")
    assert (program["version"], program["amount"], program["rule"]) == (1, "3000.00", None)
    assert program["eligibility"]["household_cap"] == "6000.00"
    assert program["eligibility"]["categories"] == ["marginal"]
    assert len(program["versions"]) == 1

    program_id = program["program_id"]
    seen = aid(system, "caseworker", fed).get(f"/programs/{program_id}")
    assert seen.status_code == 200 and seen.json() == program
    listed = aid(system, "auditor", fed).get("/programs", params={"year": str(YEAR), "kind": "education"})
    assert program_id in {p["program_id"] for p in listed.json()["programs"]}

    revised = put(aid(system), f"/programs/{program_id}", {"rule": {"max": "2500.00"}, "reason": "预算调整"})
    assert revised.status_code == 200, revised.text
    assert (revised.json()["version"], revised.json()["amount"], revised.json()["rule"]) == (
        2, None, {"max": "2500.00"})
    assert [v["amount"] for v in revised.json()["versions"]] == ["3000.00", None]
    same = put(aid(system), f"/programs/{program_id}", {"rule": {"max": "2500.00"}, "reason": "again"})
    assert same.status_code == 409 and same.json()["error"] == "illegal_transition"


PROGRAM = {"name": "送温暖", "kind": "festival", "year": 2026, "federation": "gs.by", "amount": "1000.00",
           "festival": "spring_festival"}


@pytest.mark.parametrize(("change", "field"), [
    ({"rule": {"max": "500.00"}}, "amount"),  # both an amount and a rule
    ({"amount": None}, "amount"),  # neither
    ({"name": "送温暖\x07"}, "name"),  # a control character
    ({"name": "   "}, "name"),
    ({"amount": "1000.005"}, "amount"),  # three decimals
    ({"amount": "-5.00"}, "amount"),
    ({"amount": 1000.5}, "amount"),  # money is a decimal string, never a float
    ({"kind": "bonus"}, "kind"),
    ({"year": 1999}, "year"),
    ({"federation": "GS.BY"}, "federation"),
    ({"festival": "christmas"}, "festival"),
    ({"kind": "medical"}, "festival"),  # only a festival program names a festival
    ({"amount": None, "rule": {"share": "0.5"}}, "rule"),  # a share rule needs its cap
    ({"eligibility": {"categories": ["rich"]}}, "eligibility"),
    ({"eligibility": {"min_members": 4, "max_members": 2}}, "max_members"),
    ({"unexpected": 1}, "unexpected"),
])
def test_a_bad_program_is_400_naming_the_field_and_creates_nothing(system, change, field):
    fed = county()
    body = {**PROGRAM, "federation": fed, "year": YEAR, **change}
    answer = aid(system).post("/programs", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "bad_request"
    assert field in answer.json()["fields"], answer.json()
    listed = aid(system, "auditor", fed).get("/programs", params={"year": str(YEAR)}).json()["programs"]
    assert [p for p in listed if p["federation"] == fed] == []


def test_only_an_admin_of_the_programs_federation_creates_or_revises_one(system):
    fed = county()
    body = {**PROGRAM, "federation": fed, "year": YEAR}
    for role in ("caseworker", "approver", "auditor", "cadre"):
        assert aid(system, role, "gs").post("/programs", body).status_code == 403, role
    outside = aid(system, "admin", "gs.ln").post("/programs", body)
    assert outside.status_code == 403 and outside.json()["error"] == "forbidden"
    assert system.client("aid", role=None).post("/programs", body).status_code == 401
    program_id = create_program(system, fed)["program_id"]
    change = {"amount": "800.00", "reason": "x"}
    assert put(aid(system, "caseworker", fed), f"/programs/{program_id}", change).status_code == 403
    assert put(aid(system, "admin", f"{fed}.x"), f"/programs/{program_id}", change).status_code == 404


# Budgets.


def test_budgets_go_down_the_tree_out_of_each_parents_remainder(system):
    fed = county()
    program_id = create_program(system, fed)["program_id"]
    first_child = allocate(system, program_id, f"{fed}.x", "1000.00")
    assert first_child.status_code == 409 and first_child.json()["error"] == "no_parent_budget"

    top = allocate(system, program_id, fed, "10000.00")
    assert top.status_code == 201, top.text
    assert {k: top.json()[k] for k in ("federation", "kind", "year", "budget", "remaining")} == {
        "federation": fed, "kind": "festival", "year": YEAR, "budget": "10000.00", "remaining": "10000.00"}
    child = allocate(system, program_id, f"{fed}.x", "3000.00")
    assert child.status_code == 201, child.text
    assert (child.json()["budget"], child.json()["remaining"]) == ("3000.00", "3000.00")
    parent = budget_of(system, program_id, fed)
    assert (parent["allocated_to_children"], parent["remaining"]) == ("3000.00", "7000.00")

    too_much = allocate(system, program_id, f"{fed}.y", "7000.01")
    assert too_much.status_code == 409 and too_much.json()["error"] == "budget_exhausted"
    assert "7000.00" in too_much.json()["message"]
    assert allocate(system, program_id, f"{fed}.y", "7000.00").status_code == 201
    assert budget_of(system, program_id, fed)["remaining"] == "0.00"
    assert allocate(system, program_id, f"{fed}.x.z", "100.00").status_code == 201  # a grandchild, from .x

    reduced = allocate(system, program_id, f"{fed}.y", "2000.00")  # 5,000 back to the parent
    assert reduced.status_code == 201, reduced.text
    assert budget_of(system, program_id, fed)["remaining"] == "5000.00"
    below_allocated = allocate(system, program_id, f"{fed}.x", "50.00")  # 100 of .x went down to .x.z
    assert below_allocated.status_code == 409 and below_allocated.json()["error"] == "budget_exhausted"
    outside = allocate(system, program_id, fed, "20000.00", scope=f"{fed}.x")  # a child sets its parent's
    assert outside.status_code == 403
    own = allocate(system, program_id, f"{fed}.x", "5000.00", scope=f"{fed}.x")  # nor its own
    assert own.status_code == 403
    bad = aid(system).post("/budgets", {"program_id": program_id, "federation": fed, "amount": "1.001"})
    assert bad.status_code == 400 and "amount" in bad.json()["fields"]
    unknown = allocate(system, str(uuid.uuid4()), fed, "1.00")
    assert unknown.status_code == 404

    listed = aid(system, "auditor", fed).get("/budgets", params={"program_id": program_id}).json()["budgets"]
    assert {b["federation"]: b["budget"] for b in listed} == {
        fed: "10000.00", f"{fed}.x": "3000.00", f"{fed}.y": "2000.00", f"{fed}.x.z": "100.00"}
    under = aid(system, "auditor", fed).get("/budgets", params={"federation": f"{fed}.x"}).json()["budgets"]
    assert {b["federation"] for b in under} == {f"{fed}.x", f"{fed}.x.z"}
    assert aid(system, "auditor", f"{fed}.x").get("/budgets", params={"federation": fed}).status_code == 403


# Disbursements.


def test_a_request_is_decided_and_the_same_key_returns_it_while_another_body_is_409(system):
    fed = county()
    program_id = funded(system, fed)
    case_id, _ = filed_case(system, fed)
    key = f"req-{uuid.uuid4()}"
    first = request_aid(system, case_id, program_id, key=key)
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["state"], made["amount"], made["case_id"], made["federation"], made["form"], made["kind"]) == (
        "requested", "1000.00", case_id, fed, "money", "festival")
    assert (made["requested_by"], made["requested_on"], made["budget_federation"]) == ("zhou", TODAY.isoformat(), fed)
    assert made["decision"]["rule_version"] == 1 and made["decision"]["passed"] is True
    checks = {c["check"]: c for c in made["decision"]["checks"]}
    assert {"state", "amount", "once_per_festival", "budget"} <= set(checks)
    assert all(c["passed"] for c in checks.values())
    assert [s["state"] for s in made["steps"]] == ["requested"]

    again = request_aid(system, case_id, program_id, key=key)
    assert again.status_code == 200, again.text
    assert again.json()["disbursement_id"] == made["disbursement_id"] and again.json() == made
    other = request_aid(system, case_id, program_id, key=key, reason="另一笔")
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    listed = aid(system, "auditor", fed).get("/disbursements", params={"federation": fed}).json()["disbursements"]
    assert [d["disbursement_id"] for d in listed] == [made["disbursement_id"]]

    # A second festival request for the household is refused: once per household per festival.
    twice = request_aid(system, case_id, program_id)
    assert twice.status_code == 409 and twice.json()["error"] == "not_eligible"
    assert "once_per_festival" in twice.json()["message"]


def test_the_same_key_sent_ten_times_at_once_is_one_disbursement(system):
    from concurrent.futures import ThreadPoolExecutor  # green threads here (eventlet patches threading)

    fed = county()
    program_id = funded(system, fed)
    case_id, _ = filed_case(system, fed)
    key = f"burst-{uuid.uuid4()}"
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: request_aid(system, case_id, program_id, key=key), range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [201], [a.text for a in answers]
    assert len({a.json()["disbursement_id"] for a in answers}) == 1
    listed = aid(system, "auditor", fed).get("/disbursements", params={"federation": fed}).json()["disbursements"]
    assert len(listed) == 1


def test_an_ineligible_request_is_409_with_the_failed_checks_and_records_nothing(system):
    fed = county()
    program_id = funded(system, fed, eligibility={"categories": ["subsistence"], "causes": ["disability"]})
    case_id, _ = filed_case(system, fed)  # marginal, illness and education
    answer = request_aid(system, case_id, program_id)
    assert answer.status_code == 409, answer.text
    refused = answer.json()
    assert refused["error"] == "not_eligible"
    assert refused["rule_version"] == 1
    assert [c["check"] for c in refused["checks"]] == ["category", "causes"]
    assert all(c["passed"] is False for c in refused["checks"])
    assert "marginal" in refused["checks"][0]["detail"] and "category" in refused["message"]

    wrong_amount = request_aid(system, case_id, funded(system, fed), amount="999.00")
    assert wrong_amount.status_code == 409
    assert [c["check"] for c in wrong_amount.json()["checks"]] == ["amount"]

    unfunded = create_program(system, fed)["program_id"]  # no budget at or above the case's federation
    no_budget = request_aid(system, case_id, unfunded)
    assert no_budget.status_code == 409 and [c["check"] for c in no_budget.json()["checks"]] == ["budget"]

    exited_id, _ = filed_case(system, fed)
    exit_case(system, exited_id)
    exited = request_aid(system, exited_id, program_id)
    assert exited.status_code == 409 and "state" in [c["check"] for c in exited.json()["checks"]]
    assert aid(system, "auditor", fed).get("/disbursements", params={"federation": fed}).json()[
        "disbursements"] == []
    assert request_aid(system, str(uuid.uuid4()), program_id).status_code == 404
    assert request_aid(system, case_id, str(uuid.uuid4())).status_code == 404


def test_a_request_is_never_approved_by_its_requester_nor_by_the_cases_verifier(system):
    fed = county()
    program_id = funded(system, fed)
    case_id, _ = filed_case(system, fed)
    disbursement_id = requested(system, case_id, program_id, user="zhou")
    by_requester = approve(system, disbursement_id, user="zhou")
    assert by_requester.status_code == 409 and by_requester.json()["error"] == "separation_of_duties"
    assert "requested" in by_requester.json()["message"]
    by_verifier = approve(system, disbursement_id, user=VERIFIER)
    assert by_verifier.status_code == 409 and by_verifier.json()["error"] == "separation_of_duties"
    assert "verified" in by_verifier.json()["message"]
    assert aid(system, "caseworker", "gs.by", "wu").post(f"/disbursements/{disbursement_id}/approval").status_code \
        == 403
    assert disbursement(system, disbursement_id)["state"] == "requested"
    assert budget_of(system, program_id, fed)["reserved"] == "0.00"

    answer = approve(system, disbursement_id, user="wang")
    assert answer.status_code == 201, answer.text
    assert answer.json()["state"] == "approved"
    assert [(s["state"], s["by"]) for s in answer.json()["steps"]] == [("requested", "zhou"), ("approved", "wang")]
    budget = budget_of(system, program_id, fed)
    assert (budget["reserved"], budget["remaining"]) == ("1000.00", "9000.00")
    twice = approve(system, disbursement_id, user="deng")
    assert twice.status_code == 409 and twice.json()["error"] == "illegal_transition"
    assert budget_of(system, program_id, fed)["reserved"] == "1000.00"


def test_an_approval_beyond_the_budget_is_409_and_reserves_nothing(system):
    fed = county()
    program_id = funded(system, fed, budget="1500.00")
    first = approved(system, filed_case(system, fed)[0], program_id)
    second = requested(system, filed_case(system, fed)[0], program_id)
    answer = approve(system, second)
    assert answer.status_code == 409 and answer.json()["error"] == "budget_exhausted"
    assert disbursement(system, second)["state"] == "requested"
    budget = budget_of(system, program_id, fed)
    assert (budget["reserved"], budget["remaining"]) == ("1000.00", "500.00")
    rejected = step(system, second, "rejection", {"reason": "预算不足"})
    assert rejected.status_code == 201 and rejected.json()["state"] == "rejected"
    assert rejected.json()["steps"][-1]["reason"] == "预算不足"
    assert disbursement(system, first)["state"] == "approved"


def test_a_payment_is_confirmed_and_reversed_and_a_failed_one_goes_back_to_the_budget(system):
    fed = county()
    program_id = funded(system, fed)
    case_id, _ = filed_case(system, fed)
    other_id, _ = filed_case(system, fed)
    paying = approved(system, case_id, program_id)
    early = step(system, paying, "payment", {"paid_on": (TODAY - timedelta(days=1)).isoformat(),
                                            "bank_reference": "ICBC-1"})
    assert early.status_code == 400 and "paid_on" in early.json()["fields"]
    bad_ref = step(system, paying, "payment", {"paid_on": TODAY.isoformat(), "bank_reference": "ICBC 1"})
    assert bad_ref.status_code == 400 and "bank_reference" in bad_ref.json()["fields"]
    by_caseworker = step(system, paying, "payment", {"paid_on": TODAY.isoformat(), "bank_reference": "ICBC-1"},
                         role="caseworker")
    assert by_caseworker.status_code == 403

    answer = step(system, paying, "payment", {"paid_on": TODAY.isoformat(), "bank_reference": "ICBC-1"})
    assert answer.status_code == 201, answer.text
    assert (answer.json()["state"], answer.json()["bank_reference"]) == ("paid", "ICBC-1")
    budget = budget_of(system, program_id, fed)
    assert (budget["reserved"], budget["paid"], budget["remaining"]) == ("0.00", "1000.00", "9000.00")
    again = step(system, paying, "payment", {"paid_on": TODAY.isoformat(), "bank_reference": "ICBC-1"})
    assert again.status_code == 409 and again.json()["error"] == "illegal_transition"

    confirmed = step(system, paying, "confirmation", {"confirmed_on": TODAY.isoformat(), "by": "王芳"},
                     role="caseworker")
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["state"] == "confirmed"
    assert confirmed.json()["steps"][-1]["confirmed_by"] == "王芳"
    reversed_ = step(system, paying, "reversal", {"reversed_on": TODAY.isoformat(), "reason": "重复发放"})
    assert reversed_.status_code == 201, reversed_.text
    assert reversed_.json()["state"] == "reversed"
    assert [s["state"] for s in reversed_.json()["steps"]] == ["requested", "approved", "paid", "confirmed",
                                                              "reversed"]
    budget = budget_of(system, program_id, fed)
    assert (budget["paid"], budget["reversed"], budget["remaining"]) == ("0.00", "1000.00", "10000.00")

    failing = approved(system, other_id, program_id)
    not_paid = step(system, failing, "reversal", {"reversed_on": TODAY.isoformat(), "reason": "x"})
    assert not_paid.status_code == 409 and not_paid.json()["error"] == "illegal_transition"
    failed = step(system, failing, "failure", {"failed_on": TODAY.isoformat(), "reason": "账户已注销"})
    assert failed.status_code == 201, failed.text
    assert failed.json()["state"] == "failed" and failed.json()["steps"][-1]["reason"] == "账户已注销"
    budget = budget_of(system, program_id, fed)
    assert (budget["reserved"], budget["failed"], budget["remaining"]) == ("0.00", "1000.00", "10000.00")
    # The failed one no longer holds the household's festival aid: it may be asked for again.
    assert request_aid(system, other_id, program_id).status_code == 201


def test_a_case_that_exits_has_its_pending_requests_cancelled_and_their_reservation_released(system):
    fed = county()
    program_id = funded(system, fed)
    case_id, _ = filed_case(system, fed)
    waiting = approved(system, case_id, program_id)
    assert budget_of(system, program_id, fed)["reserved"] == "1000.00"
    exit_case(system, case_id)
    cancelled = disbursement(system, waiting)
    assert cancelled["state"] == "cancelled"
    assert cancelled["steps"][-1]["by"] == "aid" and "the case exited" in cancelled["steps"][-1]["reason"]
    assert budget_of(system, program_id, fed)["reserved"] == "0.00"
    late = step(system, waiting, "payment", {"paid_on": TODAY.isoformat(), "bank_reference": "ICBC-9"})
    assert late.status_code == 409 and late.json()["error"] == "illegal_transition"


def test_goods_are_delivered_and_counted_against_the_budget_by_their_value(system):
    fed = county()
    program_id = funded(system, fed, kind="goods", amount=None, rule={"max": "500.00"})
    money_program = funded(system, fed)
    case_id, _ = filed_case(system, fed)
    body = {"case_id": case_id, "program_id": program_id, "delivered_on": TODAY.isoformat(), "reason": "冬季物资",
            "idempotency_key": f"goods-{uuid.uuid4()}",
            "items": [{"item": "大米", "quantity": 2, "unit": "袋", "value": "150.00"},
                      {"item": "食用油", "quantity": 1, "unit": "桶", "value": "60.50"},
                      {"item": "棉被", "quantity": 1, "unit": "床", "value": "89.50"}]}
    caseworker = aid(system, "caseworker", "gs.by", "zhou")
    answer = caseworker.post("/deliveries", body)
    assert answer.status_code == 201, answer.text
    delivered = answer.json()
    assert (delivered["form"], delivered["kind"], delivered["amount"], delivered["state"]) == (
        "goods", "goods", "300.00", "requested")
    assert delivered["delivered_on"] == TODAY.isoformat()
    assert [(i["item"], i["quantity"], i["unit"], i["value"]) for i in delivered["items"]] == [
        ("大米", "2", "袋", "150.00"), ("食用油", "1", "桶", "60.50"), ("棉被", "1", "床", "89.50")]
    again = caseworker.post("/deliveries", body)
    assert again.status_code == 200 and again.json()["disbursement_id"] == delivered["disbursement_id"]

    assert approve(system, delivered["disbursement_id"], user="zhou").json()["error"] == "separation_of_duties"
    assert approve(system, delivered["disbursement_id"]).status_code == 201
    assert budget_of(system, program_id, fed)["reserved"] == "300.00"
    paid(system, delivered["disbursement_id"], "NOTE-17")
    assert budget_of(system, program_id, fed)["paid"] == "300.00"

    too_much = caseworker.post("/deliveries", {**body, "idempotency_key": str(uuid.uuid4()),
                                               "items": [{"item": "大米", "quantity": 9, "unit": "袋",
                                                          "value": "500.01"}]})
    assert too_much.status_code == 409 and too_much.json()["error"] == "not_eligible"
    bad = caseworker.post("/deliveries", {**body, "items": [{"item": "大米", "quantity": 0, "unit": "袋",
                                                              "value": "1.00"}]})
    assert bad.status_code == 400 and "items" in bad.json()["fields"]
    none = caseworker.post("/deliveries", {**body, "items": []})
    assert none.status_code == 400 and "items" in none.json()["fields"]
    as_money = request_aid(system, case_id, program_id, amount="100.00")
    assert as_money.status_code == 409 and as_money.json()["error"] == "illegal_transition"
    as_goods = caseworker.post("/deliveries", {**body, "program_id": money_program,
                                               "idempotency_key": str(uuid.uuid4())})
    assert as_goods.status_code == 409 and as_goods.json()["error"] == "illegal_transition"


# Batches (送温暖).


def bank_results(system, batch_id: str, text: str, role: str = "approver") -> requests.Response:
    return aid(system, role, "gs.by", "wang").post(f"/batches/{batch_id}/bank-results", None,
                                                   data=text.encode(), headers={"Content-Type": CSV})


def test_a_batch_reaches_every_eligible_household_and_its_bank_results_apply_once(system):
    fed = county()
    program_id = funded(system, fed, amount="500.00", budget="5000.00",
                        eligibility={"categories": ["marginal", "subsistence"]})
    eligible = dict(filed_case(system, f"{fed}.v{n}") for n in range(3))  # case id -> its application
    accident_id, _ = filed_case(system, fed, category="accident")
    exited_id, _ = filed_case(system, fed)
    exit_case(system, exited_id)
    elsewhere, _ = filed_case(system, county())  # outside the batch's subtree

    request = {"federation": fed, "reason": "2027 春节送温暖", "idempotency_key": f"batch-{uuid.uuid4()}"}
    admin = aid(system, "admin", "gs.by", "deng")
    created = admin.post(f"/programs/{program_id}/batches", request)
    assert created.status_code == 201, created.text
    batch = created.json()
    batch_id = batch["batch_id"]
    assert (batch["included"], batch["total"], batch["amount"], batch["rule_version"]) == (3, "1500.00", "500.00", 1)
    assert [(e["case_id"], [c["check"] for c in e["failed"]]) for e in batch["excluded"]] == [
        (accident_id, ["category"])]
    members = {disbursement(system, d)["case_id"]: d for d in batch["disbursements"]}
    assert set(members) == set(eligible)
    assert {disbursement(system, d)["batch_id"] for d in members.values()} == {batch_id}
    assert elsewhere not in members and exited_id not in members

    again = admin.post(f"/programs/{program_id}/batches", request)
    assert again.status_code == 200 and again.json()["batch_id"] == batch_id
    reused = admin.post(f"/programs/{program_id}/batches", {**request, "reason": "另一批"})
    assert reused.status_code == 409 and reused.json()["error"] == "idempotency_key_reused"
    assert aid(system, "caseworker", "gs.by").post(f"/programs/{program_id}/batches", request).status_code == 403

    not_yet = bank_results(system, batch_id, "disbursement_id,result,date,bank_reference,reason\n")
    assert not_yet.status_code == 409
    by_creator = aid(system, "approver", "gs.by", "deng").post(f"/batches/{batch_id}/approval")
    assert by_creator.status_code == 409 and by_creator.json()["error"] == "separation_of_duties"
    by_verifier = aid(system, "approver", "gs.by", VERIFIER).post(f"/batches/{batch_id}/approval")
    assert by_verifier.status_code == 409 and by_verifier.json()["error"] == "separation_of_duties"
    assert budget_of(system, program_id, fed)["reserved"] == "0.00"
    answer = aid(system, "approver", "gs.by", "wang").post(f"/batches/{batch_id}/approval")
    assert answer.status_code == 201, answer.text
    assert {k: answer.json()["approval"][k] for k in ("by", "approved", "total")} == {
        "by": "wang", "approved": 3, "total": "1500.00"}
    assert {disbursement(system, d)["state"] for d in members.values()} == {"approved"}
    budget = budget_of(system, program_id, fed)
    assert (budget["reserved"], budget["remaining"]) == ("1500.00", "3500.00")
    assert aid(system, "approver", "gs.by", "wang").post(f"/batches/{batch_id}/approval").status_code == 409

    # The bank file: one line per approved disbursement, with the worker's name and masked ID.
    cashier = aid(system, "approver", "gs.by", "wang")
    assert aid(system, "caseworker", "gs.by").get(f"/batches/{batch_id}/bank-file").status_code == 403
    exported = cashier.get(f"/batches/{batch_id}/bank-file")
    assert exported.status_code == 200, exported.text
    assert exported.headers["Content-Type"].startswith(CSV)
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["disbursement_id", "name", "account", "amount"]
    assert sorted(rows[1:]) == sorted(
        [members[c], "张伟", mask_id_number(eligible[c]["worker"]["id_number"]), "500.00"] for c in members)
    assert all("*" in row[2] for row in rows[1:])

    first, second, third = (members[c] for c in sorted(members))
    results = ("disbursement_id,result,date,bank_reference,reason\n"
               f"{first},paid,{TODAY},BOC-001,\n"
               f"{second},failed,{TODAY},,账户冻结\n"
               f"{third},maybe,{TODAY},BOC-003,\n"
               f"{uuid.uuid4()},paid,{TODAY},BOC-004,\n")
    imported = bank_results(system, batch_id, results)
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["paid"], report["failed"], report["refused"], report["unchanged"]) == (1, 1, 2, 0)
    assert [(line["line"], line["outcome"]) for line in report["lines"]] == [
        (2, "paid"), (3, "failed"), (4, "refused"), (5, "refused")]
    assert report["lines"][2]["reason"] == "result: must be paid or failed"
    assert report["lines"][3]["reason"] == "not in this batch"
    assert (disbursement(system, first)["state"], disbursement(system, first)["bank_reference"]) == (
        "paid", "BOC-001")
    assert disbursement(system, second)["state"] == "failed"
    assert disbursement(system, third)["state"] == "approved"
    budget = budget_of(system, program_id, fed)
    assert (budget["paid"], budget["failed"], budget["reserved"], budget["remaining"]) == (
        "500.00", "500.00", "500.00", "4000.00")

    repeated = bank_results(system, batch_id, results)
    assert repeated.status_code == 200, repeated.text
    assert {k: repeated.json()[k] for k in ("paid", "failed", "refused", "unchanged")} == {
        "paid": 0, "failed": 0, "refused": 2, "unchanged": 2}
    assert budget_of(system, program_id, fed) == budget
    [still_open] = list(csv.reader(io.StringIO(cashier.get(f"/batches/{batch_id}/bank-file").text)))[1:]
    assert still_open[0] == third

    fixed = bank_results(system, batch_id, f"disbursement_id,result,date,bank_reference,reason\n"
                                           f"{third},paid,{TODAY},BOC-003,\n")
    assert fixed.json()["paid"] == 1 and disbursement(system, third)["state"] == "paid"
    seen = aid(system, "auditor", "gs").get(f"/batches/{batch_id}").json()
    assert [(r["paid"], r["failed"], r["refused"]) for r in seen["results"]] == [(1, 1, 2), (1, 0, 0)]
    unreadable = bank_results(system, batch_id, "id,what\nx,y\n")
    assert unreadable.status_code == 400 and "file" in unreadable.json()["fields"]
    assert bank_results(system, batch_id, results, role="caseworker").status_code == 403

    # The list of batches: this one with its standing, for readers of the subtree; a bad query is a 400.
    listed = aid(system, "caseworker", "gs.by").get("/batches", params={"federation": fed, "program_id": program_id})
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 1
    [row] = listed.json()["batches"]
    assert {k: row[k] for k in ("batch_id", "included", "excluded", "total", "complete", "paid", "failed")} == {
        "batch_id": batch_id, "included": 3, "excluded": 1, "total": "1500.00", "complete": True, "paid": 2,
        "failed": 1}
    assert aid(system, "caseworker", county()).get("/batches", params={"program_id": program_id}).json() == {
        "batches": [], "total": 0, "offset": 0}
    for query, field in (({"limit": "0"}, "limit"), ({"offset": "-1"}, "offset"), ({"program_id": "x"}, "program_id"),
                         ({"federation": "GS"}, "federation"), ({"colour": "red"}, "colour")):
        refused = aid(system, "caseworker", "gs.by").get("/batches", params=query)
        assert refused.status_code == 400 and field in refused.json()["fields"], (query, refused.text)


def test_a_batch_beyond_the_budget_approves_nothing(system):
    fed = county()
    program_id = funded(system, fed, amount="600.00", budget="1000.00")
    for _ in range(2):
        filed_case(system, fed)
    batch = aid(system, "admin", "gs.by", "deng").post(f"/programs/{program_id}/batches", {
        "federation": fed, "reason": "送温暖", "idempotency_key": f"b-{uuid.uuid4()}"}).json()
    assert batch["included"] == 2
    answer = aid(system, "approver", "gs.by", "wang").post(f"/batches/{batch['batch_id']}/approval")
    assert answer.status_code == 409 and answer.json()["error"] == "budget_exhausted"
    assert "1200.00" in answer.json()["message"]
    assert {disbursement(system, d)["state"] for d in batch["disbursements"]} == {"requested"}
    assert budget_of(system, program_id, fed)["remaining"] == "1000.00"


# Job referrals and training.


def test_a_referral_records_its_interview_and_hire(system):
    fed = county()
    case_id, _ = filed_case(system, fed)
    caseworker = aid(system, "caseworker", "gs.by", "zhou")
    body = {"case_id": case_id, "person": "worker", "employer": "白银有色集团", "position": "电焊工",
            "monthly_wage_offered": "4200.00", "referred_on": day(300)}
    answer = caseworker.post("/referrals", body)
    assert answer.status_code == 201, answer.text
    referral = answer.json()
    assert (referral["employer"], referral["position"], referral["monthly_wage_offered"], referral["outcome"]) == (
        "白银有色集团", "电焊工", "4200.00", None)
    assert len(referral["person"]) == 64 and referral["person"] != "worker"  # the worker's digest
    referral_id = referral["referral_id"]
    path = f"/referrals/{referral_id}/outcome"

    early = caseworker.post(path, {"outcome": "interviewed", "recorded_on": day(299)})
    assert early.status_code == 400 and "recorded_on" in early.json()["fields"]
    interviewed = caseworker.post(path, {"outcome": "interviewed", "recorded_on": day(305)})
    assert interviewed.status_code == 201 and interviewed.json()["outcome"] == "interviewed"
    no_wage = caseworker.post(path, {"outcome": "hired", "recorded_on": day(310)})
    assert no_wage.status_code == 400 and "monthly_wage" in no_wage.json()["fields"]
    hired = caseworker.post(path, {"outcome": "hired", "monthly_wage": "4000.00", "recorded_on": day(310)})
    assert hired.status_code == 201, hired.text
    assert [(o["outcome"], o["monthly_wage"]) for o in hired.json()["outcomes"]] == [
        ("interviewed", None), ("hired", "4000.00")]
    after = caseworker.post(path, {"outcome": "not_hired", "recorded_on": day(320)})
    assert after.status_code == 409 and after.json()["error"] == "illegal_transition"
    assert aid(system, "auditor", "gs").get(f"/referrals/{referral_id}").json() == hired.json()

    stranger = caseworker.post("/referrals", {**body, "person": "a" * 64})
    assert stranger.status_code == 400 and "person" in stranger.json()["fields"]
    bad = caseworker.post("/referrals", {**body, "monthly_wage_offered": "4200.001", "person": "someone"})
    assert bad.status_code == 400 and {"monthly_wage_offered", "person"} <= set(bad.json()["fields"])
    assert aid(system, "auditor", "gs.by").post("/referrals", body).status_code == 403
    assert aid(system, "caseworker", "gs.ln").get(f"/referrals/{referral_id}").status_code == 404


def test_a_training_enrols_people_who_complete_it_or_drop_out(system):
    fed = county()
    welder, _ = filed_case(system, fed)
    leaver, _ = filed_case(system, fed)
    caseworker = aid(system, "caseworker", "gs.by", "zhou")
    created = caseworker.post("/trainings", {"course": "电焊工培训", "provider": "白银市技工学校", "federation": fed,
                                             "starts_on": day(240), "ends_on": day(290)})
    assert created.status_code == 201, created.text
    training_id = created.json()["training_id"]
    assert (created.json()["course"], created.json()["enrolments"]) == ("电焊工培训", [])
    backwards = caseworker.post("/trainings", {"course": "x", "provider": "y", "federation": fed,
                                               "starts_on": day(240), "ends_on": day(200)})
    assert backwards.status_code == 400 and "ends_on" in backwards.json()["fields"]

    path = f"/trainings/{training_id}"
    for case_id in (welder, leaver):
        enrolled = caseworker.post(f"{path}/enrolments", {"case_id": case_id, "person": "worker",
                                                          "enrolled_on": day(240)})
        assert enrolled.status_code == 201, enrolled.text
    twice = caseworker.post(f"{path}/enrolments", {"case_id": welder, "person": "worker", "enrolled_on": day(241)})
    assert twice.status_code == 409 and twice.json()["error"] == "illegal_transition"

    completed = caseworker.post(f"{path}/completions", {"case_id": welder, "person": "worker",
                                                        "completed_on": day(290), "certificate": "HG-2026-0042"})
    assert completed.status_code == 201, completed.text
    dropped = caseworker.post(f"{path}/dropouts", {"case_id": leaver, "person": "worker", "dropped_on": day(250),
                                                   "reason": "家中有病人需照顾"})
    assert dropped.status_code == 201, dropped.text
    by_case = {e["case_id"]: e for e in dropped.json()["enrolments"]}
    assert (by_case[welder]["state"], by_case[welder]["certificate"], by_case[welder]["completed_on"]) == (
        "completed", "HG-2026-0042", day(290))
    assert (by_case[leaver]["state"], by_case[leaver]["dropped_on"], by_case[leaver]["reason"]) == (
        "dropped_out", day(250), "家中有病人需照顾")
    late = caseworker.post(f"{path}/completions", {"case_id": leaver, "person": "worker", "completed_on": day(290),
                                                   "certificate": "HG-1"})
    assert late.status_code == 409 and late.json()["error"] == "illegal_transition"
    assert aid(system, "auditor", "gs").get(path).json() == dropped.json()
    elsewhere, _ = filed_case(system, county())
    outside = caseworker.post(f"{path}/enrolments", {"case_id": elsewhere, "person": "worker",
                                                     "enrolled_on": day(240)})
    assert outside.status_code == 400 and "case_id" in outside.json()["fields"]


# Reconciliation, a household's aid, the yearly report.


def test_reconciliation_adds_up_every_budget_of_the_subtree_to_the_fen(system):
    fed = county()
    child = f"{fed}.a"
    program_id = funded(system, fed, amount="1000.50", budget="10000.00")
    assert allocate(system, program_id, child, "4000.00").status_code == 201
    in_child = [filed_case(system, child)[0] for _ in range(4)]
    at_top, _ = filed_case(system, fed)

    paid_one = approved(system, in_child[0], program_id)
    paid(system, paid_one)
    requested(system, in_child[1], program_id)  # waits for approval: requested
    failed = approved(system, in_child[2], program_id)
    assert step(system, failed, "failure", {"failed_on": TODAY.isoformat(), "reason": "户名不符"}).status_code == 201
    taken_back = approved(system, in_child[3], program_id)
    paid(system, taken_back)
    assert step(system, taken_back, "reversal", {"reversed_on": TODAY.isoformat(), "reason": "不符合条件"}).ok
    approved(system, at_top, program_id)  # reserved at the top

    answer = aid(system, "auditor", fed).get("/reconciliation", params={"federation": fed, "year": str(YEAR)})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["federation"] == fed
    figures = ("budget", "allocated_to_children", "requested", "reserved", "paid", "failed", "reversed", "remaining")
    assert {line["federation"]: tuple(line[f] for f in figures) for line in report["budgets"]} == {
        fed: ("10000.00", "4000.00", "0.00", "1000.50", "0.00", "0.00", "0.00", "4999.50"),
        child: ("4000.00", "0.00", "1000.50", "0.00", "1000.50", "1000.50", "1000.50", "2999.50"),
    }
    [total] = report["totals"]
    assert (total["program_id"], total["kind"], total["year"]) == (program_id, "festival", YEAR)
    assert tuple(total[f] for f in ("budget", "requested", "reserved", "paid", "failed", "reversed", "remaining")) \
        == ("10000.00", "1000.50", "1000.50", "1000.50", "1000.50", "1000.50", "7999.00")

    just_child = aid(system, "auditor", child).get("/reconciliation").json()
    assert [line["federation"] for line in just_child["budgets"]] == [child]
    one = aid(system, "auditor", fed).get("/reconciliation", params={"program": program_id}).json()
    assert one["budgets"] == report["budgets"]
    other_year = aid(system, "auditor", fed).get("/reconciliation", params={"year": str(YEAR - 1)}).json()
    assert other_year["budgets"] == [] and other_year["totals"] == []
    assert aid(system, "auditor", child).get("/reconciliation", params={"federation": fed}).status_code == 403
    assert aid(system, "auditor", fed).get("/reconciliation", params={"year": "twenty"}).status_code == 400


def test_a_households_aid_lists_money_goods_referrals_and_training_for_its_clarity_card(system):
    fed = county()
    festival = funded(system, fed, amount="800.00")
    goods = funded(system, fed, kind="goods", amount=None, rule={"max": "300.00"})
    case_id, _ = filed_case(system, fed)
    money = approved(system, case_id, festival)
    paid(system, money)
    caseworker = aid(system, "caseworker", "gs.by", "zhou")
    delivery = caseworker.post("/deliveries", {
        "case_id": case_id, "program_id": goods, "delivered_on": TODAY.isoformat(),
        "idempotency_key": str(uuid.uuid4()),
        "items": [{"item": "面粉", "quantity": 2, "unit": "袋", "value": "120.00"}]}).json()
    assert approve(system, delivery["disbursement_id"]).status_code == 201
    paid(system, delivery["disbursement_id"], "NOTE-1")
    referral = caseworker.post("/referrals", {"case_id": case_id, "person": "worker", "employer": "白银公司",
                                              "position": "保安", "referred_on": day(200)}).json()
    training = caseworker.post("/trainings", {"course": "家政服务", "provider": "市职校", "federation": fed,
                                              "starts_on": day(100), "ends_on": day(120)}).json()
    assert caseworker.post(f"/trainings/{training['training_id']}/enrolments", {
        "case_id": case_id, "person": "worker", "enrolled_on": day(100)}).status_code == 201

    answer = aid(system, "auditor", "gs").get(f"/cases/{case_id}/aid")
    assert answer.status_code == 200, answer.text
    card = answer.json()
    assert (card["case_id"], card["federation"], card["state"], card["received"]) == (case_id, fed, "filed", "920.00")
    assert [(d["disbursement_id"], d["state"], d["amount"]) for d in card["money"]] == [(money, "paid", "800.00")]
    assert [(d["disbursement_id"], d["items"][0]["item"]) for d in card["goods"]] == [
        (delivery["disbursement_id"], "面粉")]
    assert [r["referral_id"] for r in card["referrals"]] == [referral["referral_id"]]
    assert [(t["training_id"], t["course"], t["state"]) for t in card["trainings"]] == [
        (training["training_id"], "家政服务", "enrolled")]
    assert aid(system, "caseworker", "gs.ln").get(f"/cases/{case_id}/aid").status_code == 404
    assert aid(system, "auditor", "gs").get(f"/cases/{uuid.uuid4()}/aid").status_code == 404


def test_aid_stats_count_people_and_households_helped_money_by_kind_and_hires_after_training(system):
    fed = county()
    festival = funded(system, fed, amount="500.00")
    medical = funded(system, fed, kind="medical", amount=None, rule={"share": "0.5", "cap": "2000.00"})
    first, _ = filed_case(system, fed)
    second, _ = filed_case(system, fed)
    for case_id in (first, second):
        paid(system, approved(system, case_id, festival))
    treated = approved(system, first, medical, out_of_pocket="5000.01")  # half is 2,500.01: capped at 2,000
    assert disbursement(system, treated)["amount"] == "2000.00"
    paid(system, treated)
    medical_unpaid = requested(system, second, medical, out_of_pocket="301.01")  # 150.505 → 150.51, not paid
    assert disbursement(system, medical_unpaid)["amount"] == "150.51"

    caseworker = aid(system, "caseworker", "gs.by", "zhou")
    training = caseworker.post("/trainings", {"course": "电焊工", "provider": "技校", "federation": fed,
                                              "starts_on": day(60), "ends_on": day(90)}).json()["training_id"]
    caseworker.post(f"/trainings/{training}/enrolments", {"case_id": first, "person": "worker",
                                                          "enrolled_on": day(60)})
    assert caseworker.post(f"/trainings/{training}/completions", {
        "case_id": first, "person": "worker", "completed_on": day(90), "certificate": "W-1"}).status_code == 201
    for case_id in (first, second):
        referral = caseworker.post("/referrals", {"case_id": case_id, "person": "worker", "employer": "厂",
                                                  "position": "焊工", "referred_on": day(100)}).json()
        assert caseworker.post(f"/referrals/{referral['referral_id']}/outcome", {
            "outcome": "hired", "monthly_wage": "3800.00", "recorded_on": day(110)}).status_code == 201

    answer = aid(system, "auditor", "gs").get("/aid-stats", params={"federation": fed, "year": str(YEAR)})
    assert answer.status_code == 200, answer.text
    stats = answer.json()
    assert (stats["federation"], stats["year"]) == (fed, YEAR)
    helped = {h["kind"]: (h["people"], h["households"]) for h in stats["helped"]}
    assert helped == {"medical": (1, 1), "schooling": (0, 0), "employment": (2, 2), "housing": (0, 0),
                      "social_assistance": (2, 2)}
    money = {m["kind"]: m["paid"] for m in stats["money_by_kind"]}
    assert (money["festival"], money["medical"], money["education"]) == ("1000.00", "2000.00", "0.00")
    assert (stats["referrals"], stats["hires"], stats["trainings_completed"], stats["hired_after_training"]) == (
        2, 2, 1, 1)
    last_year = aid(system, "auditor", "gs").get("/aid-stats", params={"federation": fed, "year": str(YEAR - 1)})
    assert last_year.json()["referrals"] == 0 and set(last_year.json()["money_by_kind"][0].values()) == {
        "festival", "0.00"}
    no_year = aid(system, "auditor", "gs").get("/aid-stats", params={"federation": fed})
    assert no_year.status_code == 400 and "year" in no_year.json()["fields"]


# Metrics, the served description.


def metric_value(system, name: str, **labels: str) -> float:
    text = system.client("aid", role=None).get("/metrics").text
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and all(
                f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_money_by_program_kind_and_show_the_budget_left_without_personal_data(system, monkeypatch):
    from services.aid import metrics

    monkeypatch.setattr(metrics.GAUGES, "refresh", 0.0)
    fed = county()
    before = {name: metric_value(system, f"relief_aid_{name}_yuan_total", kind="festival")
              for name in ("requested", "paid", "reversed")}
    left_before = metric_value(system, "relief_aid_budget_remaining_yuan", federation="gs", kind="festival")
    given_before = metric_value(system, "relief_aid_budget_allocated_yuan", federation="gs", kind="festival")
    referrals = metric_value(system, "relief_aid_referrals_total")
    hires = metric_value(system, "relief_aid_hires_total")

    program_id = funded(system, fed, amount="1000.25", budget="5000.00")
    assert metric_value(system, "relief_aid_budget_remaining_yuan", federation="gs", kind="festival") == \
        pytest.approx(left_before + 5000)
    case_id, body = filed_case(system, fed)
    disbursement_id = approved(system, case_id, program_id)
    assert metric_value(system, "relief_aid_budget_remaining_yuan", federation="gs", kind="festival") == \
        pytest.approx(left_before + 5000 - 1000.25)
    assert metric_value(system, "relief_aid_budget_allocated_yuan", federation="gs", kind="festival") == \
        pytest.approx(given_before + 5000)  # what was given does not shrink as it is reserved
    paid(system, disbursement_id)
    assert step(system, disbursement_id, "reversal", {"reversed_on": TODAY.isoformat(), "reason": "错发"}).ok
    after = {name: metric_value(system, f"relief_aid_{name}_yuan_total", kind="festival")
             for name in ("requested", "paid", "reversed")}
    assert after == pytest.approx({name: value + 1000.25 for name, value in before.items()})
    assert metric_value(system, "relief_aid_budget_remaining_yuan", federation="gs", kind="festival") == \
        pytest.approx(left_before + 5000)

    caseworker = aid(system, "caseworker", "gs.by", "zhou")
    referral = caseworker.post("/referrals", {"case_id": case_id, "person": "worker", "employer": "厂",
                                              "position": "焊工", "referred_on": TODAY.isoformat()}).json()
    caseworker.post(f"/referrals/{referral['referral_id']}/outcome", {
        "outcome": "hired", "monthly_wage": "3800.00", "recorded_on": TODAY.isoformat()})
    assert metric_value(system, "relief_aid_referrals_total") == referrals + 1
    assert metric_value(system, "relief_aid_hires_total") == hires + 1

    text = system.client("aid", role=None).get("/metrics").text
    worker = body["worker"]
    for personal in (worker["id_number"], mask_id_number(worker["id_number"]), worker["name"], worker["phone"],
                     case_id, fed):
        assert personal not in text


def test_the_served_openapi_description_is_valid_and_lists_every_route(system):
    answer = system.client("aid", role=None).get("/openapi.json")
    assert answer.status_code == 200
    spec = answer.json()
    validate(spec)
    assert {"/programs", "/programs/{program_id}", "/budgets", "/disbursements", "/disbursements/{disbursement_id}",
            "/disbursements/{disbursement_id}/approval", "/disbursements/{disbursement_id}/payment",
            "/disbursements/{disbursement_id}/confirmation", "/disbursements/{disbursement_id}/failure",
            "/disbursements/{disbursement_id}/reversal", "/disbursements/{disbursement_id}/rejection",
            "/deliveries", "/programs/{program_id}/batches", "/batches", "/batches/{batch_id}",
            "/batches/{batch_id}/approval",
            "/batches/{batch_id}/bank-file", "/batches/{batch_id}/bank-results", "/referrals",
            "/referrals/{referral_id}/outcome", "/trainings", "/trainings/{training_id}/enrolments",
            "/trainings/{training_id}/completions", "/trainings/{training_id}/dropouts", "/reconciliation",
            "/cases/{case_id}/aid", "/aid-stats"} <= set(spec["paths"])
    assert "200" in spec["paths"]["/disbursements"]["post"]["responses"]
