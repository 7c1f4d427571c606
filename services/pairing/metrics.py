"""Pairing's own metrics: pairings and visits counted as they are stored, coverage gauges read from the index.

- `relief_pairing_pairings_total{event}`: assigned, reassigned, ended, uncovered (a `CoverageGap`), counted
  by the replica that stored them, once each (after the transaction, never for one that failed).
- `relief_pairing_visits_total{kind}`: routine, follow_up.
- Per top-level federation (the first part of the code, e.g. `gs`; a bounded set, a province has one):
  `relief_pairing_filed_households`, `relief_pairing_paired_households`, `relief_pairing_coverage_ratio`,
  `relief_pairing_uncovered_households`, `relief_pairing_overdue_visits`. They are computed from the index
  at scrape time, at most every REFRESH_SECONDS, so every replica reports the same values (take `max`
  across replicas, never `sum`). A store that cannot be read leaves them out of that scrape (and `/ready`
  says why); the scrape itself never fails.

No label carries a case id, a name or a phone: only event kinds and top-level federation codes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from services.runtime.store import EventStore

if TYPE_CHECKING:
    from services.pairing.application import Pairings

log = logging.getLogger(__name__)

PAIRINGS = Counter("relief_pairing_pairings_total", "Pairings stored, by what happened", ["event"])
VISITS = Counter("relief_pairing_visits_total", "Visits recorded, by kind", ["kind"])
COUNTED = {"Pairing.Assigned": "assigned", "Pairing.Reassigned": "reassigned", "Pairing.Ended": "ended",
           "Pairing.CoverageGap": "uncovered"}
for _event in COUNTED.values():
    PAIRINGS.labels(_event)
for _kind in ("routine", "follow_up"):
    VISITS.labels(_kind)

REFRESH_SECONDS = 15.0
MAX_TOP_LEVELS = 64  # more top-level federations than a country has provinces: the rest are "other"


def count_stored(events: Sequence[Any]) -> None:
    """Count the pairings and visits among events just stored."""
    for event in events:
        name = type(event).__qualname__
        if name in COUNTED:
            PAIRINGS.labels(COUNTED[name]).inc()
        elif name == "Pairing.VisitRecorded":
            VISITS.labels(event.kind if event.kind in ("routine", "follow_up") else "other").inc()


class CoverageGauges(Collector):
    """The coverage gauges of the pairing application this process runs (the latest one started)."""

    def __init__(self) -> None:
        self.sources: list[Pairings] = []
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def attach(self, app: Pairings) -> None:
        with self._lock:
            self.sources.append(app)
            self._cached = None

    def detach(self, app: Pairings) -> None:
        with self._lock:
            if app in self.sources:
                self.sources.remove(app)
            self._cached = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self.sources[-1] if self.sources else None
        if app is None:
            return iter(())
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > REFRESH_SECONDS:
                try:
                    self._cached = (time.monotonic(), self._families(app))
                except Exception as problem:  # the store is down: leave the gauges out, never fail the scrape
                    log.warning("pairing gauges not computed: %s", type(problem).__name__)
                    return iter(())
            return iter(self._cached[1])

    def _families(self, app: Pairings) -> list[GaugeMetricFamily]:
        tops = dict(list(app.by_top_level(app.today()).items())[:MAX_TOP_LEVELS])
        families = []
        for name, key, text in (
            ("relief_pairing_filed_households", "filed", "Households filed today"),
            ("relief_pairing_paired_households", "paired", "Filed households with an active cadre"),
            ("relief_pairing_uncovered_households", "uncovered", "Filed households waiting for a cadre"),
            ("relief_pairing_overdue_visits", "overdue", "Households behind on a due visit (季季访, 回访)"),
        ):
            family = GaugeMetricFamily(name, text, labels=["federation"])
            for top, values in tops.items():
                family.add_metric([top], values[key])
            families.append(family)
        ratio = GaugeMetricFamily("relief_pairing_coverage_ratio", "Paired / filed households (1 when none filed)",
                                  labels=["federation"])
        for top, values in tops.items():
            ratio.add_metric([top], values["paired"] / values["filed"] if values["filed"] else 1.0)
        families.append(ratio)
        return families


GAUGES = CoverageGauges()
REGISTRY.register(GAUGES)


class PairingMetrics(DependencyProvider):
    """Feed this container's Pairings to the process's gauges while the container runs."""

    def __init__(self, store_attribute: str = "pairings") -> None:
        self.store_attribute = store_attribute
        self.app: Pairings | None = None

    def start(self) -> None:
        store = next(d for d in self.container.dependencies
                     if isinstance(d, EventStore) and d.attr_name == self.store_attribute)
        app = cast("Pairings", store.app)  # the service's EventStore(Pairings), set up before start
        self.app = app
        GAUGES.attach(app)

    def stop(self) -> None:
        if self.app is not None:
            GAUGES.detach(self.app)
        self.app = None

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
