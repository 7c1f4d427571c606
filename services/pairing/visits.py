"""Which visits a household is due (季季访, 回访) and which it missed: pure functions over dates.

While a case is filed, every calendar quarter on whose last day it is still filed needs a visit dated in
that quarter (on or after the filing); the deadline is the quarter's last day. After an exit, follow-up
visits are due for `follow_up_months` (default 12): one in each half-year counted from the exit day,
unless the case is re-filed before that half-year ends (then quarterly visits take over).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

FOLLOW_UP_MONTHS = 12
HALF_YEAR = 6


@dataclass(frozen=True)
class Due:
    """One visit owed: dated from `starts_on` to `ends_on` inclusive; overdue from the day after."""

    kind: str  # "quarter" while filed, "follow_up" after an exit
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class Period:
    """One stretch of a case being filed: from filing (or re-filing) to exit, None while it lasts."""

    filed_on: date
    exited_on: date | None = None


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day if it has fewer (31 Aug + 6 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def quarter_of(day: date) -> tuple[date, date]:
    """The first and last day of the calendar quarter holding `day`."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return first, add_months(first, 3) - timedelta(days=1)


QUARTER_LAST_DAYS = (31, 30, 30, 31)  # 31 March, 30 June, 30 September, 31 December


def quarters(period: Period, until: date) -> list[Due]:
    """The quarters of one filed period whose last day falls on or before `until` (or the period's end).

    Counted in quarters, not with calendar arithmetic: the coverage gauges run it for every household."""
    owed: list[Due] = []
    year, quarter, start = period.filed_on.year, (period.filed_on.month - 1) // 3, period.filed_on
    while True:
        end = date(year, 3 * quarter + 3, QUARTER_LAST_DAYS[quarter])
        if end > until or (period.exited_on is not None and end >= period.exited_on):
            return owed
        owed.append(Due("quarter", start, end))
        year, quarter = (year + 1, 0) if quarter == 3 else (year, quarter + 1)
        start = date(year, 3 * quarter + 1, 1)


def follow_ups(exited_on: date, refiled_on: date | None, months: int, until: date) -> list[Due]:
    """The half-years after an exit that end by `until`, within the follow-up period, before a re-filing."""
    owed: list[Due] = []
    last = add_months(exited_on, months) - timedelta(days=1)
    step = 0
    while True:
        start = add_months(exited_on, step)
        if start > last:
            return owed
        end = min(add_months(exited_on, step + HALF_YEAR) - timedelta(days=1), last)
        if end > until or (refiled_on is not None and refiled_on <= end):
            return owed
        owed.append(Due("follow_up", start, end))
        step += HALF_YEAR


def dues(periods: Sequence[Period], as_of: date, follow_up_months: int = FOLLOW_UP_MONTHS) -> list[Due]:
    """Every visit owed whose window has ended by `as_of`, oldest first."""
    owed: list[Due] = []
    for i, period in enumerate(periods):
        owed += quarters(period, as_of)
        if period.exited_on is not None:
            refiled = periods[i + 1].filed_on if i + 1 < len(periods) else None
            owed += follow_ups(period.exited_on, refiled, follow_up_months, as_of)
    return sorted(owed, key=lambda d: d.ends_on)


def visited(due: Due, visits: Sequence[date]) -> bool:
    return any(due.starts_on <= v <= due.ends_on for v in visits)


def overdue(
    periods: Sequence[Period], visits: Sequence[date], as_of: date, follow_up_months: int = FOLLOW_UP_MONTHS
) -> tuple[Due, int, int] | None:
    """The visit a household is behind on, the days it is overdue and how many are missed in a row.

    A household is overdue when its latest ended window (before `as_of`) has no visit; the days count from
    the first window of that unbroken run of missed ones. One visited since puts it back in order.
    """
    ended = [d for d in dues(periods, as_of, follow_up_months) if d.ends_on < as_of]
    run: list[Due] = []
    for due in reversed(ended):
        if visited(due, visits):
            break
        run.append(due)
    if not run:
        return None
    first = run[-1]
    return first, (as_of - first.ends_on).days, len(run)


def next_due(
    periods: Sequence[Period], visits: Sequence[date], as_of: date, follow_up_months: int = FOLLOW_UP_MONTHS
) -> Due | None:
    """The first window still open on `as_of` (ending on or after it) that has no visit yet, if any."""
    ahead = dues(periods, as_of + timedelta(days=366), follow_up_months)
    return next((d for d in ahead if d.ends_on >= as_of and not visited(d, visits)), None)
