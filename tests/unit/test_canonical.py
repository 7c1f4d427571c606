"""The trail's canonical bytes are RFC 8785's, whichever encoder makes them (services/audit/entries.py)."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.entries import canonical

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)  # any character but a lone surrogate
SCALARS = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT
KEYS = st.text(st.characters(max_codepoint=127), max_size=8) | TEXT
VALUES = st.recursive(SCALARS | st.floats(allow_nan=False, allow_infinity=False),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=30)


@settings(max_examples=2000)
@given(VALUES)
def test_every_json_value_has_exactly_the_bytes_rfc8785_gives(value):
    assert canonical(value) == rfc8785.dumps(value)


def test_the_characters_json_must_escape_and_those_it_must_not():
    value = {"b": "\u2028\x7f\x00\x1f\"\\/\t\n\r\b\f王", "a": [1, -(2**53) + 1, True, None], "é": 1.5}
    assert canonical(value) == rfc8785.dumps(value)
    assert canonical({"k": "\x00\n"}) == b'{"k":"\\u0000\\n"}'
