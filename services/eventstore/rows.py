"""Apply index operations through a DB-API cursor, inside the transaction that records the events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.eventstore.index import Claim, ClaimConflict, Dialect, IndexOp, Put, Release, Table, row_params
from services.eventstore.lease import acquire_statement, create_leases, release_statement
from services.eventstore.migrations import Migration, migrate


def apply_ops(cursor: Any, dialect: Dialect, ops: Sequence[IndexOp]) -> None:
    """Write every operation, raising ClaimConflict (and so rolling back) if a claim is held.

    Puts between two claims or releases go in one executemany per table (an import writes a thousand at
    once, a batch alternates puts into two tables): puts into different tables commute, and of several
    puts of one key the last is the one that stands, so the result is that of writing them one by one.
    """
    puts: dict[str, dict[str, Put]] = {}  # table -> key -> the last put of that key, in first-seen order
    for op in ops:
        if isinstance(op, Put):
            puts.setdefault(op.table.name, {})[op.row[op.table.key]] = op
            continue
        _put_all(cursor, dialect, puts)
        puts = {}
        if isinstance(op, Claim):
            cursor.execute(dialect.claim(op.table), row_params(op.table, op.row))
            if cursor.fetchone() is None:
                key = op.row[op.table.key]
                sql, params = dialect.select(op.table, {op.table.key: key}, None, 1)
                cursor.execute(sql, params)
                holder = cursor.fetchone()
                raise ClaimConflict(op.table, dict(holder) if holder else {op.table.key: key})
        elif isinstance(op, Release):
            cursor.execute(dialect.delete(op.table), {"key": op.key})
    _put_all(cursor, dialect, puts)


def _put_all(cursor: Any, dialect: Dialect, puts: dict[str, dict[str, Put]]) -> None:
    for by_key in puts.values():
        rows = list(by_key.values())
        table = rows[0].table
        columns = table.column_set  # a row naming every column is its own parameters (the trail's are)
        params = [put.row if put.row.keys() == columns else row_params(table, put.row) for put in rows]
        if len(rows) == 1:
            cursor.execute(dialect.upsert(table), params[0])
        elif dialect.arrays and _all_text(params):
            # One statement for the lot (PostgreSQL): each column bound as one text array, the rows unnested
            # on the server. A batch of the trail's sequencer writes thousands of rows; one statement a row
            # waits on the server thousands of times. The keys are distinct, so ON CONFLICT sees each once.
            arrays = {c: [p[c] for p in params] for c in table.all_columns}
            cursor.execute(dialect.upsert_many(table), arrays)
        else:
            cursor.executemany(dialect.upsert(table), params)


def _all_text(params: list[dict[str, Any]]) -> bool:
    """Whether every value is text or NULL (every index column is TEXT; anything else binds row by row)."""
    return all(type(v) is str or v is None for p in params for v in p.values())


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

    def scrub(self) -> None:
        """Make what released index rows held leave the store's files, where the store can (see SQLite's);
        PostgreSQL's deleted rows leave the disk when VACUUM reuses their space."""

    def select_rows(
        self,
        table: Table,
        equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
        until: tuple[str, str] | None = None,
        after: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows in key order: equal columns, a federation subtree, keys, a column up to a value, keys after one;
        with only the key and `columns` when given (a scan of every row that needs a few)."""
        sql, params = self.dialect.select(table, equal or {}, subtree, limit, keys, until, after, columns)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]

    def page_rows(
        self, table: Table, *, newest: str, offset: int, limit: int | None, equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None, keys: Sequence[str] | None = None,
        contains: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the rows that match, the `newest` column's greatest first, and how many match in all:
        ordered, counted and cut by the database, in one read transaction."""
        rows_sql, count_sql, params = self.dialect.page(table, equal or {}, subtree, keys, contains, newest,
                                                        offset, limit)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(rows_sql, params)
            rows = [dict(row) for row in cursor.fetchall()]
            cursor.execute(count_sql, params)
            return rows, int(cursor.fetchone()["n"])
