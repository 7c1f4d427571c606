"""Both transports keep the contract the services rely on: per-key order, resume, lag."""

import uuid

import pytest

from services.transport.embedded import EmbeddedTransport
from services.transport.kafka import KafkaTransport


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def transport(request, tmp_path):
    if request.param == "embedded":
        transport = EmbeddedTransport(str(tmp_path / "bus.db"))
    else:
        transport = KafkaTransport(request.getfixturevalue("kafka"))
    yield transport
    transport.close()


def drain(subscription, want, rounds=40):
    got = []
    for _ in range(rounds):
        got += subscription.poll(0.5)
        if len(got) >= want:
            break
    return got


def test_messages_arrive_with_key_headers_and_in_order_per_key(transport):
    topic = f"test.{uuid.uuid4().hex[:8]}"
    transport.ensure_topics([topic])
    publisher = transport.publisher()
    for i in range(20):
        publisher.publish(topic, f"case-{i % 3}", f"{i}".encode(), {"event-type": "T"})
    publisher.flush()
    subscription = transport.subscribe(f"g-{uuid.uuid4().hex[:6]}", [topic], lambda t, p: None)
    got = drain(subscription, 20)
    subscription.close()
    assert len(got) == 20
    for key in ("case-0", "case-1", "case-2"):
        values = [int(m.value) for m in got if m.key == key]
        assert values == sorted(values)
    assert all(m.headers == {"event-type": "T"} for m in got)


def test_a_subscription_resumes_after_the_position_it_is_given(transport):
    topic = f"test.{uuid.uuid4().hex[:8]}"
    transport.ensure_topics([topic])
    publisher = transport.publisher()
    for i in range(10):
        publisher.publish(topic, "same-key", f"{i}".encode())
    publisher.flush()
    first = transport.subscribe(f"g-{uuid.uuid4().hex[:6]}", [topic], lambda t, p: None)
    everything = drain(first, 10)
    first.close()
    done = {(m.topic, m.partition): m.offset for m in everything[:4]}
    resumed = transport.subscribe(f"g-{uuid.uuid4().hex[:6]}", [topic], lambda t, p: done.get((t, p)))
    rest = drain(resumed, 6)
    resumed.close()
    assert [int(m.value) for m in rest] == [4, 5, 6, 7, 8, 9]
