"""Versioned migrations of a service's index tables, so an upgrade keeps an existing store.

Each application lists ordered steps; the store keeps one row per application in `relief_schema` with
the last step applied. At start the missing steps run in order, in one transaction with the version
row, so a crash leaves the old version or the new one, never half a migration. Step 1 of every
application creates its tables with IF NOT EXISTS, so a store made before versioning simply adopts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.eventstore.index import Dialect, Table

VERSIONS_TABLE = "relief_schema"


@dataclass(frozen=True)
class Migration:
    """One step: a version number (1, 2, …), what it does, and the statements it runs."""

    version: int
    description: str
    statements: Callable[[Dialect], list[str]]


class StoreTooNew(RuntimeError):
    """The store was migrated by a newer build than this one; running would misread it."""


def create_tables(*tables: Table) -> Callable[[Dialect], list[str]]:
    """The statements of a step that creates index tables (and their indexes) if they are missing."""

    def statements(dialect: Dialect) -> list[str]:
        return [sql for table in tables for sql in dialect.create(table)]

    return statements


def check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3, … in order; got {versions}")


def migrate(cursor: Any, dialect: Dialect, component: str, migrations: Sequence[Migration], lock: str = "") -> int:
    """Apply the steps newer than the store's version inside the caller's transaction; return the new version.

    `lock` is a statement that serialises replicas starting at once (PostgreSQL: LOCK TABLE … EXCLUSIVE);
    SQLite's writer lock does the same for the transaction.
    """
    check_order(migrations)
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (component TEXT PRIMARY KEY, version BIGINT NOT NULL)")
    if lock:
        cursor.execute(lock)
    cursor.execute(f"SELECT version FROM {VERSIONS_TABLE} WHERE component = {dialect.p('component')}",
                   {"component": component})
    row = cursor.fetchone()
    current = int(row["version"]) if row else 0
    latest = len(migrations)
    if current > latest:
        raise StoreTooNew(
            f"{component} store is at schema version {current}, this build knows {latest}: run a newer build"
        )
    for migration in migrations[current:]:
        for statement in migration.statements(dialect):
            cursor.execute(statement)
    if latest != current:
        params = {"component": component, "version": latest}
        cursor.execute(
            f"INSERT INTO {VERSIONS_TABLE} (component, version) VALUES ({dialect.p('component')}, "
            f"{dialect.p('version')}) ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            params,
        )
    return latest
