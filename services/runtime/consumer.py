"""Consume integration events: one worker per event, its effect and position saved together.

A message that cannot be decoded, or whose handler rejects it, goes to the dead-letter topic with
the reason and the consumer moves on; a store or broker outage is retried, never dead-lettered.
"""

from __future__ import annotations

import contextlib
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

from services.contracts import DEAD_LETTER_TOPIC, Envelope, InvalidEvent, decode
from services.eventstore import IndexedApplication
from services.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERED,
    DELIVERY_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    PROCESSING_SECONDS,
)
from services.runtime import failpoints
from services.runtime.store import EventStore
from services.transport import Message, Publisher, PublishFailed, transport_for

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, PublishFailed, sqlite3.OperationalError)


@dataclass(frozen=True)
class Delivery:
    """What a handler gets: the validated event and the position to record with its effect."""

    envelope: Envelope
    tracking: Tracking


class EventConsumer(Entrypoint):
    """Call the decorated method with each Delivery from `topics`, one at a time, in order."""

    def __init__(self, topics: Sequence[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.topics = list(topics)
        self._stopping = False
        self._done = threading.Event()
        self._done.set()
        self._lag_reported: set[tuple[str, int]] = set()

    def start(self) -> None:
        self._done.clear()
        self.container.spawn_managed_thread(self._consume_forever)

    def stop(self) -> None:
        self._stopping = True
        self._done.wait(10)
        super().stop()

    def kill(self) -> None:
        self._stopping = True

    def _app(self) -> IndexedApplication:
        stores = [d for d in self.container.dependencies if isinstance(d, EventStore)]
        assert len(stores) == 1, "a consuming service needs exactly one EventStore"
        assert stores[0].app is not None
        return stores[0].app

    def _consume_forever(self) -> None:
        try:
            app = self._app()
            transport = transport_for(self.container.config["TRANSPORT_URL"])
            transport.ensure_topics([*self.topics, DEAD_LETTER_TOPIC])
            subscription = transport.subscribe(
                self.container.service_name,
                self.topics,
                lambda t, p: app.position(f"{t}:{p}"),
                instance=self.container.config.get("INSTANCE_ID"),
            )
            dead_letters = transport.publisher()
            try:
                while not self._stopping:
                    messages = subscription.poll(0.5)
                    for message in messages:
                        failpoints.reached("consumer.before_record")
                        self._process(app, message, dead_letters)
                        failpoints.reached("consumer.after_record")
                    subscription.commit(messages)
                    self._report_lag(subscription.lag())
            finally:
                subscription.close()
                dead_letters.close()
        finally:
            self._done.set()

    def _report_lag(self, lags: dict[tuple[str, int], int]) -> None:
        """Export the lag of the partitions this replica reads; drop those a rebalance took away."""
        service = self.container.service_name
        for topic, partition in self._lag_reported - set(lags):
            CONSUMER_LAG.remove(service, topic, str(partition))
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(service, topic, str(partition)).set(lag)
        self._lag_reported = set(lags)

    def _process(self, app: IndexedApplication, message: Message, dead_letters: Publisher) -> None:
        """Process one message until it has an outcome: done, duplicate or dead-lettered."""
        service = self.container.service_name
        tracking = Tracking(message.position_name, message.offset)
        backoff = 0.2
        while not self._stopping:
            started = time.perf_counter()
            try:
                envelope = decode(message.value)
            except InvalidEvent as exc:
                self._dead_letter(app, message, dead_letters, "decode", exc.reason, tracking)
                return
            try:
                added = self._handle(Delivery(envelope, tracking))
            except IntegrityError:
                if (app.position(message.position_name) or -1) >= message.offset:
                    EVENTS_DUPLICATE.labels(service, message.topic).inc()
                    return
                log.warning("write conflict on %s; retrying", message.position_name)
            except TRANSIENT as exc:
                log.warning("transient failure on %s: %s; retrying in %.1fs", message.position_name, exc, backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:  # the handler refused this event: park it, do not stop
                reason = f"{type(exc).__name__}: {exc}"
                self._dead_letter(app, message, dead_letters, "handler", reason, tracking)
                return
            else:
                if added is False:  # the handler recognised an event it already had (a resend)
                    EVENTS_DUPLICATE.labels(service, message.topic).inc()
                EVENTS_CONSUMED.labels(service, message.topic).inc()
                PROCESSING_SECONDS.labels(service, message.topic).observe(time.perf_counter() - started)
                age = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
                DELIVERY_SECONDS.labels(service, message.topic).observe(max(0.0, age))
                return

    def _handle(self, delivery: Delivery) -> Any:
        done = Event()

        def handle_result(worker_ctx: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
            done.send(result, exc_info)
            return result, exc_info

        self.container.spawn_worker(self, (delivery,), {}, handle_result=handle_result)
        return done.wait()

    def _dead_letter(
        self,
        app: IndexedApplication,
        message: Message,
        dead_letters: Publisher,
        stage: str,
        reason: str,
        tracking: Tracking,
    ) -> None:
        headers = {
            "reason": reason[:1000],
            "stage": stage,
            "consumer": self.container.service_name,
            "source-topic": message.topic,
            "source-partition": str(message.partition),
            "source-offset": str(message.offset),
        }
        while True:
            try:
                dead_letters.publish(DEAD_LETTER_TOPIC, message.key or "", message.value or b"", headers)
                dead_letters.flush()
                break
            except PublishFailed as exc:
                log.warning("dead-letter publish failed: %s; retrying", exc)
                eventlet.sleep(1.0)
        with contextlib.suppress(IntegrityError):  # redelivered after an earlier run parked it already
            app.record(tracking=tracking)
        DEAD_LETTERED.labels(self.container.service_name, message.topic, stage).inc()
        log.error("dead-lettered %s@%s (%s): %s", message.position_name, message.offset, stage, reason)


consume = EventConsumer.decorator
