"""Publish a service's stored events from its notification log (the outbox), never 'save then send'.

The relay records how far it got only after the transport acknowledged the batch, so a relay
killed at any point resends on restart; the event id is derived from the stored event, so a
consumer recognises the resend. A stored event the service cannot map to its contract stops the
relay at that event (`relief_outbox_stalled` = 1, not ready): it is never skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, Notification, Tracking

from services.contracts import Envelope, encode, topic_for
from services.eventstore import IndexedApplication
from services.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from services.runtime import failpoints
from services.transport import Publisher

log = logging.getLogger(__name__)

OUTBOX_POSITION = "outbox"
POSITION_HEADER = "outbox-position"  # the stored event's notification id, on every message published
# Which store that id counts in: the id of the store's first stored event (another store, or the same
# service re-created on an empty store, counts from 1 again).
ORIGIN_HEADER = "outbox-origin"
FLUSH_SECONDS = 5.0  # well inside the relay's lease, so a slow broker never lets two relays publish at once

# Turn one stored event into its integration event, or None if it is internal to the service.
Outbound = Callable[[IndexedApplication, Notification, datetime], Envelope | None]


class UnmappableEvent(Exception):
    """A stored event the service's outbound mapping fails on: the relay stops there until a fix."""

    def __init__(self, notification_id: int, error: Exception):
        super().__init__(f"stored event {notification_id} cannot be published: {type(error).__name__}: {error}")
        self.notification_id = notification_id


class OutboxRelay:
    def __init__(
        self,
        app: IndexedApplication,
        publisher: Publisher,
        outbound: Outbound,
        service: str,
        batch: int = 200,
        published: dict[int, int] | None = None,
    ):
        """`published`: per partition, the newest notification id already on the topic (read when this
        relay took over), so a batch its predecessor sent but could not mark is not sent twice."""
        self.app, self.publisher, self.outbound = app, publisher, outbound
        self.service, self.batch = service, batch
        self.topic = topic_for(service)
        self.published = dict(published or {})
        self._origin: str | None = None
        self._unmarked: tuple[int, int] | None = None  # a batch sent but not acknowledged: its last id, how many

    def publish_pending(self) -> int:
        """Publish the next batch of stored events; return how many stored events it covered. A batch whose
        flush timed out with its messages still queued is finished first, by flushing again: never resent."""
        if self._unmarked is not None:
            self._finish()
        done = self.app.position(OUTBOX_POSITION) or 0
        notifications = self.app.process_recorder.select_notifications(
            start=done, limit=self.batch, inclusive_of_start=False
        )
        if not notifications:
            OUTBOX_BACKLOG.labels(self.service).set(0)
            return 0
        failpoints.reached("outbox.before_publish")
        now = datetime.now(UTC)
        envelopes: list[tuple[Notification, Envelope | None]] = []
        unmappable: UnmappableEvent | None = None
        for notification in notifications:
            try:
                envelopes.append((notification, self.outbound(self.app, notification, now)))
            except Exception as exc:
                unmappable = UnmappableEvent(notification.id, exc)  # publish what comes before it, then stop
                break
        if envelopes:
            self._send(envelopes)
        if unmappable is not None:
            raise unmappable
        return len(notifications)

    def _send(self, envelopes: list[tuple[Notification, Envelope | None]]) -> None:
        """Publish the mapped events, wait for the broker, then mark them sent."""
        sent = 0
        for notification, envelope in envelopes:
            if envelope is not None and not self._already_sent(notification.id, envelope.case_id):
                headers = {"event-type": envelope.type, "event-id": envelope.event_id,
                           POSITION_HEADER: str(notification.id), ORIGIN_HEADER: self.origin}
                self.publisher.publish(self.topic, envelope.case_id, encode(envelope), headers)
                sent += 1
        self._unmarked = (envelopes[-1][0].id, sent)
        self._finish()

    def _finish(self) -> None:
        """Wait for the sent batch's acknowledgements, then mark it sent. A flush that leaves the messages
        queued (PublishFailed.pending) leaves the batch unmarked, for the next call to finish."""
        assert self._unmarked is not None
        last, sent = self._unmarked
        self.publisher.flush(FLUSH_SECONDS)
        self._unmarked = None
        failpoints.reached("outbox.after_flush")
        try:
            self.app.process_recorder.insert_tracking(Tracking(OUTBOX_POSITION, last))
        except IntegrityError:
            # Another relay of this service got there first: its consumers see duplicates, not gaps.
            log.warning("outbox position %s already passed by another relay", last)
        EVENTS_PUBLISHED.labels(self.service, self.topic).inc(sent)
        if self.published and last >= max(self.published.values()):
            self.published = {}  # past everything the predecessor sent
        outbox_backlog(self.app, self.service)

    @property
    def origin(self) -> str:
        """The store's origin, read once it has one (an empty store has none yet)."""
        if not self._origin:
            self._origin = store_origin(self.app)
        return self._origin

    def skip_what_is_on(self, transport: Any) -> None:
        """Read the newest message of each partition, and skip what relays of this store already sent."""
        if self.origin:
            self.published = published_positions(transport, self.topic, self.origin)

    def _already_sent(self, notification_id: int, key: str) -> bool:
        if not self.published:
            return False
        return notification_id <= self.published.get(self.publisher.partition_for(self.topic, key), 0)


def published_positions(transport: Any, topic: str, origin: str) -> dict[int, int]:
    """Per partition, the notification id of the newest message a relay of the store `origin` published."""
    found = {}
    for partition, headers in transport.last_headers(topic).items():
        if headers.get(ORIGIN_HEADER) == origin and headers.get(POSITION_HEADER, "").isdigit():
            found[partition] = int(headers[POSITION_HEADER])
    return found


def store_origin(app: IndexedApplication) -> str:
    """The id of the store's first stored event: what the notification ids of this store count from."""
    first = app.process_recorder.select_notifications(start=None, limit=1)
    return f"{first[0].originator_id}:{first[0].originator_version}" if first else ""


def outbox_backlog(app: IndexedApplication, service: str) -> int:
    """Count the stored events not yet published, from the store alone (true while the broker is down)."""
    done = app.position(OUTBOX_POSITION) or 0
    newest = app.process_recorder.max_notification_id() or 0
    backlog = max(0, newest - done)
    OUTBOX_BACKLOG.labels(service).set(backlog)
    return backlog
