"""Consume integration events a poll at a time: the effects of a batch and its positions in one transaction.

Only two things are parked in the dead-letter topic, with the reason: a message that is not a valid
event, and one the handler refuses by name (`EventRefused`). Any other failure stops that partition
at that message: it is retried with backoff, `relief_consumer_stalled` is 1 and the service is not
ready, until it succeeds; the other partitions go on. Nothing is ever skipped silently.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import eventlet
from eventlet.event import Event
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Tracking
from nameko.extensions import Entrypoint

from services.contracts import DEAD_LETTER_TOPIC, EventRefused, InvalidEvent, decode
from services.eventstore import ClaimConflict, IndexedApplication
from services.metrics import (
    CONSUMER_STALLED,
    DEAD_LETTERED,
    DELIVERY_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    PROCESSING_SECONDS,
)
from services.runtime import failpoints
from services.runtime.batch import Batch, Delivery
from services.runtime.lag import LagReporter
from services.runtime.store import EventStore
from services.transport import Fenced, Message, Publisher, PublishFailed, Subscription, transport_for

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, PublishFailed, sqlite3.OperationalError, OSError)
MAX_BACKOFF_SECONDS = 30.0
RECOMMIT_SECONDS = 5.0
Partition = tuple[str, int]


@dataclass
class Stall:
    """A partition stopped at the message its handler failed on."""

    message: Message
    error: str
    attempts: int = 1
    backoff: float = 0.5
    retry_at: float = 0.0


class EventConsumer(Entrypoint):
    """Call the decorated method with a Batch of the deliveries of each poll from `topics`."""

    def __init__(self, topics: Sequence[str], **kwargs: Any):
        super().__init__(expected_exceptions=(EventRefused,), **kwargs)
        self.topics = list(topics)
        self._stopping = False
        self._done = threading.Event()
        self._done.set()
        self._subscription: Subscription | None = None
        self._stalls: dict[Partition, Stall] = {}
        self._fenced: str | None = None
        self._retrying: str | None = None  # why the current batch could not be committed yet
        self._recorded: dict[str, Message] = {}  # per partition, the last message whose position is recorded

    def start(self) -> None:
        self._done.clear()
        self.container.spawn_managed_thread(self._consume_forever)
        self.container.spawn_managed_thread(self._report_lag)

    def stop(self) -> None:
        self._stopping = True
        self._done.wait(10)
        super().stop()

    def kill(self) -> None:
        self._stopping = True

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Ready once the group assigned this replica its partitions, none stalled and not fenced."""
        name = f"consumer:{self.method_name}"
        if self._fenced is not None:
            return {name: {"ok": False, "detail": f"fenced: {self._fenced}"[:300]}}
        if self._stalls:
            stalled = ", ".join(f"{t}:{p}@{s.message.offset}" for (t, p), s in sorted(self._stalls.items()))
            return {name: {"ok": False, "detail": f"stalled at {stalled}"}}
        if self._retrying is not None:
            return {name: {"ok": False, "detail": f"retrying a batch: {self._retrying}"[:300]}}
        assigned = self._subscription.assigned() if self._subscription is not None else None
        if assigned is None:
            return {name: {"ok": False, "detail": "not yet assigned partitions"}}
        return {name: {"ok": True, "detail": f"{len(assigned)} partition(s) assigned"}}

    def _app(self) -> IndexedApplication:
        stores = [d for d in self.container.dependencies if isinstance(d, EventStore)]
        assert len(stores) == 1, "a consuming service needs exactly one EventStore"
        assert stores[0].app is not None
        return stores[0].app

    def _consume_forever(self) -> None:
        try:
            self._consume_until_stopped(self._app())
        except Fenced as exc:
            self._fenced = str(exc)
            log.error("%s was fenced (another process uses its instance id); stopping", self.container.service_name)
            raise  # the container dies, and the runner exits non-zero so its supervisor restarts it
        finally:
            self._done.set()

    def _consume_until_stopped(self, app: IndexedApplication) -> None:
        transport = transport_for(self.container.config["TRANSPORT_URL"])
        self._until_done(lambda: transport.ensure_topics([*self.topics, DEAD_LETTER_TOPIC]), "create topics")
        subscription = transport.subscribe(
            self.container.service_name,
            self.topics,
            lambda t, p: app.position(f"{t}:{p}"),
            instance=self.container.config.get("INSTANCE_ID"),
        )
        self._subscription = subscription
        dead_letters = transport.publisher()
        recommitted = time.monotonic()
        try:
            while not self._stopping:
                self._retry_stalls(app, subscription, dead_letters)
                messages = [m for m in subscription.poll(0.5) if (m.topic, m.partition) not in self._stalls]
                if messages:
                    self._apply(app, messages, subscription, dead_letters)
                if messages or time.monotonic() - recommitted > RECOMMIT_SECONDS:
                    owned = {f"{t}:{p}" for t, p in subscription.assigned() or ()}
                    self._recorded = {name: m for name, m in self._recorded.items() if name in owned}
                    # Kafka's committed offsets (what `kafka-consumer-groups` shows) follow the recorded
                    # positions, never a stalled partition's unapplied messages; committing again now and
                    # then is also how a replica learns it was fenced while it had nothing to read.
                    subscription.commit(list(self._recorded.values()))
                    recommitted = time.monotonic()
        finally:
            self._subscription = None
            subscription.close()
            dead_letters.close()

    def _apply(
        self, app: IndexedApplication, messages: list[Message], subscription: Subscription, dead_letters: Publisher,
        retrying: Partition | None = None,
    ) -> None:
        """Apply messages until each is applied, parked or stalled; retry a commit that conflicts or fails."""
        backoff = 0.2
        while not self._stopping:
            try:
                self._apply_once(app, messages, subscription, dead_letters, retrying)
                self._retrying = None
                return
            except (IntegrityError, ClaimConflict, *TRANSIENT) as exc:  # a concurrent write took what we read
                self._retrying = f"{type(exc).__name__}: {exc}"
                log.warning("could not commit %d message(s) (%s); retrying in %.1fs", len(messages), exc, backoff)
            eventlet.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _apply_once(
        self, app: IndexedApplication, messages: list[Message], subscription: Subscription, dead_letters: Publisher,
        retrying: Partition | None,
    ) -> None:
        remaining = self._unapplied(app, messages, retrying)
        while remaining:
            started = time.perf_counter()
            invalid: dict[int, str] = {}
            valid: list[Delivery] = []
            for message in remaining:
                try:
                    valid.append(Delivery(decode(message.value), message))
                except InvalidEvent as exc:
                    invalid[id(message)] = exc.reason
            batch = Batch(valid)
            error = self._run(batch) if valid else None
            if error is None and valid and not batch.finished:
                error = RuntimeError("the handler returned before applying every delivery of its batch")
            stop = len(remaining) if error is None else remaining.index(valid[batch.current or 0].message)
            done, rest = remaining[:stop], remaining[stop:]
            parked = [(m, "decode", invalid[id(m)]) for m in done if id(m) in invalid]
            if isinstance(error, EventRefused):
                parked.append((rest[0], "handler", error.reason))
                done, rest = [*done, rest[0]], rest[1:]
            elif error is not None:
                failed = rest[0]
                self._stall(subscription, failed, error)
                rest = [m for m in rest[1:] if (m.topic, m.partition) != (failed.topic, failed.partition)]
            events, index = batch.unit.effects_before(None if error is None else (batch.current or 0))
            park(dead_letters, self.container.service_name, parked)
            failpoints.reached("consumer.before_record")
            positions: dict[str, int] = {}
            for message in done:
                positions[message.position_name] = max(message.offset, positions.get(message.position_name, -1))
            if positions:
                app.commit(events, index, [Tracking(name, offset) for name, offset in positions.items()])
                if error is None:  # the whole batch is stored: what it left is what the cache should hold
                    app.remember(batch.unit.aggregates.values())
                for message in done:
                    self._note_recorded(message)
            failpoints.reached("consumer.after_record")
            applied = {id(m) for m in done} - {id(m) for m, _, _ in parked}
            self._count([d for d in valid if id(d.message) in applied], time.perf_counter() - started)
            if batch.resends and valid:
                EVENTS_DUPLICATE.labels(self.container.service_name, valid[0].message.topic).inc(batch.resends)
            remaining = rest

    def _note_recorded(self, message: Message) -> None:
        """Remember the newest message per partition whose position is in the store (for Kafka's offsets)."""
        known = self._recorded.get(message.position_name)
        if known is None or known.offset < message.offset:
            self._recorded[message.position_name] = message

    def _unapplied(self, app: IndexedApplication, messages: list[Message], retrying: Partition | None) -> list[Message]:
        """Drop messages whose position is already recorded (a redelivery) and those of stalled partitions."""
        recorded = {name: app.position(name) for name in {m.position_name for m in messages}}
        fresh = []
        for message in messages:
            partition = (message.topic, message.partition)
            if partition in self._stalls and partition != retrying:
                continue
            last = recorded[message.position_name]
            if last is not None and message.offset <= last:
                EVENTS_DUPLICATE.labels(self.container.service_name, message.topic).inc()
                self._note_recorded(message)
                continue
            fresh.append(message)
        return fresh

    def _run(self, batch: Batch) -> BaseException | None:
        """Run the handler on the batch in a nameko worker; return what it raised, if anything."""
        done = Event()

        def handle_result(worker_ctx: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
            done.send(exc_info[1] if exc_info else None)
            return result, exc_info

        self.container.spawn_worker(self, (batch,), {}, handle_result=handle_result)
        error: BaseException | None = done.wait()
        return error

    def _stall(self, subscription: Subscription, message: Message, error: BaseException) -> None:
        partition = (message.topic, message.partition)
        reason = f"{type(error).__name__}: {error}"[:500]
        stall = self._stalls.get(partition)
        if stall is None:
            stall = self._stalls[partition] = Stall(message, reason)
            subscription.pause(*partition)
            CONSUMER_STALLED.labels(self.container.service_name, message.topic, str(message.partition)).set(1)
        else:
            stall.attempts += 1
            stall.backoff = min(stall.backoff * 2, MAX_BACKOFF_SECONDS)
            stall.error = reason
        stall.retry_at = time.monotonic() + stall.backoff
        log.error(
            "partition %s stalled at offset %d (attempt %d): %s; retrying in %.1fs",
            message.position_name, message.offset, stall.attempts, reason, stall.backoff,
        )

    def _retry_stalls(self, app: IndexedApplication, subscription: Subscription, dead_letters: Publisher) -> None:
        """Retry each stalled partition whose backoff has passed; resume it once its message is done."""
        assigned = subscription.assigned() or set()
        for partition, stall in list(self._stalls.items()):
            if partition not in assigned:  # a rebalance gave it to another replica, which will meet it itself
                self._clear_stall(partition)
                continue
            if time.monotonic() < stall.retry_at:
                continue
            attempts = stall.attempts
            self._apply(app, [stall.message], subscription, dead_letters, retrying=partition)
            if partition in self._stalls and self._stalls[partition].attempts > attempts:
                continue  # failed again; _stall() set the next try
            self._clear_stall(partition)
            subscription.resume(*partition, stall.message.offset + 1)
            log.warning("partition %s resumed after %d attempt(s)", stall.message.position_name, attempts + 1)

    def _clear_stall(self, partition: Partition) -> None:
        self._stalls.pop(partition, None)
        CONSUMER_STALLED.labels(self.container.service_name, partition[0], str(partition[1])).set(0)

    def _count(self, applied: list[Delivery], seconds: float) -> None:
        service = self.container.service_name
        now = datetime.now(UTC)
        for delivery in applied:
            topic = delivery.message.topic
            EVENTS_CONSUMED.labels(service, topic).inc()
            PROCESSING_SECONDS.labels(service, topic).observe(seconds / len(applied))
            age = (now - delivery.envelope.occurred_at).total_seconds()
            DELIVERY_SECONDS.labels(service, topic).observe(max(0.0, age))

    def _report_lag(self) -> None:
        """Every partition's lag from the store's positions, whatever this replica reads (services/runtime/lag.py)."""
        app = self._app()
        reporter = LagReporter(self.container.service_name, self.topics, app.position)
        reporter.run(transport_for(self.container.config["TRANSPORT_URL"]), lambda: self._stopping)

    def _until_done(self, step: Any, what: str) -> None:
        backoff = 0.5
        while not self._stopping:
            try:
                step()
                return
            except Exception as exc:
                self._retrying = f"{what}: {exc}"
                log.warning("could not %s (%s); retrying in %.1fs", what, exc, backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        self._retrying = None


consume = EventConsumer.decorator


def park(dead_letters: Publisher, consumer: str, parked: Sequence[tuple[Message, str, str]]) -> None:
    """Publish each (message, stage, reason) to the dead-letter topic with the reason and where it came from,
    and wait for the broker, before the caller records its position (so a parked message is never lost)."""
    if not parked:
        return
    for message, stage, reason in parked:
        headers = {
            "reason": reason[:1000],
            "stage": stage,
            "consumer": consumer,
            "source-topic": message.topic,
            "source-partition": str(message.partition),
            "source-offset": str(message.offset),
        }
        dead_letters.publish(DEAD_LETTER_TOPIC, message.key or "", message.value or b"", headers)
        log.error("dead-lettered %s@%s (%s): %s", message.position_name, message.offset, stage, reason)
    dead_letters.flush()
    for message, stage, _ in parked:
        DEAD_LETTERED.labels(consumer, message.topic, stage).inc()
