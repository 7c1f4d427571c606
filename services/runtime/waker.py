"""Keep the eventlet hub awake so a service stops within a second of SIGTERM, not a minute."""

from __future__ import annotations

import eventlet
from nameko.extensions import DependencyProvider


class HubWaker(DependencyProvider):
    """Nameko's idle hub sleeps in a 60 s poll; a tick every second lets a stop request through."""

    def __init__(self) -> None:
        self._running = False

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._tick)

    def stop(self) -> None:
        self._running = False

    def _tick(self) -> None:
        while self._running:
            eventlet.sleep(1.0)

    def get_dependency(self, worker_ctx: object) -> None:
        return None
