"""A lease in the service's own store: which replica may do a thing only one replica may do at a time.

The outbox relay of a service with several replicas holds its lease: only the holder publishes, a
standby takes the lease over once the holder has failed to renew it for `ttl` seconds. Expiry uses the
replicas' clocks (kept by NTP on any cluster), compared in the one store they share.
"""

from __future__ import annotations

import threading
from typing import Any

from services.eventstore.index import Dialect

LEASES_TABLE = "relief_leases"


def create_leases(cursor: Any) -> None:
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {LEASES_TABLE} "
        "(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL)"
    )


def acquire_statement(dialect: Dialect) -> str:
    """Take the lease if it is free, expired or already ours, and extend it; return a row only if we hold it."""
    p = dialect.p
    return (
        f"INSERT INTO {LEASES_TABLE} (name, holder, expires_at) VALUES ({p('name')}, {p('holder')}, {p('expires')}) "
        f"ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
        f"WHERE {LEASES_TABLE}.holder = excluded.holder OR {LEASES_TABLE}.expires_at < {p('now')} "
        "RETURNING holder"
    )


def release_statement(dialect: Dialect) -> str:
    p = dialect.p
    return f"DELETE FROM {LEASES_TABLE} WHERE name = {p('name')} AND holder = {p('holder')}"


class MemoryLeases:
    """Leases of the in-memory store: one process, so the first asker holds it until released or expired."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, holder: str, now: float, ttl: float) -> bool:
        with self._lock:
            current = self._held.get(name)
            if current is None or current[0] == holder or current[1] < now:
                self._held[name] = (holder, now + ttl)
                return True
            return False

    def release(self, name: str, holder: str) -> None:
        with self._lock:
            if self._held.get(name, ("", 0.0))[0] == holder:
                del self._held[name]
