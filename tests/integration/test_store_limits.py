"""A PostgreSQL store that does not answer fails a request within seconds instead of hanging it."""

from __future__ import annotations

import time

import pytest
from eventsourcing.persistence import OperationalError

from services.eventstore import store_env
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
