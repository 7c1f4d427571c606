"""Give each service its event-sourced application, and run its outbox relay beside it."""

from __future__ import annotations

import logging
import threading
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider

from services.contracts import topic_for
from services.eventstore import IndexedApplication, store_env
from services.runtime.outbox import Outbound, OutboxRelay
from services.transport import transport_for

log = logging.getLogger(__name__)

# After a save wakes the relay, wait this long for more before publishing (like Kafka's linger.ms):
# one batch and one commit for many requests, at the cost of a few milliseconds of latency.
LINGER_SECONDS = 0.02


class EventStore(DependencyProvider):
    """Inject the application; if `outbound` is given, publish its events through the transport."""

    def __init__(self, app_cls: type[IndexedApplication], outbound: Outbound | None = None, **settings: str):
        self.app_cls, self.outbound, self.settings = app_cls, outbound, settings
        self.app: IndexedApplication | None = None
        self._stopping = False
        self._wakeup = threading.Event()
        self._relay_done = threading.Event()
        self._relay_done.set()

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
            self.app.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> IndexedApplication:
        assert self.app is not None
        return self.app

    def _relay_forever(self) -> None:
        assert self.app is not None and self.outbound is not None
        service = self.container.service_name
        transport = transport_for(self.container.config["TRANSPORT_URL"])
        try:
            self._relay_until_stopped(service, transport)
        finally:
            self._relay_done.set()

    def _relay_until_stopped(self, service: str, transport: Any) -> None:
        assert self.app is not None and self.outbound is not None
        relay: OutboxRelay | None = None
        backoff = 0.5
        while not self._stopping:
            self._wakeup.clear()
            try:
                if relay is None:
                    transport.ensure_topics([topic_for(service)])
                    relay = OutboxRelay(self.app, transport.publisher(), self.outbound, service)
                covered = relay.publish_pending()
                backoff = 0.5
            except Exception:
                log.exception("outbox relay of %s failed; retrying in %.1fs", service, backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if covered < relay.batch and self._wakeup.wait(0.5):
                eventlet.sleep(LINGER_SECONDS)
        if relay is not None:
            relay.publisher.close()
