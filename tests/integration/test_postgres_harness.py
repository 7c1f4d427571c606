"""The throwaway PostgreSQL cluster is private, and psycopg under eventlet lets other work run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_cluster_is_private_and_requires_password(postgres):
    with psycopg.connect(postgres.dsn) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'unix_socket_directories')"
        ).fetchall())
    assert settings == {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(postgres.tmpdir)}
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.dsn.replace("password=relief", "password=wrong"))


EVENTLET_PROBE = """
import sys, time
import services.run  # patches eventlet and sets psycopg's wait function, as every service process does
import eventlet
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


def test_database_waits_do_not_block_the_service_with_the_runners_setting(postgres):
    """services.run sets PSYCOPG_WAIT_FUNC=wait_select: four 1 s queries overlap, the hub keeps ticking."""
    env = {k: v for k, v in os.environ.items() if k != "PSYCOPG_WAIT_FUNC"}
    args = [postgres.host, str(postgres.port), postgres.user, postgres.password, postgres.dbname]
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", EVENTLET_PROBE, *args],
        env=env, capture_output=True, text=True, timeout=60, check=True, cwd=REPO_ROOT,
    )
    ticks, elapsed = result.stdout.split()
    assert int(ticks) >= 10
    assert float(elapsed) < 2
