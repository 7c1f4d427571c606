"""SQLite event store whose saves also write index rows, in one transaction (the embedded default)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteProcessRecorder

from services.eventstore.index import Dialect, IndexOp, Release
from services.eventstore.rows import IndexRows, apply_ops


class SQLiteIndexedRecorder(IndexRows, SQLiteProcessRecorder):
    """Record events, tracking and index rows atomically in SQLite."""

    dialect = Dialect(":{}", arrays=False, unlimited="-1")  # SQLite has no OFFSET without a LIMIT

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(c, tracking)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        if any(isinstance(op, Release) for op in ops):
            c.execute("PRAGMA secure_delete = ON")  # a released row's bytes are overwritten, not left in the file
        apply_ops(c, self.dialect, ops)
        return notification_ids

    def scrub(self) -> None:
        """Copy the write-ahead log into the database and truncate it, so that what was deleted (overwritten
        there) is nowhere in the files any more."""
        if self.datastore.pool.is_sqlite_memory_mode:
            return
        with contextlib.closing(sqlite3.connect(self.datastore.pool.db_name)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class SQLiteIndexedFactory(SQLiteFactory):
    """Build SQLite recorders that can write index rows."""

    def process_recorder(self) -> ProcessRecorder:
        recorder = SQLiteIndexedRecorder(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder
