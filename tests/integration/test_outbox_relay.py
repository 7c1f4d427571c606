"""The outbox relay publishes stored events in order and marks them sent only once acknowledged."""

from decimal import Decimal

import pytest

from services.contracts import decode
from services.contracts.topics import INTAKE_TOPIC
from services.intake.outbound import case_event
from services.runtime.outbox import OUTBOX_POSITION, OutboxRelay
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


def test_published_events_carry_no_id_number_or_phone(cases, bus):
    body = application_body()
    body["household"]["monthly_income"] = Decimal("900")
    cases.open_case(opened_by="li", **body)
    OutboxRelay(cases, bus.publisher(), case_event, "intake").publish_pending()
    subscription = bus.subscribe("test", [INTAKE_TOPIC], lambda t, p: None)
    [raw] = [m.value for m in subscription.poll(0)]
    assert body["worker"]["id_number"].encode() not in raw
    assert body["worker"]["phone"].encode() not in raw
