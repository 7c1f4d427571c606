"""An eventsourcing Application whose saves can carry index rows and a consumed position."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ProcessRecorder, Tracking

from services.eventstore.group_commit import GroupCommit
from services.eventstore.index import IndexOp, Table
from services.eventstore.migrations import Migration, create_tables
from services.eventstore.unit import UnitOfWork

T = TypeVar("T")


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
        after: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]: ...

    def page_rows(
        self, table: Table, *, newest: str, offset: int, limit: int | None, equal: dict[str, Any] | None = None,
        subtree: tuple[str, str] | None = None, keys: Sequence[str] | None = None,
        contains: tuple[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]: ...

    def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool: ...

    def release_lease(self, name: str, holder: str) -> None: ...

    def scrub(self) -> None: ...


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
        self.remember(aggregates)
        self._wake_listeners()

    def atomically(self, command: Callable[[], T], *, retry_on: tuple[type[Exception], ...], attempts: int) -> T:
        """Run a command that changes several aggregates so that all it records is stored in one transaction.

        In a consumer's batch (a unit of work is bound) the batch is that transaction. Otherwise the command
        runs in a unit of its own, group-committed with the saves made at the same moment; a save that fails
        with one of `retry_on` (another save took the same records meanwhile) runs the whole command again
        on what is stored now, and after `attempts` the last such error is raised. A first try that refuses
        (raises) after taking cached copies is run once more on what is stored: a stale copy never refuses.
        """
        if self.unit is not None:
            return command()
        lost: Exception | None = None
        for attempt in range(attempts):
            unit = UnitOfWork()
            self.bind(unit)
            self._bound.cache_used = False
            try:
                with self.first_try(attempt == 0):
                    result = command()
            except Exception:
                if attempt == 0 and self._bound.cache_used and attempts > 1:
                    continue  # refused on cached copies, which may be stale: ask the store before saying no
                raise
            finally:
                self.bind(None)
            try:
                self.commit(unit.events, unit.index, [])
            except retry_on as problem:
                lost = problem
                time.sleep(0.001 * attempt)  # green under nameko's eventlet
                continue
            self.remember(unit.aggregates.values())
            return result
        assert lost is not None, "attempts must be at least 1"
        raise lost

    def remember(self, aggregates: Iterable[Aggregate]) -> None:
        """With an aggregate cache (AGGREGATE_CACHE_MAXSIZE), keep what was just stored: the next load reads only
        what was stored since (the cache fast-forwards) instead of decrypting and replaying every event."""
        cache = self.repository.cache
        if cache is not None:
            for aggregate in aggregates:
                cache.put(aggregate.id, aggregate)

    def commit(self, events: Sequence[Any], index: Sequence[IndexOp], positions: Sequence[Tracking]) -> None:
        """Store a batch's events and index rows with the consumed position of each partition, or nothing.

        Without positions (a request's unit of work) the transaction is group-committed with the saves made
        at the same moment, as a lone save is: still all or nothing for this unit.
        """
        if positions:
            self.events.put(list(events), index=list(index), trackings=list(positions))
        else:
            self._group.save(list(events), list(index))
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

    def load(self, aggregate_id: UUID, *, cached: bool = False) -> Any:
        """Get an aggregate, as the running unit of work left it if it holds one (AggregateNotFoundError if none).

        `cached`: a copy as this process last stored or loaded it is good enough, because the command saves
        the aggregate (if another process changed it meanwhile, the save is refused, its version being taken,
        and the retry loads it afresh) or relies only on what never changes back. On a first try (see
        first_try) it then gets the cached copy without asking the store for events stored since. Any
        other load is brought up to date.
        """
        unit = self.unit
        if unit is not None and aggregate_id in unit.aggregates:
            return unit.aggregates[aggregate_id]
        cache = self.repository.cache
        if cached and cache is not None and getattr(self._bound, "first_try", False):
            try:
                found = copy.deepcopy(cache.get(aggregate_id))
            except KeyError:
                pass
            else:
                self._bound.cache_used = True
                return found
        return self.repository.get(aggregate_id)

    @contextmanager
    def first_try(self, first: bool = True) -> Iterator[None]:
        """While `first`, `cached` loads of the running green thread may take cached copies (atomically runs
        a command's first attempt so; a retry after a refused save does not)."""
        before = getattr(self._bound, "first_try", False)
        self._bound.first_try = first
        try:
            yield
        finally:
            self._bound.first_try = before

    def _wake_listeners(self) -> None:
        for listener in self.listeners:
            listener()

    @property
    def indexed(self) -> IndexedRecorder:
        """The recorder as what our factories build: one that also keeps index rows and leases."""
        return cast(IndexedRecorder, self.recorder)

    def select_rows(self, table: Table, **criteria: Any) -> list[dict[str, Any]]:
        return self.indexed.select_rows(table, **criteria)

    def page_rows(self, table: Table, **criteria: Any) -> tuple[list[dict[str, Any]], int]:
        """A page of rows newest first (by the `newest` column) and the count of all that match; `contains`:
        (column, item) for a column holding a comma-separated list."""
        return self.indexed.page_rows(table, **criteria)

    def acquire_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold or renew a lease of this store for ttl seconds (see services/eventstore/lease.py)."""
        return self.indexed.acquire_lease(name, holder, time.time(), ttl)

    def release_lease(self, name: str, holder: str) -> None:
        self.indexed.release_lease(name, holder)

    def position(self, name: str) -> int | None:
        """Return the last position recorded under this name (a consumed offset, an outbox mark)."""
        return self.process_recorder.max_tracking_id(name)
