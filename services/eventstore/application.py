"""An eventsourcing Application whose saves can carry index rows and a consumed position."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder, Tracking

from services.eventstore.group_commit import GroupCommit
from services.eventstore.index import IndexOp, Table
from services.eventstore.migrations import Migration, create_tables


class IndexedRecorder(Protocol):
    def install(self, component: str, tables: Sequence[Table], migrations: Sequence[Migration]) -> None: ...

    def select_rows(
        self,
        table: Table,
        equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None,
        limit: int | None = None,
        keys: Sequence[str] | None = None,
        until: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]: ...


class IndexedApplication(Application):
    """Base of every service's application: events, index rows and tracking saved together."""

    tables: ClassVar[tuple[Table, ...]] = ()
    # Ordered steps that bring a store's index tables to what `tables` describes; by default one step
    # that creates them. A change to a table of a store in use is a new step appended here.
    migrations: ClassVar[tuple[Migration, ...]] = ()

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.listeners: list[Callable[[], None]] = []
        super().__init__(env)
        self._group = GroupCommit(lambda events, index: self.events.put(events, index=index))

    def construct_recorder(self) -> ProcessRecorder:
        recorder = self.factory.process_recorder()
        steps = self.migrations or (Migration(1, "create the index tables", create_tables(*self.tables)),)
        recorder.install(self.name.lower(), self.tables, steps)  # type: ignore[attr-defined]
        return recorder

    @property
    def process_recorder(self) -> ProcessRecorder:
        assert isinstance(self.recorder, ProcessRecorder)
        return self.recorder

    def record(
        self,
        *aggregates: Aggregate,
        index: Sequence[IndexOp] = (),
        tracking: Tracking | None = None,
    ) -> None:
        """Store the aggregates' new events with their index rows and consumed position, or nothing.

        Saves without a position (requests) are group-committed with saves made at the same moment.
        """
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        if tracking is None:
            self._group.save(events, index)
        else:
            self.events.put(events, index=list(index), tracking=tracking)
        for listener in self.listeners:
            listener()

    def select_rows(self, table: Table, **criteria: Any) -> list[dict[str, Any]]:
        recorder: IndexedRecorder = self.recorder  # type: ignore[assignment]
        return recorder.select_rows(table, **criteria)

    def position(self, name: str) -> int | None:
        """Return the last position recorded under this name (a consumed offset, an outbox mark)."""
        return self.process_recorder.max_tracking_id(name)
