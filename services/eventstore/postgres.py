"""PostgreSQL event store whose saves also write index rows, in one transaction (past one machine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

from services.eventstore.index import Dialect, IndexOp, Table
from services.eventstore.rows import apply_ops

DIALECT = Dialect("%({})s", arrays=True)


class PostgresIndexedRecorder(PostgresProcessRecorder):
    """Record events, tracking and index rows atomically in PostgreSQL."""

    def install(self, tables: Sequence[Table]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for table in tables:
                for statement in DIALECT.create(table):
                    curs.execute(statement)  # type: ignore[arg-type]

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        apply_ops(curs, DIALECT, ops)

    def select_rows(
        self,
        table: Table,
        equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        sql, params = DIALECT.select(table, equal or {}, subtree, limit, keys)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql, params)  # type: ignore[arg-type]
            return [dict(row) for row in curs.fetchall()]


class PostgresIndexedFactory(PostgresFactory):
    """Build PostgreSQL recorders that can write index rows."""

    process_recorder_class = PostgresIndexedRecorder

    def process_recorder(self) -> ProcessRecorder:
        return super().process_recorder()
