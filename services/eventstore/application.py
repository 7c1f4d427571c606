"""An eventsourcing Application whose saves can carry index rows and a consumed position."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder, Tracking

from services.eventstore.group_commit import GroupCommit
from services.eventstore.index import IndexOp, Table
from services.eventstore.migrations import Migration, create_tables
from services.eventstore.unit import UnitOfWork


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

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...


class IndexedApplication(Application):
    """Base of every service's application: events, index rows and tracking saved together."""

    tables: ClassVar[tuple[Table, ...]] = ()
    # Ordered steps that bring a store's index tables to what `tables` describes; by default one step
    # that creates them. A change to a table of a store in use is a new step appended here.
    migrations: ClassVar[tuple[Migration, ...]] = ()

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.listeners: list[Callable[[], None]] = []
        self._bound = threading.local()  # per green thread under eventlet: a consumer's unit of work
        super().__init__(env)
        self._group = GroupCommit(lambda events, index: self.events.put(events, index=index))

    def construct_recorder(self) -> ProcessRecorder:
        recorder = self.factory.process_recorder()
        steps = self.migrations or (Migration(1, "create the index tables", create_tables(*self.tables)),)
        cast(IndexedRecorder, recorder).install(self.name.lower(), self.tables, steps)
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
        Inside a unit of work (a consumer's batch) nothing is written: the unit holds the effects.
        """
        unit = self.unit
        if unit is not None and tracking is None:
            unit.add(aggregates, index)
            return
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        if tracking is None:
            self._group.save(events, index)
        else:
            self.events.put(events, index=list(index), tracking=tracking)
        self.stored(events)
        self._wake_listeners()

    def commit(self, events: Sequence[Any], index: Sequence[IndexOp], positions: Sequence[Tracking]) -> None:
        """Store a batch's events and index rows with the consumed position of each partition, or nothing."""
        self.events.put(list(events), index=list(index), trackings=list(positions))
        self.stored(events)
        self._wake_listeners()

    def stored(self, events: Sequence[Any]) -> None:
        """Called once the events are durably stored (never for a save that failed): count them, say."""

    @property
    def unit(self) -> UnitOfWork | None:
        """The unit of work bound to the running green thread, if any."""
        return getattr(self._bound, "unit", None)

    def bind(self, unit: UnitOfWork | None) -> None:
        """From now on, saves of the running green thread go into `unit` and loads see it (None: the store)."""
        self._bound.unit = unit

    def load(self, aggregate_id: UUID) -> Any:
        """Get an aggregate, as the running unit of work left it if it holds one (AggregateNotFoundError if none)."""
        unit = self.unit
        if unit is not None and aggregate_id in unit.aggregates:
            return unit.aggregates[aggregate_id]
        return self.repository.get(aggregate_id)

    def _wake_listeners(self) -> None:
        for listener in self.listeners:
            listener()

    @property
    def indexed(self) -> IndexedRecorder:
        """The recorder as what our factories build: one that also keeps index rows and leases."""
        return cast(IndexedRecorder, self.recorder)

    def select_rows(self, table: Table, **criteria: Any) -> list[dict[str, Any]]:
        return self.indexed.select_rows(table, **criteria)

    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold or renew a lease of this store for ttl seconds (see services/eventstore/lease.py)."""
        return self.indexed.acquire_lease(name, holder, time.time(), ttl)

    def release_lease(self, name: str, holder: str) -> None:
        self.indexed.release_lease(name, holder)

    def position(self, name: str) -> int | None:
        """Return the last position recorded under this name (a consumed offset, an outbox mark)."""
        return self.process_recorder.max_tracking_id(name)
