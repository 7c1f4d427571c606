"""Rules for personal identifiers: the ID number's check character, masking and keyed digests."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from services import clock

ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")  # ASCII digits only, matched as the whole value
EARLIEST_BIRTH = date(1900, 1, 1)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"


def id_number_problem(id_number: str, today: date | None = None) -> str | None:
    """Say what is wrong with an 18-character resident ID number (ISO 7064 MOD 11-2), or None.

    The birth date it encodes must be a real day from 1900 up to `today` (by default the clock's).
    """
    if not ID_NUMBER.fullmatch(id_number):
        return "must be 17 digits followed by a digit or X"
    try:
        born = birth_date(id_number)
    except ValueError:
        return "birth date in characters 7-14 is not a real date"
    if born < EARLIEST_BIRTH:
        return f"birth date in characters 7-14 is before {EARLIEST_BIRTH.year}"
    if born > (today or clock.today()):
        return "birth date in characters 7-14 is in the future"
    expected = CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(id_number, WEIGHTS, strict=False)) % 11]
    if id_number[17] != expected:
        return "check character does not match (ISO 7064 MOD 11-2)"
    return None


def birth_date(id_number: str) -> date:
    """The birth date encoded in characters 7-14; ValueError if it is not a real date."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(born: date, day: date) -> int:
    """Whole years from a birth date to a day (someone born on 29 February turns a year older on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def with_check_character(first17: str) -> str:
    """Complete 17 digits with their check character (for test data and imports)."""
    return first17 + CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=False)) % 11]


MASK = "*"
MASKED_ID_NUMBER = r"[0-9]{4}\*{10}[0-9]{3}[0-9X]"  # what mask_id_number shows, as a whole-value pattern
MASKED_PHONE = r"(1[3-9][0-9]|0[0-9]{2})\*{3,6}[0-9]{4}"  # what mask_phone shows of a PHONE


def mask_id_number(id_number: str) -> str:
    """Keep the region code and the last four characters: 6204**********1234."""
    return id_number[:4] + MASK * (len(id_number) - 8) + id_number[-4:]


def mask_phone(phone: str) -> str:
    return phone[:3] + MASK * max(0, len(phone) - 7) + phone[-4:]


def as_stored(given: str, stored: str | None, mask: Callable[[str], str]) -> str | None:
    """What a value sent back means: itself if typed in full, the stored value if it is that value's mask as
    shown, None if it is any other mask (nothing stored, or someone else's)."""
    if MASK not in given:
        return given
    return stored if stored is not None and mask(stored) == given else None


@lru_cache(maxsize=8192)  # one person is digested several times per save (claims, events); imports do it in bulk
def person_digest(key: str, id_number: str) -> str:
    """A keyed digest that lets services match one person without carrying the ID number."""
    return hmac.new(key.encode(), id_number.encode(), hashlib.sha256).hexdigest()
