"""Give each service its event-sourced application, and run its outbox relay beside it (services/runtime/relay.py)."""

from __future__ import annotations

import threading
from typing import Any

from nameko.extensions import DependencyProvider

from services.catalog import entry
from services.eventstore import IndexedApplication, store_env
from services.runtime.batch import Batch
from services.runtime.outbox import Outbound
from services.runtime.readiness import store_answers, transport_reachable
from services.runtime.relay import RelayLoop
from services.transport import transport_for


def exchanges_events(service: str) -> bool:
    """Whether the service publishes or consumes (the gateway does neither: no broker is its concern)."""
    try:
        found = entry(service)
    except KeyError:
        return True
    return bool(found.publishes or found.consumes)


class EventStore(DependencyProvider):
    """Inject the application; if `outbound` is given, publish its events through the transport."""

    def __init__(self, app_cls: type[IndexedApplication], outbound: Outbound | None = None, **settings: str):
        self.app_cls, self.outbound, self.settings = app_cls, outbound, settings
        self.app: IndexedApplication | None = None
        self.relay: RelayLoop | None = None
        self._relay_done = threading.Event()
        self._relay_done.set()

    def setup(self) -> None:
        config = self.container.config
        env = store_env(config["STORE_URL"], config.get("CIPHER_KEY"))
        env.update({name: str(config[key]) for name, key in self.settings.items() if key in config})
        self.app = self.app_cls(env)
        if self.outbound is not None:
            service = self.container.service_name
            replica = str(config.get("REPLICA_ID") or f"{service}-{id(self)}")
            self.relay = RelayLoop(self.app, self.outbound, service, replica)
            self.app.listeners.append(self.relay.wakeup.set)

    def start(self) -> None:
        if self.relay is not None:
            self._relay_done.clear()
            self.container.spawn_managed_thread(self._relay_forever)

    def stop(self) -> None:
        # nameko stops dependencies side by side: one that works on the store in a thread of its own (the
        # trail's sequencer, which releases its lease as it stops) is stopped first, while the store is open.
        for dependant in self.container.dependencies:
            if dependant is not self and getattr(dependant, "stops_before_store", False):
                dependant.stop()
        if self.relay is not None:
            self.relay.stopping = True
            self.relay.wakeup.set()
            self._relay_done.wait(10)
            self.relay.release()
        if self.app is not None:
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
        if transport_url and exchanges_events(self.container.service_name):
            checks["transport"] = transport_reachable(transport_url)
        if self.relay is not None:
            checks["relay"] = self.relay.readiness()
        return checks

    def _relay_forever(self) -> None:
        assert self.relay is not None
        try:
            self.relay.run(transport_for(self.container.config["TRANSPORT_URL"]))
        finally:
            self._relay_done.set()
