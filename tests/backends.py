"""The event-store backends every application test runs on: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from services.eventstore import store_env

TEST_CIPHER_KEY = "GXu9gr5CVWiX/uO7Hrz12skecIkYwaCbccUJhfn6BDs="  # 32 bytes, base64; for tests only
BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def backend_env(request: pytest.FixtureRequest, tmp_path, backend: str) -> dict[str, str]:
    """Settings for a fresh, empty store on the named backend."""
    if backend == "memory":
        url = "memory://"
    elif backend == "sqlite":
        url = f"sqlite:///{tmp_path}/store.db"
    else:
        cluster = request.getfixturevalue("postgres")
        url = f"postgresql://{cluster.user}:{cluster.password}@{cluster.host}:{cluster.port}/{cluster.create_database()}"
    return {**store_env(url, cipher_key=TEST_CIPHER_KEY), "PERSON_KEY": "test-person-key"}
