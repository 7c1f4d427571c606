"""Every event any producer may publish fits one trail entry (at most 65,535 bytes, the tiles' limit).

For each registered (type, version) the largest payload its contract accepts is built from the schema itself:
every field at its bound (the longest string of the characters that cost the most in RFC 8785 JSON that the
field still accepts, every list at its maximum count, the widest integer of its range, the longest choice),
validated by the contract, wrapped in the largest envelope, decoded and sealed as the trail's sequencer does,
and made an entry with the largest index, offset and case ids. A field the walker cannot bound fails the test
by name, so a new event type, or a new field, is covered without a line here.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.audit.entries import Source, canonical, entry_bytes, seal
from services.audit.merkle import MAX_ENTRY_SIZE
from services.contracts import CONTRACTS, Contract, Envelope, decode, encode, topic_for
from services.contracts.bounds import FINDINGS
from services.contracts.federation import FEDERATION_CODE
from services.pairing.outbound import pairing_event
from tests.integration.test_pairing_http import VISIT, api, cadre, filed, unit  # noqa: F401 (api: a fixture)

WIDEST = 2**53 - 1  # the largest integer RFC 8785 writes (I-JSON): an index, a case's sequence, an offset
KAFKA_MAX_REQUEST = 1_048_576  # a producer's max.request.size by default: the message itself must fit too
LAST = datetime(9999, 12, 31, 23, 59, 59, 999_999,
                tzinfo=timezone(timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999)))
# The characters a field might hold, the costliest in an entry first: a control character RFC 8785 writes
# as \u0001, characters of 4 bytes in UTF-8 (a rare name character, a mathematical digit), CJK (3 bytes),
# the ones escaped in 2 (quote, backslash, tab), then ASCII.
CHARACTERS = sorted(["\x01", "\U00020bb7", "\U0001d7ce", "中", "０", '"', "\\", "\t", "é",
                     *map(chr, range(0x20, 0x7f))], key=lambda c: -len(canonical(c)))


class Unbounded(Exception):
    """A field whose largest value the walker cannot tell: the contract must bound it."""


def costliest_string(field: fields.String, length: int, where: str) -> str:
    """The longest string of the costliest character the field accepts."""
    for character in CHARACTERS:
        value = character * length
        if accepts(field, value):
            return value
    raise Unbounded(f"no character fills field {where} to its {length} characters")


def accepts(field: fields.Field, value: Any) -> bool:
    try:
        field.deserialize(value)
    except ValidationError:
        return False
    return True


def longest_match(pattern: re.Pattern[Any], where: str) -> str:
    """The longest string of the costliest characters that matches `pattern`; Unbounded for `*`, `+`, `{n,}`."""
    return _emit(sre_parse.parse(str(pattern.pattern), pattern.flags), where)


def _emit(tokens: Iterable[tuple[Any, Any]], where: str) -> str:
    out = []
    for op, arg in tokens:
        if op is sre.AT:
            continue
        if op is sre.LITERAL:
            out.append(chr(arg))
        elif op is sre.IN:
            out.append(_costliest_in(arg, where))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            _, most, item = arg
            if most is sre.MAXREPEAT:
                raise Unbounded(f"unbounded field {where}: its pattern repeats without a maximum")
            out.append(_emit(item, where) * most)
        elif op is sre.SUBPATTERN:
            out.append(_emit(arg[-1], where))
        elif op is sre.BRANCH:
            out.append(max((_emit(branch, where) for branch in arg[1]), key=lambda s: len(canonical(s))))
        else:
            raise Unbounded(f"field {where}: the walker does not read {op} in its pattern")
    return "".join(out)


_CATEGORIES = {sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_SPACE: r"\s",
               sre.CATEGORY_NOT_SPACE: r"\S", sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W"}


def _costliest_in(items: list[tuple[Any, Any]], where: str) -> str:
    negated = bool(items) and items[0][0] is sre.NEGATE

    def member(character: str) -> bool:
        found = False
        for op, arg in items[negated:]:
            if op is sre.LITERAL:
                found |= ord(character) == arg
            elif op is sre.RANGE:
                found |= arg[0] <= ord(character) <= arg[1]
            elif op is sre.CATEGORY:
                found |= re.fullmatch(_CATEGORIES[arg], character) is not None
            else:
                raise Unbounded(f"field {where}: the walker does not read {op} in a character class")
        return found != negated

    for character in CHARACTERS:
        if member(character):
            return character
    raise Unbounded(f"field {where}: no character matches one of its character classes")


def largest(field: fields.Field, where: str) -> Any:
    """The value of a field that costs the most bytes of an entry (null if it allows that and costs more)."""
    value = _largest_value(field, where)
    if field.allow_none and len(canonical(value)) < len(b"null"):
        return None
    return value


def _largest_value(field: fields.Field, where: str) -> Any:
    validators = field.validators
    choices = [v.choices for v in validators if isinstance(v, validate.OneOf)]
    if choices:
        return max(choices[0], key=lambda c: len(canonical(c)))
    if isinstance(field, fields.Nested):
        if field.many or not isinstance(field.schema, Schema):
            raise Unbounded(f"field {where}: the walker reads one nested schema, not many")
        return largest_payload(field.schema, where)
    if isinstance(field, fields.List):
        return [largest(field.inner, f"{where}[]")] * max_length(validators, where)
    if isinstance(field, fields.String):
        patterns = [v.regex for v in validators if isinstance(v, validate.Regexp)]
        if patterns:
            return longest_match(patterns[0], where)
        return costliest_string(field, max_length(validators, where), where)
    if isinstance(field, fields.Integer):
        ranges = [v for v in validators if isinstance(v, validate.Range)]
        if not field.strict or not ranges or ranges[0].min is None or ranges[0].max is None:
            raise Unbounded(f"unbounded field {where}: an integer needs strict=True and a range")
        return max(ranges[0].min, ranges[0].max, key=lambda n: len(str(n)))
    if isinstance(field, fields.Boolean):
        return max([True, False, *field.truthy, *field.falsy], key=lambda v: len(canonical(v)))
    if isinstance(field, fields.Date) and field.format in (None, "iso"):
        return date.max.isoformat()  # date.fromisoformat reads at most 10 characters (2026-11-24, 2026-W48-2)
    raise Unbounded(f"unbounded field {where}: the walker knows no bound of a {type(field).__name__}")


def max_length(validators: list[Any], where: str) -> int:
    for v in validators:
        if isinstance(v, validate.Length):
            most = v.equal if v.equal is not None else v.max
            if most is not None:
                return most
    raise Unbounded(f"unbounded field {where}: no maximum length")


def largest_payload(schema: Schema, where: str) -> dict[str, Any]:
    """The largest object the schema accepts: every field, optional ones too, at its bound."""
    if schema.unknown != RAISE:
        raise Unbounded(f"schema {where} accepts keys it does not declare")
    return {field.data_key or name: largest(field, f"{where}.{name}") for name, field in schema.fields.items()}


def trail_entry(message: bytes) -> bytes:
    """The entry the trail's sequencer makes of a message, with the widest index, offset and chain."""
    envelope = decode(message)
    sealed, _ = seal(envelope.to_dict())
    source = Source(topic_for(envelope.service), 2**31 - 1, WIDEST)
    return entry_bytes(WIDEST, envelope.case_id, WIDEST, "f" * 64, source, sealed)


