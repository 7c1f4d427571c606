"""Yearly figures of a federation's case files, from the case index (no I/O here).

Definitions (docs/decisions.md): a case "was filed on" a day if its last filing or re-filing before
that day was not followed by an exit; the exit rate is exits in the year over files at the start of
the year (target 30%); the return-to-hardship rate is re-filings in the year over households that had
exited by the end of the year.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from services.intake.domain import CATEGORIES, CAUSES, FILED, MEASURE_KINDS, STATES

EXIT_RATE_TARGET = 0.30


def filed_on_day(timeline: dict[str, Any], day: str) -> bool:
    """Tell whether the case was filed at the start of `day` (an ISO date)."""
    if not timeline["filed_on"] or timeline["filed_on"] >= day:
        return False
    # (date, 0) is a filing and (date, 1) an exit, so an exit on the day of a filing sorts after it.
    changes = [(d, 0) for d in [timeline["filed_on"], *timeline["refilings"]]]
    changes += [(d, 1) for d in timeline["exits"]]
    return max(change for change in changes if change[0] < day)[1] == 0


def yearly_stats(rows: list[dict[str, Any]], year: int) -> dict[str, Any]:
    start, end = f"{year}-01-01", f"{year}-12-31"

    def in_year(day: str) -> bool:
        return start <= day <= end

    filed_now = [r for r in rows if r["state"] == FILED]
    exits = sum(1 for r in rows for d in r["timeline"]["exits"] if in_year(d))
    returns = sum(1 for r in rows for d in r["timeline"]["refilings"] if in_year(d))
    ever_exited = sum(1 for r in rows if any(d <= end for d in r["timeline"]["exits"]))
    at_start = sum(1 for r in rows if filed_on_day(r["timeline"], start))
    causes = Counter(c for r in filed_now for c in r["causes"])
    measures = Counter(k for r in rows for k, days in r["measures_done"].items() for d in days if in_year(d))
    return {
        "year": year,
        "by_state": {s: sum(1 for r in rows if r["state"] == s) for s in STATES},
        "filed_by_category": {c: sum(1 for r in filed_now if r["category"] == c) for c in CATEGORIES},
        "filed_by_cause": {c: causes[c] for c in CAUSES},
        "filed_in_year": sum(1 for r in rows if r["timeline"]["filed_on"] and in_year(r["timeline"]["filed_on"])),
        "exited_in_year": exits,
        "returned_in_year": returns,
        "files_at_start_of_year": at_start,
        "exit_rate": round(exits / at_start, 4) if at_start else None,
        "exit_rate_target": EXIT_RATE_TARGET,
        "return_to_hardship_rate": round(returns / ever_exited, 4) if ever_exited else None,
        "measures_done_in_year": {k: measures[k] for k in MEASURE_KINDS},
    }
