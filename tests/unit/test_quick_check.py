"""The quick check of every contract says yes only where marshmallow accepts (services/contracts/quick.py),
and says yes to the payloads producers write, so that consumers really skip marshmallow for them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, validate, validates_schema

from services.contracts import CONTRACTS
from services.contracts.quick import quick_check
from tests.unit.test_event_sizes import longest_match

IDS = [f"{name}.v{version}" for name, version in CONTRACTS]


def plain(field: fields.Field, everything: bool) -> Any:
    """A valid value of the field as a producer writes it; `everything`: optional fields too."""
    validators = field.validators
    for v in validators:
        if isinstance(v, validate.OneOf):
            return sorted(v.choices)[0]
    if isinstance(field, fields.Nested):
        return plain_payload(field.schema, everything)
    if isinstance(field, fields.List):
        least = max([v.min or 0 for v in validators if isinstance(v, validate.Length)] + [1])
        return [plain(field.inner, everything) for _ in range(least)]
    if isinstance(field, fields.String):
        for v in validators:
            if isinstance(v, validate.Regexp):
                return longest_match(v.regex, field.name or "?")
        least = max([v.min or 0 for v in validators if isinstance(v, validate.Length)] + [2])
        return "帮扶\t记录"[:least] if least <= 5 else "帮" * least
    if isinstance(field, fields.Integer):
        ranges = [v for v in validators if isinstance(v, validate.Range)]
        return ranges[0].min if ranges else 1
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Date):
        return "2026-12-01"
    raise AssertionError(f"no plain value for {type(field).__name__}")


def plain_payload(schema: Schema, everything: bool) -> dict[str, Any]:
    return {name: plain(field, everything) for name, field in schema.load_fields.items()
            if everything or field.required}


@pytest.mark.parametrize("contract", CONTRACTS.values(), ids=IDS)
def test_every_contract_compiles_and_says_yes_to_what_producers_write(contract):
    assert contract.quick is not None, f"{contract.name} has no quick check: marshmallow would check every one"
    for everything in (True, False):
        payload = plain_payload(contract.validator, everything)
        assert contract.validator.validate(payload) == {}, (contract.name, everything)
        assert contract.quick(payload), (contract.name, everything)


ODD = [None, "", "x", "X" * 5000, "a\x00b", "\ud800", "a\n", "2026-02-30", "2026-1-01", "2026-12-01T00:00:00",
       "２０２６-12-01", 0, -1, 2**31, 2**64, True, False, 1.0, 1.5, [], [None], {}, {"x": 1}, "true", "1",
       "0000**********0000", "f" * 64, "F" * 64, "00000000-0000-0000-0000-000000000000",
       "00000000-0000-0000-0000-00000000000G", "1000.00", "1000.001", "gs.by", "GS"]


def places(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value in the payload (keys of objects, positions of lists)."""
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += places(value, (*path, i))
    return found


def mutated(payload: dict[str, Any], path: tuple, action: str, odd: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "replace":
        parent[last] = odd
    elif action == "delete":
        del parent[last]
    elif isinstance(parent, dict):  # "add": a key the schema does not declare
        parent[f"{last}_extra"] = odd
    else:
        parent.append(odd)
    return changed


BASES = [(c, plain_payload(c.validator, everything)) for c in CONTRACTS.values() for everything in (True, False)]


@settings(max_examples=3000)
@given(st.sampled_from(BASES), st.data())
def test_a_payload_changed_anywhere_is_never_passed_by_the_quick_check_alone(base, data):
    contract, payload = base
    changes = data.draw(st.integers(1, 3))
    for _ in range(changes):
        paths = places(payload)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        payload = mutated(payload, path, action, data.draw(st.sampled_from(ODD)))
    if contract.quick(payload):
        assert contract.validator.validate(payload) == {}, (contract.name, payload)


def test_what_the_quick_check_cannot_compile_it_leaves_to_marshmallow():
    class Hooked(Schema):
        a = fields.String()

        @validates_schema
        def both(self, data: dict[str, Any], **_: Any) -> None:
            """A rule across fields: only marshmallow runs it."""

    class WithEmail(Schema):
        a = fields.Email()

    class Keyed(Schema):
        a = fields.String(data_key="b")

    assert quick_check(WithEmail()) is None
    assert quick_check(Keyed()) is None
    assert quick_check(Hooked()) is None
    assert quick_check(WithEmail(many=True)) is None


def test_a_payload_that_is_not_an_object_is_left_to_marshmallow():
    contract = CONTRACTS[("CaseOpened", 1)]
    for value in (None, [], "x", 1):
        assert not contract.quick(value)
