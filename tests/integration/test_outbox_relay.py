"""The outbox relay publishes stored events in order and marks them sent only once acknowledged."""

from decimal import Decimal

import pytest

from services.contracts import decode
from services.contracts.topics import INTAKE_TOPIC
from services.intake.outbound import case_event
from services.runtime.outbox import OUTBOX_POSITION, OutboxRelay, UnmappableEvent, published_positions, store_origin
from services.transport import PublishFailed
from services.transport.embedded import EmbeddedTransport
from tests.factories import application_body


class RefusingPublisher:
    """A broker that never acknowledges."""

    def publish(self, topic, key, value, headers=None):
        pass

    def flush(self, timeout=30.0):
        raise PublishFailed("broker unreachable")

    def close(self):
        pass


@pytest.fixture
def bus(tmp_path):
    transport = EmbeddedTransport(str(tmp_path / "bus.db"))
    yield transport
    transport.close()


def open_cases(cases, n):
    ids = []
    for _ in range(n):
        body = application_body()
        body["household"]["monthly_income"] = Decimal("900")
        ids.append(str(cases.open_case(opened_by="li", **body).id))
    return ids


def published(bus):
    subscription = bus.subscribe("test", [INTAKE_TOPIC], lambda t, p: None)
    return [decode(m.value) for m in subscription.poll(0)]


def test_pending_events_are_published_in_order_and_marked(cases, bus):
    ids = open_cases(cases, 5)
    relay = OutboxRelay(cases, bus.publisher(), case_event, "intake", batch=2)
    while relay.publish_pending():
        pass
    events = published(bus)
    assert [e.case_id for e in events] == ids
    assert {e.type for e in events} == {"CaseOpened"}
    assert cases.position(OUTBOX_POSITION) == cases.recorder.max_notification_id()


def test_nothing_is_marked_sent_when_the_broker_does_not_acknowledge(cases, bus):
    open_cases(cases, 2)
    with pytest.raises(PublishFailed):
        OutboxRelay(cases, RefusingPublisher(), case_event, "intake").publish_pending()
    assert cases.position(OUTBOX_POSITION) is None
    OutboxRelay(cases, bus.publisher(), case_event, "intake").publish_pending()
    assert len(published(bus)) == 2


class SlowBroker:
    """A broker that acknowledges only after a restart: the first flush times out with every message still
    queued in the producer (which goes on delivering them), the next one succeeds."""

    def __init__(self, publisher):
        self.publisher, self.flushes = publisher, 0

    def publish(self, topic, key, value, headers=None):
        self.publisher.publish(topic, key, value, headers)

    def partition_for(self, topic, key):
        return self.publisher.partition_for(topic, key)

    def flush(self, timeout=30.0):
        self.flushes += 1
        if self.flushes == 1:
            raise PublishFailed("flush: timed out", pending=True)
        self.publisher.flush(timeout)


def test_a_flush_that_timed_out_is_finished_by_flushing_again_never_by_sending_again(cases, bus):
    ids = open_cases(cases, 3)
    relay = OutboxRelay(cases, SlowBroker(bus.publisher()), case_event, "intake")
    with pytest.raises(PublishFailed):
        relay.publish_pending()
    assert cases.position(OUTBOX_POSITION) is None  # not acknowledged: not marked
    relay.publish_pending()  # the broker is back: the same batch is acknowledged, and marked
    assert [e.case_id for e in published(bus)] == ids  # each once
    assert cases.position(OUTBOX_POSITION) == cases.recorder.max_notification_id()


def test_published_events_carry_no_id_number_or_phone(cases, bus):
    body = application_body()
    body["household"]["monthly_income"] = Decimal("900")
    cases.open_case(opened_by="li", **body)
    OutboxRelay(cases, bus.publisher(), case_event, "intake").publish_pending()
    subscription = bus.subscribe("test", [INTAKE_TOPIC], lambda t, p: None)
    [raw] = [m.value for m in subscription.poll(0)]
    assert body["worker"]["id_number"].encode() not in raw
    assert body["worker"]["phone"].encode() not in raw


def test_a_stored_event_that_cannot_be_mapped_stops_the_relay_there_and_is_never_skipped(cases, bus):
    ids = open_cases(cases, 3)
    broken = {ids[1]}

    def outbound(app, notification, now):
        envelope = case_event(app, notification, now)
        if envelope is not None and envelope.case_id in broken:
            raise KeyError("a field the builder expects is missing")
        return envelope

    relay = OutboxRelay(cases, bus.publisher(), outbound, "intake")
    with pytest.raises(UnmappableEvent) as stopped:
        relay.publish_pending()
    assert "cannot be published" in str(stopped.value)
    assert [e.case_id for e in published(bus)] == ids[:1]  # what comes before it goes out and is marked
    assert cases.position(OUTBOX_POSITION) == 1
    broken.clear()  # the fix is deployed
    relay.publish_pending()
    assert [e.case_id for e in published(bus)] == ids


def test_a_relay_that_takes_over_does_not_resend_what_its_predecessor_sent_but_did_not_mark(
    cases, bus, monkeypatch
):
    ids = open_cases(cases, 4)
    # The predecessor is killed after the broker acknowledged its batch, before it marked it sent.
    with monkeypatch.context() as killed_before_marking:
        killed_before_marking.setattr(cases.process_recorder, "insert_tracking", lambda tracking: None)
        OutboxRelay(cases, bus.publisher(), case_event, "intake").publish_pending()
    assert cases.position(OUTBOX_POSITION) is None
    already = published_positions(bus, INTAKE_TOPIC, store_origin(cases))
    OutboxRelay(cases, bus.publisher(), case_event, "intake", published=already).publish_pending()
    assert [e.case_id for e in published(bus)] == ids  # each once
    assert cases.position(OUTBOX_POSITION) == cases.recorder.max_notification_id()
    other_store = published_positions(bus, INTAKE_TOPIC, "another-store")
    assert other_store == {}  # positions of another store never count
