"""Apply index operations through a DB-API cursor, inside the transaction that records the events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.eventstore.index import Claim, ClaimConflict, Dialect, IndexOp, Put, Release, Table, row_params
from services.eventstore.lease import acquire_statement, create_leases, release_statement
from services.eventstore.migrations import Migration, migrate


def apply_ops(cursor: Any, dialect: Dialect, ops: Sequence[IndexOp]) -> None:
    """Write every operation, raising ClaimConflict (and so rolling back) if a claim is held.

    Consecutive puts into one table go in one executemany (an import writes a thousand at once).
    """
    puts: list[Put] = []
    for op in ops:
        if puts and not (isinstance(op, Put) and op.table == puts[0].table):
            _put_all(cursor, dialect, puts)
            puts = []
        if isinstance(op, Put):
            puts.append(op)
        elif isinstance(op, Claim):
            cursor.execute(dialect.claim(op.table), row_params(op.table, op.row))
            if cursor.fetchone() is None:
                key = op.row[op.table.key]
                sql, params = dialect.select(op.table, {op.table.key: key}, None, 1)
                cursor.execute(sql, params)
                holder = cursor.fetchone()
                raise ClaimConflict(op.table, dict(holder) if holder else {op.table.key: key})
        elif isinstance(op, Release):
            cursor.execute(dialect.delete(op.table), {"key": op.key})
    if puts:
        _put_all(cursor, dialect, puts)


def _put_all(cursor: Any, dialect: Dialect, puts: list[Put]) -> None:
    table = puts[0].table
    if len(puts) == 1:
        cursor.execute(dialect.upsert(table), row_params(table, puts[0].row))
    else:
        cursor.executemany(dialect.upsert(table), [row_params(table, put.row) for put in puts])


class IndexRows:
    """Create and query index tables through a recorder's datastore (SQLite and PostgreSQL alike)."""

    dialect: Dialect
    datastore: Any

    migration_lock = ""  # a statement that serialises replicas migrating one store at once

    def install(self, component: str, tables: Sequence[Table], migrations: Sequence[Migration]) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            migrate(cursor, self.dialect, component, migrations, self.migration_lock)
            create_leases(cursor)

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Hold or renew the named lease until now + ttl; False while another holder's lease runs."""
        params = {"name": name, "holder": holder, "expires": now + ttl, "now": now}
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(acquire_statement(self.dialect), params)
            return cursor.fetchone() is not None

    def release_lease(self, name: str, holder: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(release_statement(self.dialect), {"name": name, "holder": holder})

    def select_rows(
        self,
        table: Table,
        equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
        until: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        sql, params = self.dialect.select(table, equal or {}, subtree, limit, keys, until)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]
