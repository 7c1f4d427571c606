"""The business day is China's, whatever zone the machine is in (services.clock)."""

from datetime import UTC, datetime

import pytest

from services import clock
from services.audit.fold import recorded_on


def test_a_moment_after_16_utc_is_on_the_next_day_in_china():
    assert clock.day_of(datetime(2026, 12, 3, 15, 59, 59, tzinfo=UTC)).isoformat() == "2026-12-03"
    assert clock.day_of(datetime(2026, 12, 3, 16, 0, tzinfo=UTC)).isoformat() == "2026-12-04"


def test_the_trail_dates_an_event_by_the_business_day_it_occurred_on():
    assert recorded_on({"occurred_at": "2026-12-31T16:30:00+00:00"}).isoformat() == "2027-01-01"


def test_today_is_the_business_zones_date():
    before = datetime.now(clock.ZONE).date()
    assert clock.today() in (before, datetime.now(clock.ZONE).date())


def test_the_zone_is_configurable_and_an_unknown_one_is_refused_by_name():
    assert clock.business_zone({}).key == "Asia/Shanghai"
    assert clock.business_zone({"RELIEF_TIME_ZONE": "Asia/Urumqi"}).key == "Asia/Urumqi"
    with pytest.raises(SystemExit, match="RELIEF_TIME_ZONE='Mars/Olympus'"):
        clock.business_zone({"RELIEF_TIME_ZONE": "Mars/Olympus"})
