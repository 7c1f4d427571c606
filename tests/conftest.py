"""Session-wide set-up: eventlet first (nameko needs it), then the real servers tests share."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on a free port, for the whole test session."""
    from tests.harness.postgres import PostgresCluster

    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka():
    """A real Kafka broker (KRaft) on free ports, for the whole test session; yields its address."""
    from tests.harness.kafka_broker import KafkaBroker

    with KafkaBroker() as broker:
        yield broker.bootstrap
