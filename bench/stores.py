"""The stores a benchmark runs on (`--stores sqlite,postgres`): a fresh SQLite file each, or a fresh
database of one durable PostgreSQL cluster the run starts (tests/harness/postgres.py) and stops after."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.harness.postgres import PostgresCluster

STORES = ("sqlite", "postgres")


@contextmanager
def store_urls(labels: str, tmp: str) -> Iterator[Callable[[str, str], str]]:
    """`new(label, name)`: the URL of a fresh store of that kind, named after `name` where it is a file."""
    wanted = labels.split(",")
    unknown = [label for label in wanted if label not in STORES]
    if unknown:
        raise SystemExit(f"unknown store {unknown[0]!r}: choose from {', '.join(STORES)}")
    cluster = PostgresCluster(durable=True) if "postgres" in wanted else None
    if cluster is not None:
        cluster.start()

    def new(label: str, name: str) -> str:
        if label == "sqlite":
            return f"sqlite:///{tmp}/{name}-{uuid.uuid4().hex[:6]}.db"
        assert cluster is not None
        return f"postgresql://{cluster.user}:{cluster.password}@{cluster.host}:{cluster.port}/{cluster.create_database()}"

    try:
        yield new
    finally:
        if cluster is not None:
            cluster.stop()
