"""PostgreSQL event store whose saves also write index rows, in one transaction (past one machine)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

from services.eventstore.index import Dialect, IndexOp
from services.eventstore.rows import IndexRows, apply_ops


class PostgresIndexedRecorder(IndexRows, PostgresProcessRecorder):
    """Record events, tracking and index rows atomically in PostgreSQL."""

    dialect = Dialect("%({})s", arrays=True)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        apply_ops(curs, self.dialect, ops)


class PostgresIndexedFactory(PostgresFactory):
    """Build PostgreSQL recorders that can write index rows."""

    process_recorder_class = PostgresIndexedRecorder

    def process_recorder(self) -> ProcessRecorder:
        return super().process_recorder()
