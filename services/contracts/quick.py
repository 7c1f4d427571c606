"""A quick yes for payloads a contract surely accepts, so consumers need not run marshmallow on each one.

marshmallow loads a payload field by field through several layers of calls: about 40 µs for a typical
event, most of what the trail's sequencer spends decoding. `quick_check(schema)` compiles the schema into
plain checks that answer True only for a payload marshmallow is certain to accept: JSON values of exactly
the type the field wants (a str for a String, an int for an Integer, a bool for a Boolean, "YYYY-MM-DD" for
a Date, a dict for a Nested schema, a list for a List), then each of the field's validators run as
marshmallow runs them. Any other value answers False, and marshmallow decides (and words the reason):
the short way can only ever be stricter. A schema it cannot compile (hooks, another field or validator
type, a data_key, unknown keys allowed) has no quick check at all. tests/unit/test_quick_check.py holds it
to marshmallow's answer for every contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from services.contracts.bounds import Printable

Check = Callable[[Any], bool]
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Uncompilable(Exception):
    """The schema uses something the quick check does not know: marshmallow checks every payload of it."""


def quick_check(schema: Schema) -> Check | None:
    """A check that is True only for payloads `schema` accepts, or None if it cannot be compiled."""
    try:
        return _schema(schema)
    except Uncompilable:
        return None


def _schema(schema: Schema) -> Check:
    if any(schema._hooks.values()) or schema.unknown != RAISE or schema.many or schema.partial:
        raise Uncompilable(f"{type(schema).__name__}: hooks, unknown keys, many or partial")
    if schema.only is not None or schema.exclude:
        raise Uncompilable(f"{type(schema).__name__}: only/exclude")
    checks: list[tuple[str, bool, bool, Check]] = []
    for name, field in schema.load_fields.items():
        if field.data_key is not None and field.data_key != name:
            raise Uncompilable(f"{type(schema).__name__}.{name}: data_key")
        checks.append((name, field.required, field.allow_none, _field(field)))
    names = frozenset(name for name, _, _, _ in checks)
    required = frozenset(name for name, needed, _, _ in checks if needed)

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return False
        keys = value.keys()
        if not keys <= names or not required <= keys:
            return False
        for name, _, allow_none, field_check in checks:
            if name in value:
                item = value[name]
                if item is None:
                    if not allow_none:
                        return False
                elif not field_check(item):
                    return False
        return True

    return check


def _field(field: Any) -> Check:
    """The check of one present, non-null value of the field: its type, then its validators."""
    kind = type(field)
    typed: Check
    if kind is fields.String:
        typed = _is_str
    elif kind is fields.Integer and field.strict:
        typed = _is_int
    elif kind is fields.Boolean:
        typed = _is_bool
    elif kind is fields.Date and field.format in (None, "iso", "iso8601") and not field.validators:
        typed = _iso_date  # (a validator of a date is given the date, not the text: marshmallow decides)
    elif kind is fields.Nested and not field.many and isinstance(field.schema, Schema):
        if field.only is not None or field.exclude:
            raise Uncompilable(f"{field.name}: nested only/exclude")
        typed = _schema(field.schema)
    elif kind is fields.List:
        typed = _list(_field(field.inner), field.inner.allow_none)
    else:
        raise Uncompilable(f"{field.name}: {kind.__name__}")
    validators = [_validator(v) for v in field.validators]
    if not validators:
        return typed
    if len(validators) == 1:  # most fields: a pattern, or a length (spelled out: this runs for every field)
        (first,) = validators
        return lambda value: typed(value) and first(value)
    if len(validators) == 2:  # text(): a length and Printable
        first, second = validators
        return lambda value: typed(value) and first(value) and second(value)
    return lambda value: typed(value) and all(valid(value) for valid in validators)


def _is_str(value: Any) -> bool:
    return type(value) is str


def _is_int(value: Any) -> bool:
    return type(value) is int  # not a bool: marshmallow refuses those for an Integer


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _list(inner: Check, inner_none: bool) -> Check:
    def check(value: Any) -> bool:
        if type(value) is not list:
            return False
        for item in value:
            if item is None:
                if not inner_none:
                    return False
            elif not inner(item):
                return False
        return True

    return check


def _iso_date(value: Any) -> bool:
    if type(value) is not str or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _validator(validator: Any) -> Check:
    """marshmallow's own test of each validator it is given, as a yes or no."""
    kind = type(validator)
    if kind is validate.Length and validator.equal is None:
        low, high = validator.min, validator.max

        def length(value: Any) -> bool:
            n = len(value)
            return (low is None or n >= low) and (high is None or n <= high)
        return length
    if kind is validate.Regexp:
        regex = validator.regex
        return lambda value: regex.match(value) is not None
    if kind is validate.OneOf:
        choices = validator.choices
        return lambda value: value in choices
    if kind is validate.Range and validator.min_inclusive and validator.max_inclusive:
        low, high = validator.min, validator.max
        return lambda value: (low is None or value >= low) and (high is None or value <= high)
    if kind is Printable:
        return Printable.accepts
    raise Uncompilable(f"validator {kind.__name__}")
