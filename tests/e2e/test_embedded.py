"""The embedded default: `python -m services.run` runs everything in one process, state on disk."""

import signal
import time

import pytest
import requests

from tests.e2e.flows import FILED_HISTORY, file_case, history, register_cadres, types_from
from tests.factories import application_body, id_number
from tests.harness.services import ProcessSystem, environment


@pytest.fixture
def system(tmp_path):
    running = ProcessSystem(environment(tmp_path))
    yield running
    running.stop()


def test_a_filed_case_is_paired_and_both_reach_the_audit_history_in_one_process(system):
    system.start_all()
    [cadre_id] = register_cadres(system)
    case_id = file_case(system)
    events = history(system, case_id, 7)
    assert types_from(events, "intake") == FILED_HISTORY
    assert types_from(events, "pairing") == ["PairingAssigned"]
    [assigned] = [e for e in events if e["service"] == "pairing"]  # its place among intake's events may vary
    assert assigned["payload"]["cadre_id"] == cadre_id
    assert assigned["payload"]["rule"]["function"] == "health"  # illness → health (the first cause)


def test_state_survives_a_restart(system):
    system.start_all()
    case_id = file_case(system)
    history(system, case_id, 7)  # intake's six, and pairing's CoverageGap: no cadre is registered
    system.stop()
    system.start_all()
    staff = system.client("intake", "caseworker", "gs.by", "li")
    assert staff.get(f"/cases/{case_id}").json()["state"] == "filed"
    assert len(history(system, case_id, 7)) == 7
    # New work after the restart still flows through; the waiting household is paired as a cadre arrives.
    [cadre_id] = register_cadres(system, rank="staff")  # a staff cadre carries one household
    second = file_case(system)
    events = history(system, second, 7)
    assert types_from(events, "intake") == FILED_HISTORY
    assert types_from(events, "pairing") == ["CoverageGap"]  # the one cadre took the older household
    first = history(system, case_id, 8)
    assert types_from(first, "pairing") == ["CoverageGap", "PairingAssigned"]
    assert [e for e in first if e["service"] == "pairing"][-1]["payload"]["cadre_id"] == cadre_id


def test_the_system_stops_within_seconds_of_sigterm(system):
    """Kubernetes sends SIGTERM and kills 30 s later; an idle nameko hub would sleep for 60 s."""
    system.start_all()
    eventlet_idle = 2.5  # let every service settle into its idle wait
    time.sleep(eventlet_idle)
    started = time.monotonic()
    system.procs["all"].send_signal(signal.SIGTERM)
    assert system.procs["all"].wait(30) == 0
    assert time.monotonic() - started < 5


def test_a_service_whose_broker_is_unreachable_stays_alive_and_says_it_is_not_ready(tmp_path):
    """An unreachable broker is an outage to wait out, not a crash: /health answers, /ready says why."""
    from tests.harness.postgres import free_port

    system = ProcessSystem(environment(tmp_path, transport=f"kafka://127.0.0.1:{free_port()}"))
    system.start("audit", extra={"RELIEF_LOG_LEVEL": "ERROR"})
    try:
        time.sleep(2)
        assert requests.get(system.url("audit") + "/health", timeout=2).status_code == 200
        ready = requests.get(system.url("audit") + "/ready", timeout=5)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["transport"]["ok"] is False and "accepts connections" in checks["transport"]["detail"]
        assert checks["sequencer"]["ok"] is False
        assert checks["store"]["ok"] is True
    finally:
        system.stop()


def test_no_id_number_or_phone_reaches_the_logs_or_metrics(system):
    system.env["RELIEF_LOG_LEVEL"] = "DEBUG"
    system.start_all()
    staff = system.client("intake", "caseworker", "gs.by", "li")
    body = application_body()
    body["household"]["members"][0]["id_number"] = id_number()
    case_id = staff.post("/cases", body).json()["case_id"]
    staff.post(f"/cases/{case_id}/verification", {"visitors": ["王芳"], "visited_on": "2026-03-02",
                                                    "per_capita_income": "1", "findings": "x"})  # a 400
    staff.post("/cases", body)  # a 409 duplicate
    history(system, case_id, 1)
    metrics = system.client("intake", role=None).get("/metrics").text
    system.stop()
    logs = system.log("all")
    assert "POST /cases" in logs  # the requests were logged
    secrets = [body["worker"]["id_number"], body["household"]["members"][0]["id_number"], body["worker"]["phone"]]
    for secret in secrets:
        assert secret not in logs
        assert secret not in metrics
