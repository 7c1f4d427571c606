"""A PostgreSQL store that does not answer fails a request within seconds instead of hanging it."""

from __future__ import annotations

import time

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from services.eventstore import store_env
from services.eventstore.postgres import PingIfIdle
from services.intake.application import Cases
from tests.backends import TEST_CIPHER_KEY
from tests.harness.postgres import free_port

pytestmark = pytest.mark.postgres


def test_every_connection_carries_a_statement_timeout(postgres):
    url = f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/{postgres.create_database()}"
    app = Cases({**store_env(url, TEST_CIPHER_KEY), "PERSON_KEY": "k"})
    try:
        with app.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()["statement_timeout"] == "10s"
    finally:
        app.close()


def test_a_store_nobody_answers_fails_within_seconds():
    url = f"postgresql://relief:pw@127.0.0.1:{free_port()}/relief"
    started = time.monotonic()
    with pytest.raises(OperationalError):
        Cases({**store_env(url), "PERSON_KEY": "k"})
    assert time.monotonic() - started < 15


def test_a_connection_broken_while_idle_is_replaced_and_a_busy_one_is_not_pinged(postgres):
    """The pre-ping (PingIfIdle) catches what broke in the pool, and costs nothing while the store is busy."""
    database = postgres.create_database()
    url = f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/{database}"
    app = Cases({**store_env(url, TEST_CIPHER_KEY), "PERSON_KEY": "k"})
    try:
        datastore = app.recorder.datastore  # type: ignore[attr-defined]
        check = datastore.pool._check
        assert isinstance(check, PingIfIdle)
        pings = []
        ping = check.ping
        check.ping = lambda connection: (pings.append(1), ping(connection))
        app.recorder.max_notification_id()
        before = len(pings)
        for _ in range(50):  # a busy store: its connections were handed out a moment ago
            app.recorder.max_notification_id()
        assert len(pings) == before

        time.sleep(check.idle_seconds + 0.2)
        with psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.user,
                             password=postgres.password, dbname=database, autocommit=True) as admin:
            killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchone()
        assert killed and killed[0] >= 1  # every pooled connection is dead on the server's side
        started = time.monotonic()
        assert app.recorder.max_notification_id() is None  # answered on a fresh connection, not an error
        assert time.monotonic() - started < 3  # the pool gives up after 5 s: this is well inside it
        assert len(pings) > before
    finally:
        app.close()
