"""A Kafka outage is visible (/ready, the outbox backlog, relay failures) and publishing and consuming
resume within seconds of the broker coming back, with nothing lost."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.flows import history, metric, wait_for
from tests.factories import application_body
from tests.harness.kafka_broker import KafkaBroker
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka


@pytest.fixture
def broker():
    with KafkaBroker() as running:
        yield running


def test_a_broker_restart_is_seen_and_both_sides_resume_within_ten_seconds(tmp_path, broker):
    system = ProcessSystem(environment(tmp_path, transport=f"kafka://{broker.bootstrap}")).start()
    try:
        staff = system.client("intake", "caseworker", "gs.by", "li")
        before = staff.post("/cases", application_body()).json()["case_id"]
        assert [e["type"] for e in history(system, before, 1)] == ["CaseOpened"]

        broker.halt()
        during = staff.post("/cases", application_body())
        assert during.status_code == 201  # the store takes it; the outbox holds it until the broker is back
        wait_for(lambda: metric(system, "intake", "relief_outbox_backlog_events") >= 1, 20, "the backlog gauge")
        wait_for(lambda: metric(system, "intake", "relief_outbox_relay_failures_total", reason="broker") >= 1,
                 20, "a counted relay failure")
        ready = requests.get(system.url("intake") + "/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["checks"]["transport"]["ok"] is False

        broker.resume()
        published = wait_for(lambda: len(history(system, during.json()["case_id"], 1, timeout=0.5)) == 1,
                             10, "the event stored during the outage reaching audit")
        after = staff.post("/cases", application_body()).json()["case_id"]
        consumed = wait_for(lambda: len(history(system, after, 1, timeout=0.5)) == 1, 10,
                            "a new event reaching audit")
        print(f"after the restart: outage backlog delivered in {published:.1f}s, a new event in {consumed:.1f}s")
        assert metric(system, "intake", "relief_outbox_backlog_events") == 0
        wait_for(lambda: requests.get(system.url("intake") + "/ready", timeout=5).status_code == 200, 10,
                 "intake ready again")
    finally:
        system.stop()
