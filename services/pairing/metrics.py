"""Pairing's own metrics: pairings and visits counted as they are stored, coverage gauges read from the index.

- `relief_pairing_pairings_total{event}`: assigned, reassigned, ended, uncovered (a `CoverageGap`), counted
  by the replica that stored them, once each (after the transaction, never for one that failed).
- `relief_pairing_visits_total{kind}`: routine, follow_up.
- Per top-level federation (the first part of the code, e.g. `gs`; a bounded set, a province has one):
  `relief_pairing_filed_households`, `relief_pairing_paired_households`, `relief_pairing_coverage_ratio`,
  `relief_pairing_uncovered_households`, `relief_pairing_overdue_visits`. They are computed from the index
  at scrape time (services/metrics/gauges.py: at most every 15 s, the same on every replica), from four
  columns of every case row; a household whose row has not changed since the last count keeps its part
  (services/pairing/index.py `Tally`), so a scrape costs a read of the rows, not a recount of each one.

No label carries a case id, a name or a phone: only event kinds and top-level federation codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from services.metrics.gauges import StoreGauges

if TYPE_CHECKING:
    from services.pairing.application import Pairings

PAIRINGS = Counter("relief_pairing_pairings_total", "Pairings stored, by what happened", ["event"])
VISITS = Counter("relief_pairing_visits_total", "Visits recorded, by kind", ["kind"])
COUNTED = {"Pairing.Assigned": "assigned", "Pairing.Reassigned": "reassigned", "Pairing.Ended": "ended",
           "Pairing.CoverageGap": "uncovered"}
for _event in COUNTED.values():
    PAIRINGS.labels(_event)
for _kind in ("routine", "follow_up"):
    VISITS.labels(_kind)

MAX_TOP_LEVELS = 64  # more top-level federations than a country has provinces: the rest are "other"


def count_stored(events: Sequence[Any]) -> None:
    """Count the pairings and visits among events just stored."""
    for event in events:
        name = type(event).__qualname__
        if name in COUNTED:
            PAIRINGS.labels(COUNTED[name]).inc()
        elif name == "Pairing.VisitRecorded":
            VISITS.labels(event.kind if event.kind in ("routine", "follow_up") else "other").inc()


def coverage_families(app: Pairings) -> list[GaugeMetricFamily]:
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


GAUGES = StoreGauges("pairing", coverage_families)

