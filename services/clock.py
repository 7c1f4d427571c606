"""The business day. Every date the domain checks ("filed on the decision date", a visit "not after
tomorrow", the year of a budget) is a day of China's calendar, whatever zone the machine's clock is set to:
a pod runs in UTC, and from 16:00 UTC China is already on the next day. `RELIEF_TIME_ZONE` (an IANA name,
default Asia/Shanghai) names the zone; the services, the audit trail's folds and replay, and the tests that
date what they send all read it here, so they agree on what "today" is."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SETTING = "RELIEF_TIME_ZONE"
DEFAULT = "Asia/Shanghai"


def business_zone(env: Mapping[str, str] = os.environ) -> ZoneInfo:
    name = env.get(SETTING) or DEFAULT
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SystemExit(f"{SETTING}={name!r} is not a time zone this machine knows ({error})") from None


ZONE = business_zone()


def today() -> date:
    """Today in the business zone."""
    return datetime.now(ZONE).date()


def day_of(moment: datetime) -> date:
    """The business day an aware timestamp falls on."""
    return moment.astimezone(ZONE).date()
