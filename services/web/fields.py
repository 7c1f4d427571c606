"""Field types every service's schemas are built from: each refuses what it could not store faithfully.

Patterns always match the whole value (never `re.match` with `$`, which accepts a trailing newline), digits
are ASCII `[0-9]` (never `\\d`, which accepts full-width digits), and each type documents in OpenAPI what
it accepts, no more loosely than it checks.

- `Name`: one line, no control characters, not blank.
- `Text`: free text; tab, line feed and carriage return allowed (multi-line notes and findings), no
  other control character; a required text is not blank unless it says so (an employer may be "").
- `Code`: a federation code (`gs.by.pg`).
- `Matching`: a string matching one pattern whole (phone numbers, ID numbers).
- `Money`: a decimal string with at most two places, 0 to 99,999,999.99 (a JSON integer is accepted too).
- `StrictBoolean`: only JSON `true` / `false`.
- `StrictInteger`: only a JSON integer (not `true`, not `3.0`); in a query string, ASCII digits only.
- `Day`: an ISO date `YYYY-MM-DD` of the years 1900 to 2199.
- `BoundedList`: a list with at most `max_items`, counted before any item is loaded.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields, validate

from services.contracts.federation import FEDERATION_PATTERN

LINE_CONTROLS = r"\x00-\x1f\x7f-\x9f"  # every character of Unicode category Cc
TEXT_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # Cc but tab, line feed, carriage return
_LINE_CONTROL = re.compile(f"[{LINE_CONTROLS}]")
_TEXT_CONTROL = re.compile(f"[{TEXT_CONTROLS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")

MONEY_MAX = Decimal("99999999.99")
MONEY_PATTERN = r"(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?"
POSITIVE_MONEY_PATTERN = r"[1-9][0-9]{0,7}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9])"
DAY_PATTERN = r"(19[0-9]{2}|2[01][0-9]{2})-[0-9]{2}-[0-9]{2}"
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def anchored(pattern: str) -> str:
    """The pattern as OpenAPI states it: JSON Schema patterns search, so anchor both ends."""
    return f"^(?:{pattern})$"


class FullMatch(validate.Validator):
    """Accept a string only if the whole of it matches `pattern`."""

    def __init__(self, pattern: str, error: str):
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.message = error

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self.message)
        return value

    def _repr_args(self) -> str:
        return f"pattern={self.pattern!r}"


def surrogate_free(value: str) -> bool:
    """False if the string holds a lone surrogate, which no UTF-8 store can keep."""
    return value.isascii() or _SURROGATE.search(value) is None


class Name(fields.String):
    """A person's name or a visitor's: one line, no control characters, not blank."""

    def __init__(self, max_length: int = 50, **kwargs: Any):
        kwargs.setdefault("required", True)
        pattern = f"[^{LINE_CONTROLS}]*[^\\s{LINE_CONTROLS}][^{LINE_CONTROLS}]*"
        super().__init__(validate=validate.Length(min=1, max=max_length),
                         metadata={"pattern": anchored(pattern), **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        _check_characters(text, _LINE_CONTROL, "no control characters (tab, line break, NUL) in a name")
        if not text.strip():
            raise ValidationError("must not be blank")
        return text


class Text(fields.String):
    """Free text up to `max_length` characters; tab and line breaks allowed; a required text is not blank
    unless `allow_blank` (an optional text, absent, is "")."""

    def __init__(self, max_length: int = 2000, *, allow_blank: bool | None = None, **kwargs: Any):
        kwargs.setdefault("required", True)
        if not kwargs["required"]:
            kwargs.setdefault("load_default", "")
        self.allow_blank = not kwargs["required"] if allow_blank is None else allow_blank
        if self.allow_blank:
            pattern, length = f"[^{TEXT_CONTROLS}]*", validate.Length(max=max_length)
        else:
            pattern = f"[^{TEXT_CONTROLS}]*[^\\s{LINE_CONTROLS}][^{TEXT_CONTROLS}]*"
            length = validate.Length(min=1, max=max_length)
        super().__init__(validate=length, metadata={"pattern": anchored(pattern), **kwargs.pop("metadata", {})},
                         **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        _check_characters(text, _TEXT_CONTROL, "no control characters but tab and line breaks")
        if not self.allow_blank and not text.strip():
            raise ValidationError("must not be blank")
        return text


class Matching(fields.String):
    """A string the whole of which matches `pattern` (ASCII digits: write [0-9], never \\d)."""

    def __init__(self, pattern: str, error: str, **kwargs: Any):
        super().__init__(validate=FullMatch(pattern, error),
                         metadata={"pattern": anchored(pattern), **kwargs.pop("metadata", {})}, **kwargs)


def uuid_field(**kwargs: Any) -> Matching:
    """An id the service made: a lower-case UUID."""
    return Matching(UUID_PATTERN, "not an id (a lower-case UUID)", **kwargs)


class Code(Matching):
    """A federation code: lower-case ASCII letters and digits, dot-separated (gs.by.pg)."""

    def __init__(self, **kwargs: Any):
        super().__init__(FEDERATION_PATTERN, "not a federation code such as gs.by.pg", **kwargs)


class Money(fields.Decimal):
    """An amount of yuan: at most two decimal places, 0 to 99,999,999.99; `positive` refuses zero."""

    def __init__(self, *, positive: bool = False, **kwargs: Any):
        kwargs.setdefault("required", True)
        self.positive = positive
        pattern = POSITIVE_MONEY_PATTERN if positive else MONEY_PATTERN
        self.regex = re.compile(pattern)
        example = "1800.00"
        super().__init__(places=2, as_string=True,
                         metadata={"pattern": anchored(pattern), "example": example, **kwargs.pop("metadata", {})},
                         **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValidationError('must be a decimal string such as "1800.00"')
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._problem(value))
        return Decimal(value).quantize(Decimal("0.01"))

    def _problem(self, value: str) -> str:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return 'must be a decimal string such as "1800.00"'
        if not amount.is_finite() or not re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", value):
            return 'must be a decimal string such as "1800.00"'
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            return "at most two decimal places"
        if amount < 0 or (self.positive and amount == 0):
            return "must be greater than 0" if self.positive else "must not be negative"
        if amount > MONEY_MAX:
            return f"must be at most {MONEY_MAX}"
        return 'must be a decimal string such as "1800.00", without a sign or leading zeros'


class BoundedList(fields.List):
    """A list whose length is checked before its items: refusing a long list costs next to nothing."""

    def __init__(self, inner: fields.Field, *, max_items: int, min_items: int = 0, error: str | None = None,
                 **kwargs: Any):
        self.max_items = max_items
        super().__init__(inner, validate=validate.Length(min=min_items, max=max_items, error=error), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, list) and len(value) > self.max_items:
            raise ValidationError(f"at most {self.max_items} items")
        result: list[Any] = super()._deserialize(value, attr, data, **kwargs)
        return result


class StrictBoolean(fields.Boolean):
    """Only JSON true or false: never "yes", 1 or "true"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise ValidationError("must be true or false")


class StrictInteger(fields.Integer):
    """A JSON integer only (not true, not 3.0); with `text=True` (a query string), ASCII digits only."""

    def __init__(self, *, text: bool = False, **kwargs: Any):
        self.text = text
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("must be an integer")
        if self.text:
            if not isinstance(value, str) or re.fullmatch(r"-?[0-9]{1,12}", value) is None:
                raise ValidationError("must be an integer written with the digits 0-9")
            value = int(value)
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


class Day(fields.Date):
    """An ISO date, YYYY-MM-DD with ASCII digits, of the years 1900 to 2199."""

    def __init__(self, **kwargs: Any):
        super().__init__(metadata={"pattern": anchored(DAY_PATTERN), **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is None:
            raise ValidationError("must be a date written YYYY-MM-DD")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValidationError("not a real date") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValidationError(f"must be between {FIRST_DAY} and {LAST_DAY}")
        return day


def _check_characters(text: str, forbidden: re.Pattern[str], error: str) -> None:
    if forbidden.search(text) is not None:
        raise ValidationError(error)
    if not surrogate_free(text):
        raise ValidationError("must not contain a lone surrogate (not valid Unicode)")
