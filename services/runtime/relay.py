"""Run a service's outbox relay: publish while holding the service's lease, stand by otherwise.

Every replica of a producing service serves requests; exactly one relay publishes at a time: the one
holding the service's lease in the store it shares with the others. A standby takes the lease over
within `LEASE_SECONDS` + `STANDBY_POLL_SECONDS` of the active relay dying, and first reads what the topic
already holds of its store, so nothing is sent twice.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import eventlet

from services.contracts import topic_for
from services.eventstore import IndexedApplication
from services.metrics import OUTBOX_STALLED, RELAY_FAILURES, RELAY_LEADER
from services.runtime.outbox import Outbound, OutboxRelay, UnmappableEvent, outbox_backlog
from services.transport import PublishFailed, Transport

log = logging.getLogger(__name__)

# After a save wakes the relay, wait this long for more before publishing (like Kafka's linger.ms):
# one batch and one commit for many requests, at the cost of a few milliseconds of latency.
LINGER_SECONDS = 0.02
LEASE_SECONDS = 10.0  # a relay that has not renewed its lease for this long is presumed dead
RENEW_SECONDS = 2.0  # the active relay renews this often (and before any batch after that)
STANDBY_POLL_SECONDS = 1.0  # a standby asks for the lease this often
MAX_BACKOFF_SECONDS = 2.0  # a relay retries at least this often, so it publishes within seconds of a recovery


class RelayLoop:
    """The relay of one replica: its lease, its retries, and what /ready says about it."""

    def __init__(self, app: IndexedApplication, outbound: Outbound, service: str, replica: str):
        self.app, self.outbound, self.service, self.replica = app, outbound, service, replica
        self.wakeup = threading.Event()
        self.stopping = False
        self.leader = False
        self._renewed = 0.0
        self._lease_problem: str | None = None  # why the lease cannot be held or renewed
        self._publish_problem: str | None = None  # why the held lease cannot publish

    def readiness(self) -> dict[str, Any]:
        problem = self._lease_problem or self._publish_problem
        if problem is not None:
            return {"ok": False, "detail": problem[:300]}
        role = "active (holds the lease)" if self.leader else "standby (another replica publishes)"
        return {"ok": True, "detail": role}

    def run(self, transport: Transport) -> None:
        """Publish until stopped; every failure is retried with backoff and shown, never given up on."""
        relay: OutboxRelay | None = None
        backoff = 0.5
        while not self.stopping:
            self.wakeup.clear()
            if not self._hold_lease():
                _closed(relay)  # whoever holds the lease now publishes
                relay = None
                self.wakeup.wait(STANDBY_POLL_SECONDS)
                continue
            try:
                if relay is None:
                    relay = self._resumed_relay(transport)
                covered = relay.publish_pending()
            except Exception as exc:
                self._failed(exc, backoff)
                if not isinstance(exc, UnmappableEvent) and not getattr(exc, "pending", False):
                    # Start again from what the topic holds. A flush that left its messages queued keeps
                    # this relay and its producer instead: they are still being delivered (once each), and
                    # a new producer would send them a second time.
                    _closed(relay)
                    relay = None
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if self._publish_problem is not None:
                log.warning("outbox relay of %s publishes again", self.service)
                self._publish_problem = None
                OUTBOX_STALLED.labels(self.service).set(0)
            backoff = 0.5
            if covered < relay.batch and self.wakeup.wait(0.5):
                eventlet.sleep(LINGER_SECONDS)
        _closed(relay)

    def release(self) -> None:
        """Give the lease up (a clean stop), so a standby need not wait for it to expire."""
        if not self.leader:
            return
        try:
            self.app.release_lease(self._lease_name, self.replica)
        except Exception as exc:
            log.warning("could not release the relay lease of %s: %s", self.service, exc)
        self.leader = False

    @property
    def _lease_name(self) -> str:
        return f"outbox:{self.service}"

    def _resumed_relay(self, transport: Transport) -> OutboxRelay:
        topic = topic_for(self.service)
        transport.ensure_topics([topic])
        relay = OutboxRelay(self.app, transport.publisher(), self.outbound, self.service)
        relay.skip_what_is_on(transport)
        return relay

    def _failed(self, exc: Exception, backoff: float) -> None:
        """Make a failing relay visible: the reason in /ready, a counter, the stalled gauge for a bad event."""
        if isinstance(exc, UnmappableEvent):
            reason = "mapping"
            OUTBOX_STALLED.labels(self.service).set(1)
        elif isinstance(exc, PublishFailed):
            reason = "broker"
        else:
            reason = "store"
        RELAY_FAILURES.labels(self.service, reason).inc()
        self._publish_problem = f"{reason}: {type(exc).__name__}: {exc}"
        log.error("outbox relay of %s failed (%s): %s; retrying in %.1fs", self.service, reason, exc, backoff)
        if reason != "store":
            try:  # the store still answers: keep the backlog gauge true while the broker is down
                outbox_backlog(self.app, self.service)
            except Exception as store_error:
                log.warning("outbox backlog of %s unknown: %s", self.service, store_error)

    def _hold_lease(self) -> bool:
        """Hold the service's publishing lease, renewing it every RENEW_SECONDS; False on a standby."""
        now = time.monotonic()
        if self.leader and now - self._renewed < RENEW_SECONDS:
            return True
        try:
            held = self.app.acquire_lease(self._lease_name, self.replica, LEASE_SECONDS)
            self._lease_problem = None
        except Exception as exc:
            RELAY_FAILURES.labels(self.service, "store").inc()
            self._lease_problem = f"store: cannot renew the relay's lease: {type(exc).__name__}: {exc}"
            held = False
        if held != self.leader:
            log.warning("outbox relay of %s is now %s", self.service, "active" if held else "standby")
        self.leader = held
        if held:
            self._renewed = now
        RELAY_LEADER.labels(self.service).set(1 if held else 0)
        return held


def _closed(relay: OutboxRelay | None) -> None:
    """Close the relay's publisher, if any; the caller then has no relay."""
    if relay is not None:
        relay.publisher.close()

