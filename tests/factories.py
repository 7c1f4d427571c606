"""Factories for the case files tests need: valid by default, any field overridable."""

from __future__ import annotations

import itertools
import random
from copy import deepcopy
from datetime import date, timedelta
from typing import Any

from services import clock
from services.intake.domain import Case
from services.intake.identity import age_on, with_check_character

_serial = itertools.count(1)
BORN = date(1980, 5, 17)  # the birth date of factory ID numbers; the spouse's declared age agrees with it


def id_number(region: str = "620402", born: date = BORN) -> str:
    """A valid, unique 18-character ID number (its sequence digits come from a counter)."""
    seq = next(_serial) % 1000
    return with_check_character(f"{region}{born:%Y%m%d}{seq:03d}")


def random_id_number(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 20000))
    return with_check_character(f"62{rng.randrange(0, 10000):04d}{born:%Y%m%d}{rng.randrange(0, 1000):03d}")


def application_body(federation: str = "gs.by.pg", **overrides: Any) -> dict[str, Any]:
    """A POST /cases body that passes validation."""
    body: dict[str, Any] = {
        "federation": federation,
        "worker": {
            "name": "张伟",
            "id_number": id_number(),
            "phone": "13912345678",
            "employer": "白银有色集团",
            "migrant": False,
        },
        "household": {
            "members": [
                {"name": "李娜", "relation": "spouse", "age": age_on(BORN, clock.today()), "health": "chronic_illness",
                 "schooling": "junior"},
                {"name": "张小明", "relation": "child", "age": 17, "health": "healthy", "schooling": "senior"},
            ],
            "monthly_income": "1800.00",
            "subsistence_line": "700.00",
        },
        "category": "marginal",
        "causes": ["illness", "education"],
    }
    merged = deepcopy(body)
    merged.update(overrides)
    return merged


def opened_case(federation: str = "gs.by", opened_by: str = "li", today: date | None = None, **overrides: Any) -> Case:
    """A Case aggregate opened from a valid application body, for domain tests."""
    return Case.open(opened_by=opened_by, today=today or clock.today(), **application_body(federation, **overrides))


# The workflow steps after opening, in order, with valid business dates.
WORKFLOW = [
    ("verification", {"visitors": ["王芳", "赵强"], "visited_on": "2026-03-02",
                      "per_capita_income": "600.00", "findings": "妻子慢性病，儿子高三"}),
    ("deliberation", {"decided_on": "2026-03-05", "outcome": "recommend", "notes": "一致同意"}),
    ("notice", {"starts_on": "2026-03-06", "days": 7}),
    ("approval", {"approved_on": "2026-03-13"}),
]

# The day the pairing tests run on: the application's clock is fixed to it.
PAIRING_TODAY = date(2026, 12, 1)
