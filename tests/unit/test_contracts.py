import json
import uuid
from datetime import UTC, datetime

import pytest

from services.contracts import Envelope, InvalidEvent, decode, encode


def envelope(**overrides):
    fields = {
        "event_id": str(uuid.uuid4()),
        "type": "CaseFiled",
        "version": 1,
        "occurred_at": datetime(2026, 3, 13, 8, 0, tzinfo=UTC),
        "recorded_at": datetime(2026, 3, 13, 8, 0, 1, tzinfo=UTC),
        "federation": "gs.by",
        "case_id": str(uuid.uuid4()),
        "service": "intake",
        "payload": {"filed_on": "2026-03-13"},
    }
    fields.update(overrides)
    return Envelope(**fields)


def test_an_event_survives_encoding_and_decoding():
    original = envelope()
    assert decode(encode(original)) == original


def test_a_payload_that_breaks_its_schema_is_not_encoded_when_checked():
    with pytest.raises(InvalidEvent, match="filed_on"):
        encode(envelope(payload={"filed_on": "not a date"}), check=True)


def test_a_payload_that_breaks_its_schema_is_refused_by_consumers():
    with pytest.raises(InvalidEvent, match="filed_on"):
        decode(encode(envelope(payload={"filed_on": "not a date"})))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (None, "empty"),
        (b'{"type": "CaseFiled"}', "envelope"),
    ],
)
def test_garbage_is_rejected_with_a_reason(raw, reason):
    with pytest.raises(InvalidEvent, match=reason):
        decode(raw)


def test_an_unknown_event_type_or_version_is_rejected():
    data = json.loads(encode(envelope()))
    data["version"] = 9
    with pytest.raises(InvalidEvent, match="unknown event type 'CaseFiled' version 9"):
        decode(json.dumps(data).encode())


def test_a_naive_timestamp_is_rejected():
    data = json.loads(encode(envelope()))
    data["occurred_at"] = "2026-03-13T08:00:00"
    with pytest.raises(InvalidEvent, match="occurred_at"):
        decode(json.dumps(data).encode())
