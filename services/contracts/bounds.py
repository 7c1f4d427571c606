"""Field types of the event contracts, each with a bound, so that every event fits one trail entry.

A trail entry is at most 65,535 bytes (the tiles' limit) and the trail refuses a larger one, stalling its
log, rather than truncate it; so no contract field is unbounded. A string has a maximum length and no
control character but tab and line breaks, nor a lone surrogate (which RFC 8785 cannot canonicalise):
a character then costs at most 4 bytes of an entry. An integer is a JSON integer in a range (marshmallow
would take a string of any number of leading zeros); an id is a lower-case UUID (marshmallow's UUID takes
any number of hyphens); a list has a maximum count; a nested object refuses unknown keys (marshmallow's
default). The lengths are those the producing services' requests allow; tests/unit/test_event_sizes.py
builds the largest payload of every contract and checks that its entry fits.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate

from services.contracts.federation import FEDERATION_PATTERN

# Lengths in characters.
NAME = 50  # a person's name, an item of goods
LOGIN = 100  # a login name (the `by` of an event), as long as a cadre's `user` may be
CODE = 50  # a value of a closed list: a relation, a category, a cause, an exit reason
TITLE = 100  # the name of a unit, a program, a course; an employer, a position
REASON = 500  # pairing's and aid's reasons
NOTE = 2000  # intake's reasons, notes, descriptions and results
FINDINGS = 4000  # what a visit or a review found, and a visit's other records
REFERENCE = 64  # a bank's reference, a certificate's number
ID = 36  # an id a service made and the contract leaves free of form (intake's objections, measures): a UUID
MAX_COUNT = 2**31 - 1

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
DIGEST_PATTERN = r"^[0-9a-f]{64}\Z"
YUAN_PATTERN = r"^[0-9]{1,10}\.[0-9]{2}\Z"
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class Printable(validate.Validator):
    """Refuse control characters but tab, line feed and carriage return, and lone surrogates."""

    error = "no control characters but tab and line breaks, and no lone surrogates"

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and not self.accepts(value):
            raise ValidationError(self.error)
        return value

    @staticmethod
    def accepts(value: str) -> bool:
        return _FORBIDDEN.search(value) is None


PRINTABLE = Printable()


def text(max_length: int, **kwargs: Any) -> fields.String:
    """A string of at most `max_length` printable characters (required unless told)."""
    kwargs.setdefault("required", True)
    return fields.String(validate=[validate.Length(max=max_length), PRINTABLE], **kwargs)


def whole(pattern: str, **kwargs: Any) -> fields.String:
    """A string matching `pattern` (anchored `^…\\Z`, bounded repeats only) as a whole."""
    kwargs.setdefault("required", True)
    return fields.String(validate=validate.Regexp(pattern), **kwargs)


def uuid(**kwargs: Any) -> fields.String:
    """An id: a lower-case UUID as str(uuid) writes it."""
    return whole(UUID_PATTERN, **kwargs)


def federation(**kwargs: Any) -> fields.String:
    """A federation code (gs.by.pg): at most 8 levels of at most 24 characters."""
    return whole(rf"^{FEDERATION_PATTERN}\Z", **kwargs)


def masked_id(**kwargs: Any) -> fields.String:
    """An ID number with all but its region and last four characters hidden: 6204**********1234."""
    return whole(r"^[0-9]{4}\*{10}[0-9]{3}[0-9X]\Z", **kwargs)


def masked_phone(**kwargs: Any) -> fields.String:
    """A mobile (139****5678) or a landline with its area code, all but the first 3 and last 4 digits hidden."""
    return whole(r"^[0-9]{3}\*{1,8}[0-9]{4}\Z", **kwargs)


def integer(low: int, high: int, **kwargs: Any) -> fields.Integer:
    """A JSON integer from `low` to `high`."""
    kwargs.setdefault("required", True)
    return fields.Integer(strict=True, validate=validate.Range(min=low, max=high), **kwargs)


def count(**kwargs: Any) -> fields.Integer:
    """A number of things, or a version: 0 to 2³¹ − 1."""
    return integer(0, MAX_COUNT, **kwargs)


def listing(inner: fields.Field, max_items: int, *, min_items: int = 0, **kwargs: Any) -> fields.List:
    """A list of `min_items` to `max_items` items."""
    kwargs.setdefault("required", True)
    return fields.List(inner, validate=validate.Length(min=min_items, max=max_items), **kwargs)
