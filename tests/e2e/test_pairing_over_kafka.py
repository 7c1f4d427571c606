"""Pairing as its own process over a real Kafka broker: every filed household paired, a crash mid-stream, visits.

The broker is shared by the whole session, so intake's topic already holds the cases of earlier tests (each
pairing reads it from the start). Each test therefore files its cases and registers its cadres in a county
of its own under gs.by: no other test's household fits its cadres, and its coverage counts only its own.
"""

import contextlib
import uuid
from collections import Counter

import pytest

from services.contracts.topics import INTAKE_TOPIC, topic_for
from services.pairing.matching import gap_reason
from tests.e2e.flows import (
    FILED_HISTORY,
    caught_up,
    coverage,
    end_offsets,
    file_case,
    file_cases,
    history,
    metric,
    records_on,
    register_cadres,
    types_from,
    wait_for,
)
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka

PAIRING_TOPIC = topic_for("pairing")
CAUSES = ["illness", "education"]  # the factory household's: a health unit fits it


@pytest.fixture
def system(kafka, tmp_path):
    running = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}"))
    yield running
    running.stop()


@pytest.fixture
def county():
    """A federation no other test files a case in (gs.by.t1a2b3c4d)."""
    return f"gs.by.t{uuid.uuid4().hex[:8]}"


