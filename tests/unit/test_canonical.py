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


@settings(max_examples=1000)
@given(st.dictionaries(KEYS, VALUES, max_size=5), st.sampled_from(["name", "phone", "x", "health"]))
def test_an_entry_has_the_same_bytes_whether_the_seal_found_its_event_plain_or_not(payload, personal):
    """The trail's sequencer skips the second walk for an event seal_checked found plain: same bytes."""
    from services.audit.entries import Source, entry_bytes, seal_checked

    payload = {**payload, personal: payload.get(personal, "王")}
    envelope = {"event_id": "e", "type": "CaseOpened", "version": 1, "case_id": "c", "payload": payload}
    sealed, _, plain = seal_checked(envelope, salt=lambda: b"\0" * 16)
    source = Source("relief.intake.case-events", 0, 7)
    expected = rfc8785.dumps({"index": 3, "case_id": "c", "case_seq": 1, "prev_case_hash": None,
                              "source": source.as_dict(), "event": sealed})
    assert entry_bytes(3, "c", 1, None, source, sealed, plain) == expected
    assert entry_bytes(3, "c", 1, None, source, sealed) == expected
