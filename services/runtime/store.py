"""Give each service its event-sourced application, and run its outbox relay beside it.

Every replica of a producing service serves requests; exactly one relay publishes at a time: the one
holding the service's lease in the store it shares with the others. A standby takes the lease over
within `LEASE_SECONDS` + `STANDBY_POLL_SECONDS` of the active relay dying.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider

from services.contracts import topic_for
from services.eventstore import IndexedApplication, store_env
from services.metrics import OUTBOX_STALLED, RELAY_FAILURES, RELAY_LEADER
from services.runtime.batch import Batch
from services.runtime.outbox import (
    Outbound,
    OutboxRelay,
    UnmappableEvent,
    outbox_backlog,
    published_positions,
    store_origin,
)
from services.runtime.readiness import store_answers, transport_reachable
from services.transport import PublishFailed, transport_for

log = logging.getLogger(__name__)

# After a save wakes the relay, wait this long for more before publishing (like Kafka's linger.ms):
# one batch and one commit for many requests, at the cost of a few milliseconds of latency.
LINGER_SECONDS = 0.02
LEASE_SECONDS = 10.0  # a relay that has not renewed its lease for this long is presumed dead
RENEW_SECONDS = 2.0  # the active relay renews this often (and before any batch after that)
STANDBY_POLL_SECONDS = 1.0  # a standby asks for the lease this often
MAX_BACKOFF_SECONDS = 2.0  # a relay retries at least this often, so it publishes within seconds of a recovery
LEASE_PROBLEM = "store: cannot renew the relay's lease: "


class EventStore(DependencyProvider):
    """Inject the application; if `outbound` is given, publish its events through the transport."""

    def __init__(self, app_cls: type[IndexedApplication], outbound: Outbound | None = None, **settings: str):
        self.app_cls, self.outbound, self.settings = app_cls, outbound, settings
        self.app: IndexedApplication | None = None
        self._stopping = False
        self._wakeup = threading.Event()
        self._relay_done = threading.Event()
        self._relay_done.set()
        self._leader = False
        self._renewed = 0.0
        self._relay_problem: str | None = None  # why the relay cannot publish right now

    def setup(self) -> None:
        config = self.container.config
        env = store_env(config["STORE_URL"], config.get("CIPHER_KEY"))
        env.update({name: str(config[key]) for name, key in self.settings.items() if key in config})
        self.app = self.app_cls(env)
        self.app.listeners.append(self._wakeup.set)

    def start(self) -> None:
        if self.outbound is not None:
            self._relay_done.clear()
            self.container.spawn_managed_thread(self._relay_forever)

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        self._relay_done.wait(10)
        if self.app is not None:
            if self._leader:
                self._release_lease()
            self.app.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> IndexedApplication:
        assert self.app is not None
        return self.app

    def worker_setup(self, worker_ctx: Any) -> None:
        """A consumer's worker applies its batch into the batch's unit of work (committed by the consumer)."""
        if self.app is not None and worker_ctx.args and isinstance(worker_ctx.args[0], Batch):
            self.app.bind(worker_ctx.args[0].unit)

    def worker_teardown(self, worker_ctx: Any) -> None:
        if self.app is not None and worker_ctx.args and isinstance(worker_ctx.args[0], Batch):
            self.app.bind(None)

    def readiness(self) -> dict[str, dict[str, Any]]:
        checks = {"store": store_answers(self.app)}
        transport_url = self.container.config.get("TRANSPORT_URL")
        if transport_url:
            checks["transport"] = transport_reachable(transport_url)
        if self.outbound is not None:
            if self._relay_problem is not None:
                checks["relay"] = {"ok": False, "detail": self._relay_problem[:300]}
            else:
                role = "active (holds the lease)" if self._leader else "standby (another replica publishes)"
                checks["relay"] = {"ok": True, "detail": role}
        return checks

    def _relay_forever(self) -> None:
        assert self.app is not None and self.outbound is not None
        try:
            self._relay_until_stopped(self.container.service_name)
        finally:
            self._relay_done.set()

    def _relay_until_stopped(self, service: str) -> None:
        assert self.app is not None and self.outbound is not None
        transport = transport_for(self.container.config["TRANSPORT_URL"])
        relay: OutboxRelay | None = None
        backoff = 0.5
        while not self._stopping:
            self._wakeup.clear()
            if not self._hold_lease(service):
                if relay is not None:  # lost the lease: whoever holds it now publishes
                    relay.publisher.close()
                    relay = None
                self._wakeup.wait(STANDBY_POLL_SECONDS)
                continue
            try:
                if relay is None:
                    topic = topic_for(service)
                    transport.ensure_topics([topic])
                    origin = store_origin(self.app)
                    published = published_positions(transport, topic, origin) if origin else {}
                    relay = OutboxRelay(self.app, transport.publisher(), self.outbound, service, published=published)
                covered = relay.publish_pending()
            except Exception as exc:
                self._relay_failed(service, exc, backoff)
                if relay is not None and not isinstance(exc, UnmappableEvent):
                    # Start again from what the topic holds: messages the failed flush left queued in the
                    # producer may still have gone out, and must not go out twice.
                    relay.publisher.close()
                    relay = None
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            if self._relay_problem is not None:
                log.warning("outbox relay of %s publishes again", service)
                self._relay_problem = None
                OUTBOX_STALLED.labels(service).set(0)
            backoff = 0.5
            if covered < relay.batch and self._wakeup.wait(0.5):
                eventlet.sleep(LINGER_SECONDS)
        if relay is not None:
            relay.publisher.close()

    def _relay_failed(self, service: str, exc: Exception, backoff: float) -> None:
        """Make a failing relay visible: the reason in /ready, a counter, the stalled gauge for a bad event."""
        if isinstance(exc, UnmappableEvent):
            reason = "mapping"
            OUTBOX_STALLED.labels(service).set(1)
        elif isinstance(exc, PublishFailed):
            reason = "broker"
        else:
            reason = "store"
        RELAY_FAILURES.labels(service, reason).inc()
        self._relay_problem = f"{reason}: {type(exc).__name__}: {exc}"
        log.error("outbox relay of %s failed (%s): %s; retrying in %.1fs", service, reason, exc, backoff)
        if self.app is not None and reason != "store":
            try:  # the store still answers: keep the backlog gauge true while the broker is down
                outbox_backlog(self.app, service)
            except Exception as store_error:
                log.warning("outbox backlog of %s unknown: %s", service, store_error)

    def _hold_lease(self, service: str) -> bool:
        """Hold the service's publishing lease, renewing it every RENEW_SECONDS; False on a standby."""
        assert self.app is not None
        now = time.monotonic()
        if self._leader and now - self._renewed < RENEW_SECONDS:
            return True
        instance = self._replica()
        try:
            held = self.app.acquire_lease(f"outbox:{service}", instance, LEASE_SECONDS)
        except Exception as exc:
            RELAY_FAILURES.labels(service, "store").inc()
            self._relay_problem = f"{LEASE_PROBLEM}{type(exc).__name__}: {exc}"
            held = False
        else:
            if self._relay_problem is not None and self._relay_problem.startswith(LEASE_PROBLEM):
                self._relay_problem = None
        if held != self._leader:
            log.warning("outbox relay of %s is now %s", service, "active" if held else "standby")
        self._leader = held
        if held:
            self._renewed = now
        RELAY_LEADER.labels(service).set(1 if held else 0)
        return held

    def _replica(self) -> str:
        config = self.container.config
        return str(config.get("REPLICA_ID") or f"{self.container.service_name}-{id(self)}")

    def _release_lease(self) -> None:
        assert self.app is not None
        service = self.container.service_name
        try:
            self.app.release_lease(f"outbox:{service}", self._replica())
        except Exception as exc:
            log.warning("could not release the relay lease of %s: %s", service, exc)
        self._leader = False
