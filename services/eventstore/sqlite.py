"""SQLite event store whose saves also write index rows, in one transaction (the embedded default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteProcessRecorder

from services.eventstore.index import Dialect, IndexOp, Table
from services.eventstore.rows import apply_ops

DIALECT = Dialect(":{}", arrays=False)


class SQLiteIndexedRecorder(SQLiteProcessRecorder):
    """Record events, tracking and index rows atomically in SQLite."""

    def install(self, tables: Sequence[Table]) -> None:
        with self.datastore.transaction(commit=True) as c:
            for table in tables:
                for statement in DIALECT.create(table):
                    c.execute(statement)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        apply_ops(c, DIALECT, ops)
        return notification_ids

    def select_rows(
        self,
        table: Table,
        equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        sql, params = DIALECT.select(table, equal or {}, subtree, limit, keys)
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [dict(row) for row in c.fetchall()]


class SQLiteIndexedFactory(SQLiteFactory):
    """Build SQLite recorders that can write index rows."""

    def process_recorder(self) -> ProcessRecorder:
        recorder = SQLiteIndexedRecorder(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder
