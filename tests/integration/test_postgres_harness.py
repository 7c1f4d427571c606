"""The throwaway PostgreSQL cluster works for eventsourcing, tracking and eventlet."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    StoredEvent,
    Tracking,
)
from eventsourcing.projection import EventSourcedProjection
from eventsourcing.utils import Environment

from tests.harness.postgres import PostgresCluster

REPO_ROOT = Path(__file__).resolve().parents[2]


class Dog(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


class DogSchool(Application[uuid.UUID]):
    def register(self, name: str) -> uuid.UUID:
        dog = Dog(name)
        self.save(dog)
        return dog.id


class TrickCounter(EventSourcedProjection[uuid.UUID]):
    """Records a Dog per processed event, atomically with the upstream position."""

    def policy(self, domain_event: object, processing_event: ProcessingEvent) -> None:
        processing_event.collect_events(Dog(str(domain_event)))


@pytest.fixture(scope="module")
def cluster():
    with PostgresCluster() as pg:
        yield pg


@pytest.fixture
def env(cluster):
    return cluster.env(dbname=cluster.create_database())


def test_cluster_is_private_and_requires_password(cluster):
    with psycopg.connect(cluster.dsn) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('listen_addresses', 'unix_socket_directories', 'fsync', 'max_connections')"
        ).fetchall())
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(cluster.tmpdir),
        "fsync": "off",
        "max_connections": "200",
    }
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(cluster.dsn.replace("password=relief", "password=wrong"))


def test_application_saves_reloads_and_lists_notifications(env):
    with DogSchool(env=env) as app:
        dog_id = app.register("Fido")
        dog = app.repository.get(dog_id)
        dog.add_trick("roll over")
        app.save(dog)

    with DogSchool(env=env) as app:
        assert app.repository.get(dog_id).tricks == ["roll over"]
        notifications = app.notification_log.select(start=1, limit=10)
    assert [n.id for n in notifications] == [1, 2]
    assert [n.topic.rsplit(".", 1)[-1] for n in notifications] == ["Created", "TrickAdded"]


def test_process_recorder_tracking_is_atomic_and_unique(env):
    factory = InfrastructureFactory.construct(Environment(env=env))
    recorder = factory.process_recorder()

    def stored_event() -> StoredEvent:
        return StoredEvent(uuid.uuid4(), 1, "topic", b"{}")

    recorder.insert_events([stored_event()], tracking=Tracking("x", 5))
    assert recorder.max_tracking_id("x") == 5
    with pytest.raises(IntegrityError):
        recorder.insert_events([stored_event()], tracking=Tracking("x", 5))
    assert recorder.max_notification_id() == 1  # The rejected event was rolled back.
    factory.close()


def test_projection_records_new_events_with_tracking(env):
    with TrickCounter(env=env) as counter:
        counter.process_event("Rex", Tracking("upstream", 7))
        with pytest.raises(IntegrityError):
            counter.process_event("Rex again", Tracking("upstream", 7))
        assert counter.recorder.max_tracking_id("upstream") == 7
        notifications = counter.notification_log.select(start=1, limit=10)
    assert len(notifications) == 1


EVENTLET_PROBE = """
import sys, time
import eventlet
eventlet.monkey_patch()
from eventsourcing.postgres import PostgresDatastore

host, port, user, password, dbname = sys.argv[1:]
store = PostgresDatastore(dbname, host, port, user, password, pool_size=4)
ticks = []

def tick():
    deadline = time.monotonic() + 1.3
    while time.monotonic() < deadline:
        ticks.append(1)
        eventlet.sleep(0.1)

def sleep_in_db():
    with store.get_connection() as conn:
        conn.execute("SELECT pg_sleep(1)")

ticker = eventlet.spawn(tick)
started = time.monotonic()
queries = [eventlet.spawn(sleep_in_db) for _ in range(4)]
[q.wait() for q in queries]
elapsed = time.monotonic() - started
ticker.wait()
store.close()
print(len(ticks), round(elapsed, 2))
"""


@pytest.mark.parametrize(("wait_func", "cooperative"), [("wait_select", True), (None, False)])
def test_psycopg_cooperates_with_eventlet_only_with_wait_select(cluster, wait_func, cooperative):
    env = {k: v for k, v in os.environ.items() if k != "PSYCOPG_WAIT_FUNC"}
    if wait_func:
        env["PSYCOPG_WAIT_FUNC"] = wait_func
    args = [cluster.host, str(cluster.port), cluster.user, cluster.password, cluster.dbname]
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", EVENTLET_PROBE, *args],
        env=env, capture_output=True, text=True, timeout=60, check=True, cwd=REPO_ROOT,
    )
    ticks, elapsed = result.stdout.split()
    if cooperative:  # Hub keeps ticking and four pooled 1 s queries overlap.
        assert int(ticks) >= 10 and float(elapsed) < 2
    else:  # The C wait function blocks the hub: no ticks, queries serialise.
        assert int(ticks) <= 4 and float(elapsed) >= 3.5
