"""The throwaway Kafka broker carries a keyed message with headers, so transport tests can trust it."""

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.harness.kafka_broker import KafkaBroker, create_topics

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def bootstrap():
    """A broker of this module's own, until the session-wide fixture takes over."""
    with KafkaBroker() as broker:
        yield broker.bootstrap


def test_round_trip_keeps_key_value_and_headers(bootstrap):
    topic = f"harness-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [topic], partitions=3)

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(topic, key=b"case-1", value=b"opened", headers=[("trace", b"t-1")]).get(timeout=10)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"harness-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
    )
    try:
        message = next(iter(consumer))
        consumer.commit()
    finally:
        consumer.close()

    assert (message.key, message.value, message.headers) == (b"case-1", b"opened", [("trace", b"t-1")])
