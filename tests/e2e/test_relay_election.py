"""Two replicas of a producing service share one store: both answer requests, exactly one relay publishes,
and when it is killed the other takes over within 15 s, with every event on the topic exactly once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from kafka import KafkaConsumer

from services.config import DEV_JWT_SECRET
from services.contracts.topics import INTAKE_TOPIC
from services.web.auth import issue_token
from tests.e2e.flows import wait_for
from tests.factories import application_body
from tests.harness.services import Client, ProcessSystem, environment

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

APPLICATIONS = 1000


def leader_gauge(url: str) -> float:
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("relief_outbox_relay_leader{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def published(kafka: str, case_ids: set[str]) -> list[str]:
    """The event ids on the intake topic of messages about these cases, duplicates included."""
    consumer = KafkaConsumer(INTAKE_TOPIC, bootstrap_servers=kafka, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    found = [dict(r.headers)["event-id"].decode() for r in consumer if r.key and r.key.decode() in case_ids]
    consumer.close()
    return found


def test_the_standby_relay_takes_over_and_no_event_is_lost_or_sent_twice(tmp_path, kafka, postgres):
    store = f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/"
    store += postgres.create_database()
    system = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}", stores={"intake": store}))
    urls = {}
    try:
        for replica in ("intake-a", "intake-b"):
            urls[replica] = system.spawn_replica("intake", replica, {"RELIEF_INTAKE_INSTANCE": replica})
        for url in urls.values():
            wait_for(lambda url=url: _healthy(url), 30, "a replica answering")
        wait_for(lambda: sum(leader_gauge(url) for url in urls.values()) == 1, 20, "one active relay")
        active = next(r for r, url in urls.items() if leader_gauge(url) == 1)
        standby = next(r for r in urls if r != active)

        token = issue_token(DEV_JWT_SECRET, "li", "caseworker", "gs.by")
        clients = {r: Client(url, token) for r, url in urls.items()}
        killed = threading.Event()
        acknowledged: list[str] = []

        def apply(n: int) -> None:
            replica = standby if killed.is_set() or n % 2 else active
            try:
                answer = clients[replica].post("/cases", application_body())
            except requests.ConnectionError:
                return  # the killed replica may or may not have stored it; it was never acknowledged
            if answer.status_code == 201:
                acknowledged.append(answer.json()["case_id"])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(apply, range(APPLICATIONS // 2)))
            system.kill(active)  # mid-way, while its relay publishes
            killed.set()
            killed_at = time.monotonic()
            list(pool.map(apply, range(APPLICATIONS // 2, APPLICATIONS)))

        wait_for(lambda: leader_gauge(urls[standby]) == 1, max(0.5, 15 - (time.monotonic() - killed_at)),
                 "the standby taking the lease")
        takeover = time.monotonic() - killed_at
        assert takeover < 15
        admin = Client(urls[standby], issue_token(DEV_JWT_SECRET, "root", "admin", "gs"))
        stored = {row["case_id"] for row in admin.get("/cases").json()["cases"]}
        assert set(acknowledged) <= stored and len(acknowledged) >= APPLICATIONS * 0.9
        wait_for(lambda: len(set(published(kafka, stored))) == len(stored), 30, "every stored event published")
        sent = published(kafka, stored)
        print(f"{len(stored)} cases stored, {len(sent)} messages; the standby took over {takeover:.1f}s after the kill")
        assert len(sent) == len(set(sent)) == len(stored)  # each case's CaseOpened once: no gap, no duplicate
    finally:
        system.stop()


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=1).ok
    except requests.ConnectionError:
        return False
