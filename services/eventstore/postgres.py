"""PostgreSQL event store whose saves also write index rows, in one transaction (past one machine)."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import ProcessRecorder, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from psycopg import Cursor
from psycopg.rows import DictRow

from services.eventstore.index import Dialect, IndexOp, Table
from services.eventstore.migrations import Migration
from services.eventstore.rows import IndexRows, apply_ops

SCHEMA_LOCK = 0x72656C6965660001  # an advisory lock key of this system's own ("relief" and 1)


def _once(method: Any) -> Any:
    """The store call without eventsourcing's ten retries: a request facing a database that does not answer
    fails within the pool's timeout (503, Retry-After) instead of after ten of them, and the outbox relay
    and the consumers retry with their own visible backoff."""
    return getattr(method, "__wrapped__", method)


class PostgresIndexedRecorder(IndexRows, PostgresProcessRecorder):
    """Record events, tracking and index rows atomically in PostgreSQL."""

    dialect = Dialect("%({})s", arrays=True, array_param="%({})b")
    migration_lock = "LOCK TABLE relief_schema IN EXCLUSIVE MODE"

    def create_table(self) -> None:
        with self._schema_lock():
            super().create_table()

    def install(self, component: str, tables: Sequence[Table], migrations: Sequence[Migration]) -> None:
        with self._schema_lock():
            super().install(component, tables, migrations)

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        """Serialise replicas creating or migrating one store at once: concurrent CREATE TABLE IF NOT EXISTS
        statements of the same table collide in PostgreSQL's catalog (a unique violation on pg_type)."""
        with self.datastore.get_connection() as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
                connection.commit()

    insert_events = _once(PostgresApplicationRecorder.insert_events)
    select_events = _once(PostgresAggregateRecorder.select_events)
    select_notifications = _once(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _once(PostgresApplicationRecorder.max_notification_id)
    insert_tracking = _once(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = _once(PostgresTrackingRecorder.max_tracking_id)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking=tracking)
        ops: Sequence[IndexOp] = kwargs.get("index", ())
        apply_ops(curs, self.dialect, ops)


class PostgresIndexedFactory(PostgresFactory):
    """Build PostgreSQL recorders that can write index rows, on connections that cannot hang forever.

    A request must never wait without limit on a database that does not answer and then commit after
    its client gave up: connecting, each statement, and an unacknowledged send all have time limits.
    """

    process_recorder_class = PostgresIndexedRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        kwargs = pool.kwargs
        assert isinstance(kwargs, dict)  # eventsourcing hands the pool a dict of connection arguments
        kwargs.update(connection_limits(self.env))
        if pool._check is not None:  # POSTGRES_PRE_PING: the pool's own check, before it opens
            pool._check = PingIfIdle(pool._check, pool.check)

    def process_recorder(self) -> ProcessRecorder:
        return super().process_recorder()


class PingIfIdle:
    """The pool's check of a connection before it hands it out (pre-ping: one round trip to the server), made
    only if the connection was last handed out `idle_seconds` or more ago.

    The ping is there for a connection that broke while it sat in the pool: the server restarted, or a network
    dropped an idle connection. A connection handed out less than a second ago sat idle less than that, so
    neither can have happened unnoticed (a server restart takes longer, and a connection that failed in use
    is discarded as it is returned). Without the skip, a batch's thousands of short transactions paid a
    round trip each: 16% of a 10,000-household batch (docs/benchmarks.md, section 6).

    A connection that fails its ping is likely not alone (a restart breaks them all), so `sweep` (the pool's
    `check`) then tests every idle one and replaces the broken ones at once. Without it the pool tried them
    one by one, waiting 1, 2, 4 s between tries, and the request ran out of its 5 s and was refused (503)
    after the server was back.
    """

    def __init__(self, ping: Callable[[Any], None], sweep: Callable[[], None] = lambda: None,
                 idle_seconds: float = 1.0):
        self.ping, self.sweep, self.idle_seconds = ping, sweep, idle_seconds
        self._handed: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def __call__(self, connection: Any) -> None:
        now = time.monotonic()
        last = self._handed.get(connection)
        if last is None or now - last >= self.idle_seconds:
            try:
                self.ping(connection)
            except Exception:
                self.sweep()
                raise  # the pool discards this connection and hands out another
        self._handed[connection] = now


def connection_limits(env: Any) -> dict[str, Any]:
    """libpq settings that bound connecting, statements and a silent network (settings.store_env)."""
    statement_ms = int(env.get("POSTGRES_STATEMENT_TIMEOUT_MS") or 10_000)
    return {
        "connect_timeout": int(env.get("POSTGRES_LIBPQ_CONNECT_TIMEOUT") or 3),
        "options": f"-c statement_timeout={statement_ms}",
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": statement_ms,
    }
