"""The trail's gauges read from its store at scrape time, the same on every audit replica.

- `relief_trail_checkpoint_age_seconds`: how long ago the newest signed checkpoint was made. Read from the
  store, so a standby reports it too and it keeps growing while no sequencer signs (a dead or stalled one):
  the alert on checkpoint age needs no sequencer alive to fire.
- `relief_trail_checkpoint_size`: the size of that checkpoint; `relief_trail_log_size`: the log's head.

The sequencer's own metrics (entries per topic, rejected sources, append latency, stalled, lease) are in
services/metrics/__init__.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily

from services.metrics.gauges import StoreGauges

if TYPE_CHECKING:
    from services.audit.application import Trail


def trail_families(trail: Trail) -> list[GaugeMetricFamily]:
    families = []
    latest = trail.latest_checkpoint_row()
    if latest is not None:
        age = GaugeMetricFamily("relief_trail_checkpoint_age_seconds",
                                "Seconds since the newest signed checkpoint was made (read from the store)")
        age.add_metric([], max(0.0, time.time() - float(latest["made_at"])))
        size = GaugeMetricFamily("relief_trail_checkpoint_size", "Entries covered by the newest signed checkpoint")
        size.add_metric([], int(latest["size"]))
        families += [age, size]
    head = GaugeMetricFamily("relief_trail_log_size", "Entries in the log (its head, read from the store)")
    head.add_metric([], trail.head().size)
    return [*families, head]


GAUGES = StoreGauges("audit", trail_families, refresh=1.0)
