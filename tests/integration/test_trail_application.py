"""The audit application's exactly-once contract, on memory, SQLite and PostgreSQL."""

import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from services.audit.application import HistoryNotFound
from services.contracts import Envelope


def envelope(case_id, event_type="CaseFiled", event_id=None):
    now = datetime.now(UTC)
    return Envelope(event_id or str(uuid.uuid4()), event_type, 1, now, now, "gs.by", case_id, "intake",
                    {"filed_on": "2026-03-13"})


def test_events_of_a_case_are_kept_in_arrival_order_with_their_position(trail):
    case_id = str(uuid.uuid4())
    for offset in range(3):
        assert trail.record_event(envelope(case_id), Tracking("t:0", offset))
    assert len(trail.history(case_id).entries) == 3
    assert trail.position("t:0") == 2


def test_a_redelivered_message_changes_nothing(trail):
    case_id = str(uuid.uuid4())
    first = envelope(case_id)
    trail.record_event(first, Tracking("t:0", 7))
    with pytest.raises(IntegrityError):
        trail.record_event(first, Tracking("t:0", 7))
    assert len(trail.history(case_id).entries) == 1


def test_a_resent_event_at_a_new_offset_is_recognised_and_skipped(trail):
    case_id = str(uuid.uuid4())
    first = envelope(case_id)
    assert trail.record_event(first, Tracking("t:0", 1))
    assert trail.record_event(first, Tracking("t:0", 2)) is False
    assert len(trail.history(case_id).entries) == 1
    assert trail.position("t:0") == 2


def test_an_unknown_case_has_no_history(trail):
    with pytest.raises(HistoryNotFound):
        trail.history(str(uuid.uuid4()))
