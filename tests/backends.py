"""The event-store backends every application test runs on: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from services.eventstore import store_env

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def backend_env(request: pytest.FixtureRequest, tmp_path, backend: str) -> dict[str, str]:
    """Settings for a fresh, empty store on the named backend."""
    if backend == "memory":
        return store_env("memory://")
    if backend == "sqlite":
        return store_env(f"sqlite:///{tmp_path}/store.db")
    cluster = request.getfixturevalue("postgres")
    dbname = cluster.create_database()
    return store_env(f"postgresql://{cluster.user}:{cluster.password}@{cluster.host}:{cluster.port}/{dbname}")
