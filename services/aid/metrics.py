"""Aid's own metrics: money counted as it is stored, budget remaining read from the index.

- `relief_aid_requested_yuan_total{kind}`, `relief_aid_paid_yuan_total{kind}`, `relief_aid_reversed_yuan_total{kind}`:
  yuan requested, paid (money paid, goods handed over) and reversed, by program kind, counted by the
  replica that stored them, once each (after the transaction, never for one that failed).
- `relief_aid_referrals_total`, `relief_aid_hires_total`: job referrals made and hires recorded.
- `relief_aid_budget_remaining_yuan{federation, kind}`: per top-level federation (the first part of the
  code) and program kind, what is left of this year's budgets (services/metrics/gauges.py: read from the
  index at scrape time, the same on every replica); `relief_aid_budget_allocated_yuan{federation, kind}`: what
  those budgets were given in all (the share left is remaining / allocated).

No label carries a case id, a name or an ID number: only program kinds and top-level federation codes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from services.aid.domain import KINDS
from services.aid.index import figures
from services.aid.money import as_yuan
from services.metrics.gauges import StoreGauges

if TYPE_CHECKING:
    from services.aid.application import Aids

REQUESTED = Counter("relief_aid_requested_yuan_total", "Yuan of aid requested, by program kind", ["kind"])
PAID = Counter("relief_aid_paid_yuan_total", "Yuan of aid paid (or goods handed over), by program kind", ["kind"])
REVERSED = Counter("relief_aid_reversed_yuan_total", "Yuan of aid recovered after payment, by program kind", ["kind"])
REFERRALS = Counter("relief_aid_referrals_total", "Job referrals made (就业推介)")
HIRES = Counter("relief_aid_hires_total", "Referrals that ended in a hire")
MONEY = {"Disbursement.Requested": REQUESTED, "Disbursement.Paid": PAID, "Disbursement.Reversed": REVERSED}
for _counter in MONEY.values():
    for _kind in KINDS:
        _counter.labels(_kind)
MAX_TOP_LEVELS = 64  # more top-level federations than a country has provinces


def count_stored(events: Iterable[Any]) -> None:
    """Count the money, referrals and hires among events just stored."""
    for event in events:
        name = type(event).__qualname__
        counter = MONEY.get(name)
        if counter is not None:
            counter.labels(event.kind if event.kind in KINDS else "other").inc(as_yuan(event.amount))
        elif name == "Referral.Made":
            REFERRALS.inc()
        elif name == "Referral.OutcomeRecorded" and event.outcome == "hired":
            HIRES.inc()


def budget_families(app: Aids) -> list[GaugeMetricFamily]:
    year = str(app.today().year)
    remaining: defaultdict[tuple[str, str], int] = defaultdict(int)
    allocated: defaultdict[tuple[str, str], int] = defaultdict(int)
    for row in app.budget_rows(year):
        key, money = (row["federation"].split(".", 1)[0], row["kind"]), figures(row)
        remaining[key] += money["remaining"]
        allocated[key] += money["amount"] - money["children"]  # a child's budget came out of its parent's
    tops = sorted({top for top, _ in remaining})[:MAX_TOP_LEVELS]
    families = []
    for name, text, values in (
        ("relief_aid_budget_remaining_yuan", "Yuan left of this year's budgets, per top-level federation and "
         "program kind", remaining),
        ("relief_aid_budget_allocated_yuan", "Yuan of this year's budgets (each allocated once, at the top), per "
         "top-level federation and program kind", allocated),
    ):
        family = GaugeMetricFamily(name, text, labels=["federation", "kind"])
        for (top, kind), value in sorted(values.items()):
            if top in tops:
                family.add_metric([top, kind], as_yuan(value))
        families.append(family)
    return families


GAUGES = StoreGauges("aid", budget_families)
