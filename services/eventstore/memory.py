"""In-memory event store with index rows, for unit tests: the same behaviour, nothing on disk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.popo import POPOFactory, POPOProcessRecorder

from services.contracts.federation import in_subtree
from services.eventstore.index import Claim, ClaimConflict, IndexOp, Put, Release, Table, known, projection, row_params
from services.eventstore.lease import MemoryLeases


class MemoryIndexedRecorder(POPOProcessRecorder):
    """Keep events, tracking and index rows in dicts, changed together under one lock."""

    def install(self, component: str, tables: Sequence[Table], migrations: Sequence[Any] = ()) -> None:
        """Nothing outlives the process here, so there is nothing to migrate: start with empty tables."""
        self._rows: dict[str, dict[str, dict[str, Any]]] = {t.name: {} for t in tables}
        self._leases = MemoryLeases()

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        return self._leases.acquire(name, holder, now, ttl)

    def scrub(self) -> None:
        """Nothing to do: a released row is gone with its dict entry."""

    def release_lease(self, name: str, holder: str) -> None:
        self._leases.release(name, holder)

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._assert_tracking_uniqueness(tracking)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        for op in ops:
            if isinstance(op, Claim):
                holder = self._rows[op.table.name].get(op.row[op.table.key])
                if holder is not None:
                    raise ClaimConflict(op.table, dict(holder))

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(tracking)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        for op in ops:
            rows = self._rows[op.table.name]
            if isinstance(op, (Put, Claim)):
                rows[op.row[op.table.key]] = row_params(op.table, op.row)
            elif isinstance(op, Release):
                rows.pop(op.key, None)
        return notification_ids

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
        with self._database_lock:
            rows = sorted(self._rows[table.name].values(), key=lambda r: r[table.key])
        if after is not None:
            rows = [r for r in rows if r[table.key] > after]
        if keys is not None:
            wanted = set(keys)
            rows = [r for r in rows if r[table.key] in wanted]
        found = [dict(r) for r in rows if _matches(r, equal or {}, subtree, until)]
        if columns is not None:
            chosen = projection(table, columns)
            found = [{c: r.get(c) for c in chosen} for r in found]
        return found[:limit] if limit is not None else found

    def page_rows(
        self, table: Table, *, newest: str, offset: int, limit: int | None, equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None, keys: Sequence[str] | None = None,
        contains: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        known(table, [newest, *(contains[:1] if contains else ())])
        rows = self.select_rows(table, equal=equal, subtree=subtree, keys=keys)
        if contains is not None:
            column, item = contains
            rows = [r for r in rows if item in (r.get(column) or "").split(",")]
        rows.sort(key=lambda r: (r.get(newest) or "", r[table.key]), reverse=True)
        return rows[offset:] if limit is None else rows[offset:offset + limit], len(rows)


def _matches(
    row: dict[str, Any], equal: dict[str, Any], subtree: tuple[str, str] | None, until: tuple[str, str] | None
) -> bool:
    if any(row.get(k) != v for k, v in equal.items()):
        return False
    if until is not None and (row.get(until[0]) is None or row[until[0]] > until[1]):
        return False
    if subtree is None:
        return True
    column, root = subtree
    value = str(row.get(column) or "")
    return in_subtree(value, root)


class MemoryIndexedFactory(POPOFactory):
    """Build in-memory recorders that can write index rows."""

    def process_recorder(self) -> ProcessRecorder:
        return MemoryIndexedRecorder()
