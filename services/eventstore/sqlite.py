"""SQLite event store whose saves also write index rows, in one transaction (the embedded default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteProcessRecorder

from services.eventstore.index import Dialect, IndexOp
from services.eventstore.rows import IndexRows, apply_ops


class SQLiteIndexedRecorder(IndexRows, SQLiteProcessRecorder):
    """Record events, tracking and index rows atomically in SQLite."""

    dialect = Dialect(":{}", arrays=False)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(c, tracking)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        apply_ops(c, self.dialect, ops)
        return notification_ids


class SQLiteIndexedFactory(SQLiteFactory):
    """Build SQLite recorders that can write index rows."""

    def process_recorder(self) -> ProcessRecorder:
        recorder = SQLiteIndexedRecorder(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder
