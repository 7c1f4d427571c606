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

from eventsourcing.persistence import IntegrityError, Notification, Tracking

from services.contracts import Envelope, encode, topic_for
from services.eventstore import IndexedApplication
from services.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG
from services.runtime import failpoints
from services.transport import Publisher

log = logging.getLogger(__name__)

OUTBOX_POSITION = "outbox"
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
        self, app: IndexedApplication, publisher: Publisher, outbound: Outbound, service: str, batch: int = 200
    ):
        self.app, self.publisher, self.outbound = app, publisher, outbound
        self.service, self.batch = service, batch
        self.topic = topic_for(service)

    def publish_pending(self) -> int:
        """Publish the next batch of stored events; return how many stored events it covered."""
        done = self.app.position(OUTBOX_POSITION) or 0
        notifications = self.app.process_recorder.select_notifications(
            start=done, limit=self.batch, inclusive_of_start=False
        )
        if not notifications:
            OUTBOX_BACKLOG.labels(self.service).set(0)
            return 0
        failpoints.reached("outbox.before_publish")
        now = datetime.now(UTC)
        sent = 0
        for notification in notifications:
            try:
                envelope = self.outbound(self.app, notification, now)
            except Exception as exc:
                raise UnmappableEvent(notification.id, exc) from exc
            if envelope is not None:
                headers = {"event-type": envelope.type, "event-id": envelope.event_id}
                self.publisher.publish(self.topic, envelope.case_id, encode(envelope), headers)
                sent += 1
        self.publisher.flush(FLUSH_SECONDS)
        failpoints.reached("outbox.after_flush")
        try:
            self.app.process_recorder.insert_tracking(Tracking(OUTBOX_POSITION, notifications[-1].id))
        except IntegrityError:
            # Another relay of this service got there first: its consumers see duplicates, not gaps.
            log.warning("outbox position %s already passed by another relay", notifications[-1].id)
        EVENTS_PUBLISHED.labels(self.service, self.topic).inc(sent)
        outbox_backlog(self.app, self.service)
        return len(notifications)


def outbox_backlog(app: IndexedApplication, service: str) -> int:
    """Count the stored events not yet published, from the store alone (true while the broker is down)."""
    done = app.position(OUTBOX_POSITION) or 0
    newest = app.process_recorder.max_notification_id() or 0
    backlog = max(0, newest - done)
    OUTBOX_BACKLOG.labels(service).set(backlog)
    return backlog
