"""decode's short way for the envelopes producers write gives exactly what EnvelopeSchema gives, and never
accepts what EnvelopeSchema refuses (services/contracts/envelope.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from services.contracts import InvalidEvent, decode, encode
from services.contracts.envelope import ENVELOPE, Envelope, _plain_envelope


def produced() -> dict:
    """An envelope as a producer writes it (encode's JSON, loaded back)."""
    import json

    now = datetime(2026, 12, 2, 8, 30, 15, 123456, tzinfo=UTC)
    envelope = Envelope(event_id=str(uuid4()), type="CaseFiled", version=1, occurred_at=now, recorded_at=now,
                        federation="gs.by", case_id=str(uuid4()), service="intake", payload={"filed_on": "2026-12-01"})
    return json.loads(encode(envelope))


ODD = {
    "event_id": ["", "x", str(uuid4()).upper(), str(uuid4()).replace("-", ""), "{" + str(uuid4()) + "}",
                 "urn:uuid:" + str(uuid4()), str(uuid4()) + "\n", " " + str(uuid4()), 7, None, []],
    "case_id": [str(uuid4()).upper(), str(uuid4()) + "\n", str(uuid4())[:-1], 1.5, None],
    "type": ["caseFiled", "Case Filed", "CaseFiled\n", "C", "Case1", "", 3, None, "案件"],
    "version": [0, -1, 1.0, "1", True, False, 2**70, None, 2],
    "occurred_at": ["2026-12-02T08:30:15+00:00", "2026-12-02T08:30:15Z", "2026-12-02T08:30:15.5+08:00",
                    "2026-12-02T08:30:15.123+00:00", "2026-12-02T08:30:15.123456", "2026-12-02",
                    "2026-02-30T00:00:00+00:00", "2026-12-02T24:00:00+00:00", "2026-12-02 08:30:15+00:00",
                    "2026-12-02T08:30:15.123456+00:00\n",
                    "2026-12-02T08:30:15+14:00", "2026-12-02T08:30:15-23:59", "2026-12-02T08:30:15+25:00",
                    "２０２６-12-02T08:30:15+00:00", 1764664215, None],
    "recorded_at": ["2026-12-02T08:30:15.000001-05:30", "2026-13-02T08:30:15+00:00", "", None],
    "federation": ["gs", "gs.by", "GS.BY", "gs..by", "gs.by\n", "gs.by.", "", 5, None],
    "service": ["intake", "pairing", "aid", "audit", "gateway", "Intake", "", None],
    "payload": [{}, {"a": 1}, [], "x", None, {1: "a"}],
}


def outcome(data: dict):
    try:
        return ("ok", ENVELOPE.load(data))
    except ValidationError:
        return ("refused", None)


def check(data: dict) -> None:
    fast = _plain_envelope(data)
    if fast is not None:
        assert outcome(data) == ("ok", fast)
        assert fast.to_dict() == ENVELOPE.load(data).to_dict()


def test_what_producers_write_takes_the_short_way_and_equals_the_schemas_result():
    data = produced()
    fast = _plain_envelope(data)
    assert fast is not None
    assert fast == ENVELOPE.load(data)
    assert fast.occurred_at.utcoffset() is not None


@pytest.mark.parametrize("field", sorted(ODD))
def test_every_odd_value_of_every_field_is_either_refused_by_both_or_loaded_alike(field):
    for value in ODD[field]:
        data = produced()
        data[field] = value
        check(data)


def test_a_missing_or_an_extra_field_goes_the_long_way():
    data = produced()
    del data["service"]
    assert _plain_envelope(data) is None
    data = produced()
    data["extra"] = 1
    assert _plain_envelope(data) is None
    with pytest.raises(InvalidEvent, match="extra"):
        import json

        decode(json.dumps(data).encode())


@settings(max_examples=500)
@given(st.dictionaries(st.sampled_from(sorted(ODD)), st.sampled_from([v for vs in ODD.values() for v in vs]),
                       max_size=6))
def test_any_mix_of_odd_values_agrees(changes):
    data = produced()
    data.update(changes)
    check(data)


@settings(max_examples=300)
@given(st.datetimes(timezones=st.timezones()), st.datetimes(timezones=st.timezones()))
def test_any_aware_time_as_producers_write_it_loads_to_the_same_instant_and_text(occurred, recorded):
    data = produced()
    data["occurred_at"], data["recorded_at"] = occurred.isoformat(), recorded.isoformat()
    check(data)
