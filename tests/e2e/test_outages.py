"""A database outage is visible (/ready, 503 with Retry-After) and bounded, and nothing is half-written."""

from __future__ import annotations

import time

import pytest
import requests

from tests.factories import application_body
from tests.harness.postgres import PostgresCluster
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.postgres


@pytest.fixture
def private_postgres():
    with PostgresCluster(durable=True) as cluster:  # an immediate stop must keep what was committed
        yield cluster


def test_a_database_outage_answers_503_then_recovers_without_losing_or_half_writing(tmp_path, private_postgres):
    pg = private_postgres
    store = f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.create_database()}"
    system = ProcessSystem(environment(tmp_path, stores={"intake": store}), services=("intake",)).start()
    try:
        staff = system.client("intake")
        assert staff.post("/cases", application_body()).status_code == 201
        assert requests.get(system.url("intake") + "/ready", timeout=5).status_code == 200

        pg.halt()
        started = time.monotonic()
        refused = staff.post("/cases", application_body())
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert refused.json()["error"] == "unavailable"
        assert time.monotonic() - started < 9  # bounded: a pooled connection is awaited at most 5 s
        health = requests.get(system.url("intake") + "/health", timeout=2)
        assert health.status_code == 200
        ready = requests.get(system.url("intake") + "/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["checks"]["store"]["ok"] is False

        pg.resume()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = staff.post("/cases", application_body())
            if answer.status_code == 201:
                break
            assert answer.status_code == 503, answer.text
            time.sleep(0.5)
        assert answer.status_code == 201
        deadline = time.monotonic() + 15  # the relay and the checks recover on their next try
        while (ready := requests.get(system.url("intake") + "/ready", timeout=5)).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.5)
        assert len(staff.get("/cases").json()["cases"]) == 2  # the refused application left nothing behind
    finally:
        system.stop()