def largest_message(contract: Contract) -> bytes:
    payload = largest_payload(contract.validator, contract.name)
    assert not contract.validator.validate(payload), contract.name
    envelope = Envelope(event_id=str(uuid4()), type=contract.name, version=contract.version, occurred_at=LAST,
                        recorded_at=LAST, federation=longest_match(FEDERATION_CODE, "federation"),
                        case_id=str(uuid4()), service=contract.service, payload=payload)
    return encode(envelope, check=True)


@pytest.mark.parametrize("contract", CONTRACTS.values(), ids=[f"{name}.v{version}" for name, version in CONTRACTS])
def test_the_largest_event_of_every_contract_fits_a_trail_entry(contract):
    message = largest_message(contract)
    assert len(message) <= KAFKA_MAX_REQUEST
    assert len(trail_entry(message)) <= MAX_ENTRY_SIZE


def test_the_largest_payload_is_at_every_bound_the_contract_sets():
    payload = largest_payload(CONTRACTS[("VisitRecorded", 1)].validator, "VisitRecorded")
    assert len(payload["measures"]) == FINDINGS and len(payload["measures"].encode()) == 4 * FINDINGS
    members = largest_payload(CONTRACTS[("CaseOpened", 1)].validator, "CaseOpened")["household"]["members"]
    assert len(members) == 30 and members[0]["age"] == 130 and members[0]["id_number_masked"] == "0000**********0000"
    assert len(longest_match(FEDERATION_CODE, "federation")) == 8 * 24 + 7


@pytest.mark.parametrize(("field", "problem"), [
    (fields.String(), "unbounded field Event.value: no maximum length"),
    (fields.String(validate=validate.Regexp(r"^[0-9]+\Z")), "unbounded field Event.value: its pattern repeats"),
    (fields.Integer(validate=validate.Range(min=0)), "unbounded field Event.value: an integer needs"),
    (fields.Integer(validate=validate.Range(min=0, max=9)), "unbounded field Event.value: an integer needs"),
    (fields.List(fields.String(validate=validate.Length(max=9))), r"unbounded field Event.value: no maximum"),
    (fields.Dict(), "unbounded field Event.value: the walker knows no bound of a Dict"),
    (fields.UUID(), "unbounded field Event.value: the walker knows no bound of a UUID"),
])
def test_a_field_without_a_bound_fails_by_name(field, problem):
    event = Schema.from_dict({"value": field})()
    with pytest.raises(Unbounded, match=re.escape(problem)):
        largest_payload(event, "Event")


def test_pairing_refuses_a_visit_record_over_its_bound_and_publishes_the_longest_within_one_entry(api):  # noqa: F811
    unit_id = unit(api, "gs.size")
    cadre(api, unit_id, "gs.size", user="size")
    case_id = filed(api, "gs.size")
    visitor = api.client("cadre", "gs.size", "size")
    longest = "\U00020bb7" * FINDINGS
    too_long = visitor.post(f"/cases/{case_id}/visits", {**VISIT, "measures": longest + "中"})
    assert too_long.status_code == 400, too_long.text
    assert list(too_long.json()["fields"]) == ["measures"]
    record = {"findings": longest, "problems_solved": longest, "measures": longest, "next_steps": longest}
    assert visitor.post(f"/cases/{case_id}/visits", {**VISIT, **record}).status_code == 201
    stored = api.app.process_recorder.select_notifications(start=None, limit=10_000)
    published = [pairing_event(api.app, n, datetime.now(UTC)) for n in stored]
    [visit] = [e for e in published if e is not None and e.type == "VisitRecorded" and e.case_id == case_id]
    assert visit.payload["measures"] == longest
    assert len(trail_entry(encode(visit))) <= MAX_ENTRY_SIZE
