"""Gauges read from a service's index at scrape time: one collector per service, fed by its running app.

A `StoreGauges` collector computes its families from the application this process runs (the latest one
started), at most every `refresh` seconds, so every replica reports the same values (take `max` across
replicas, never `sum`). A store that cannot be read leaves the gauges out of that scrape (and `/ready`
says why); the scrape itself never fails. `GaugeFeed` is the nameko dependency that attaches the
service's application while its container runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

Families = Callable[[Any], list[GaugeMetricFamily]]  # application -> the gauges' current families


class StoreGauges(Collector):
    def __init__(self, name: str, families: Families, refresh: float = 15.0) -> None:
        self.name, self.families, self.refresh = name, families, refresh
        self.sources: list[Any] = []
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None
        REGISTRY.register(self)

    def attach(self, app: Any) -> None:
        with self._lock:
            self.sources.append(app)
            self._cached = None

    def detach(self, app: Any) -> None:
        with self._lock:
            if app in self.sources:
                self.sources.remove(app)
            self._cached = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self.sources[-1] if self.sources else None
        if app is None:
            return iter(())
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.refresh:
                try:
                    self._cached = (time.monotonic(), self.families(app))
                except Exception as problem:  # the store is down: leave the gauges out, never fail the scrape
                    log.warning("%s gauges not computed: %s", self.name, type(problem).__name__)
                    return iter(())
            return iter(self._cached[1])


class GaugeFeed(DependencyProvider):
    """Feed this container's application (its `EventStore` dependency named `store_attribute`) to gauges."""

    def __init__(self, gauges: StoreGauges, store_attribute: str) -> None:
        self.gauges, self.store_attribute = gauges, store_attribute
        self.app: Any = None

    def start(self) -> None:
        store = next(d for d in self.container.dependencies
                     if getattr(d, "attr_name", None) == self.store_attribute and hasattr(d, "app"))
        self.app = store.app  # the service's EventStore(...), set up before start
        self.gauges.attach(self.app)

    def stop(self) -> None:
        if self.app is not None:
            self.gauges.detach(self.app)
        self.app = None

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