def pairing_of(system, case_id: str, federation: str) -> dict:
    response = system.client("pairing", "caseworker", federation, "li").get(f"/pairings/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def cadres_of(system, federation: str) -> list[dict]:
    response = system.client("pairing", "admin", federation, "zhao").get("/cadres", params={"federation": federation})
    assert response.status_code == 200, response.text
    return response.json()["cadres"]


def is_paired(system, case_id: str, federation: str) -> bool:
    response = system.client("pairing", "caseworker", federation, "li").get(f"/pairings/{case_id}")
    return response.status_code == 200 and response.json()["state"] == "active"


def test_200_filed_cases_are_all_paired_the_ones_beyond_capacity_once_cadres_are_added(system, county):
    system.start("intake", "pairing", "audit")
    first = register_cadres(system, county, count=50)  # 50 leaders: 100 households
    case_ids = file_cases(system, 200, county)
    assert len(set(case_ids)) == 200

    wait_for(lambda: coverage(system, county)["paired"] + coverage(system, county)["uncovered"] == 200, 60,
             "every filed case paired or listed uncovered")
    full = coverage(system, county)
    assert (full["filed"], full["paired"], full["uncovered"]) == (200, 100, 100)
    assert full["cadre_loads"] == {"2": 50}
    waiting = {h["case_id"] for h in full["uncovered_households"]}
    assert len(waiting) == 100 and waiting < set(case_ids)
    assert {h["reason"] for h in full["uncovered_households"]} == {gap_reason(county, CAUSES)}
    one = pairing_of(system, sorted(waiting)[0], county)
    assert (one["state"], one["cadre_id"], one["reason"]) == ("uncovered", None, gap_reason(county, CAUSES))

    second = register_cadres(system, county, count=50)  # each registration pairs two waiting households
    wait_for(lambda: coverage(system, county)["paired"] == 200, 30, "the waiting households paired")
    covered = coverage(system, county)
    assert (covered["filed"], covered["paired"], covered["uncovered"], covered["uncovered_households"]) == (
        200, 200, 0, [])
    assert covered["cadre_loads"] == {"2": 100}

    assigned_to: dict[str, str] = {}
    for case_id in case_ids:
        pairing = pairing_of(system, case_id, county)
        assert pairing["state"] == "active" and pairing["case_state"] == "filed", pairing
        assert [h["event"] for h in pairing["history"]] == (
            ["uncovered", "assigned"] if case_id in waiting else ["assigned"])
        assert pairing["cadre_id"] in (second if case_id in waiting else first)
        assigned_to[case_id] = pairing["cadre_id"]
    assert Counter(assigned_to.values()) == {cadre_id: 2 for cadre_id in first + second}  # each slot once

    for case_id in case_ids:
        gap = case_id in waiting
        events = history(system, case_id, len(FILED_HISTORY) + (2 if gap else 1))
        assert types_from(events, "intake") == FILED_HISTORY
        assert types_from(events, "pairing") == (["CoverageGap", "PairingAssigned"] if gap else ["PairingAssigned"])
        assigned = next(e for e in events if e["type"] == "PairingAssigned")
        assert assigned["payload"]["cadre_id"] == assigned_to[case_id]
        if gap:
            assert next(e for e in events if e["type"] == "CoverageGap")["payload"]["reason"] == gap_reason(
                county, CAUSES)
            assert assigned["payload"]["rule"]["trigger"].startswith("capacity appeared: cadre ")


@pytest.mark.parametrize(
    ("failpoint", "while_filing"),
    [
        ("consumer.before_apply=93", True),  # the 3rd event of the 16th case: 15 cases applied and committed
        ("consumer.after_record=1", False),  # the backlog's first batch committed, its Kafka offsets not
    ],
    ids=["killed-mid-stream-while-filing", "killed-after-recording-a-backlog"],
)
def test_a_pairing_consumer_killed_and_restarted_pairs_no_case_twice_and_skips_none(
    system, kafka, county, failpoint, while_filing
):
    n = 30
    system.start("intake", "pairing", "audit")
    register_cadres(system, county, count=20)  # 40 slots for 30 households: no one waits
    ends = end_offsets(kafka, INTAKE_TOPIC)  # earlier tests' cases: read before the count starts
    wait_for(lambda: caught_up(system, "pairing", INTAKE_TOPIC, ends), 60, "pairing through intake's topic")
    system.stop("pairing")

    if while_filing:
        system.start("pairing", extra={"RELIEF_FAILPOINTS": failpoint})
        case_ids = file_cases(system, n, county, at_once=1)  # one by one: pairing applies them as they come
    else:
        case_ids = file_cases(system, n, county)  # 180 events waiting in Kafka
        with contextlib.suppress(RuntimeError):  # it may die before its health check answers
            system.start("pairing", extra={"RELIEF_FAILPOINTS": failpoint})
    assert system.wait_exit("pairing") == -9
    if while_filing:  # the kill came mid-stream: the first cases were paired and published, the last never seen
        assert 0 < len({r.key for r in records_on(kafka, PAIRING_TOPIC, set(case_ids))}) < n
    system.start("pairing")

    wait_for(lambda: coverage(system, county)["paired"] == n, 60, f"all {n} cases paired after the restart")
    found = coverage(system, county)
    assert (found["filed"], found["paired"], found["uncovered"]) == (n, n, 0)
    cadres = cadres_of(system, county)
    assert sum(c["load"] for c in cadres) == n
    assert all(c["load"] <= c["capacity"] == 2 for c in cadres)

    assigned_ids: dict[str, str] = {}
    for case_id in case_ids:
        pairing = pairing_of(system, case_id, county)
        assert pairing["state"] == "active" and [h["event"] for h in pairing["history"]] == ["assigned"], pairing
        events = history(system, case_id, len(FILED_HISTORY) + 1)
        assert types_from(events, "intake") == FILED_HISTORY
        assert types_from(events, "pairing") == ["PairingAssigned"], events
        [assigned] = [e for e in events if e["type"] == "PairingAssigned"]
        assert assigned["payload"]["cadre_id"] == pairing["cadre_id"]
        assigned_ids[case_id] = assigned["event_id"]

    wait_for(lambda: metric(system, "pairing", "relief_outbox_backlog_events") == 0, 30, "pairing's outbox empty")
    records = records_on(kafka, PAIRING_TOPIC, set(case_ids))
    on_topic: dict[str, list[str]] = {}
    for record in records:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["event-type"] == "PairingAssigned", headers
        on_topic.setdefault(record.key.decode(), []).append(headers["event-id"])
    assert {case_id: [event_id] for case_id, event_id in assigned_ids.items()} == on_topic  # each once, none missing


def test_a_cadres_token_logs_a_visit_only_for_their_own_households(system, county):
    system.start("intake", "pairing", "audit")
    register_cadres(system, county, count=2)
    case_id = file_case(system, county)
    wait_for(lambda: is_paired(system, case_id, county), 30, "the case paired")
    pairing = pairing_of(system, case_id, county)
    [a] = [c for c in cadres_of(system, county) if c["cadre_id"] == pairing["cadre_id"]]
    [b] = [c for c in cadres_of(system, county) if c["cadre_id"] != pairing["cadre_id"]]
    assert pairing["contact"] == a["user"]
    as_a = system.client("pairing", "cadre", county, a["user"])
    as_b = system.client("pairing", "cadre", county, b["user"])
    visit = {"visited_on": pairing["assigned_on"], "kind": "routine", "findings": "妻子病情稳定，儿子已返校",
             "problems_solved": "", "measures": "", "next_steps": ""}

    response = as_a.post(f"/cases/{case_id}/visits", visit)
    assert response.status_code == 201, response.text
    [recorded] = response.json()["visits"]
    assert (recorded["visitor"], recorded["cadre_id"], recorded["visited_on"]) == (
        a["user"], a["cadre_id"], visit["visited_on"])

    response = as_b.post(f"/cases/{case_id}/visits", {**visit, "findings": "不是我的帮扶户"})
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "not_your_household"
    assert len(as_a.get(f"/cases/{case_id}/visits").json()["visits"]) == 1  # the refused one left nothing

    response = as_a.get("/my/households")
    assert response.status_code == 200, response.text
    [mine] = response.json()["households"]
    assert (mine["case_id"], mine["cadre_id"], mine["last_visit_on"]) == (case_id, a["cadre_id"], visit["visited_on"])
    response = as_b.get("/my/households")
    assert response.status_code == 200 and response.json()["households"] == [], response.text

    events = history(system, case_id, len(FILED_HISTORY) + 2)
    assert types_from(events, "pairing") == ["PairingAssigned", "VisitRecorded"]
    # Audit reads intake's and pairing's topics side by side: only each topic's own order is kept.
    visited = [e for e in events if e["service"] == "pairing"][-1]
    assert visited["payload"]["visitor"] == a["user"]
