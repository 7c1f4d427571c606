"""Re-driving dead letters (deploy/stack/redrive.py) on a real broker: a message parked by the consumers' own
park() goes back to its source partition unchanged, once; one that still does not decode, or that came from
a topic that is not a source, is refused and nothing is sent; the listing never shows a message's content."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, TopicPartition

from deploy.stack import redrive
from services.contracts import DEAD_LETTER_TOPIC, Envelope, encode
from services.runtime.consumer import park
from services.transport import Message
from services.transport.kafka import KafkaTransport
from tests.harness.kafka_broker import create_topics

pytestmark = pytest.mark.kafka

PERSONAL = "张三 13912345678"


@pytest.fixture
def source(kafka) -> str:
    """A source topic of this test's own, so no other test's consumer reads what it re-drives."""
    name = f"relief.test-redrive-{uuid.uuid4().hex[:8]}"
    create_topics(kafka, [name, DEAD_LETTER_TOPIC])
    return name


def filed(case_id: str) -> bytes:
    at = datetime(2026, 3, 13, 8, 0, tzinfo=UTC)
    return encode(Envelope(str(uuid.uuid4()), "CaseFiled", 1, at, at, "gs.by", case_id, "intake",
                           {"filed_on": "2026-03-13"}))


def parked(kafka: str, source: str, value: bytes, stage: str) -> redrive.DeadLetter:
    """Publish `value` to the source topic, park it as a consumer would, and return its dead letter."""
    key = str(uuid.uuid4())
    publisher = KafkaTransport(kafka).publisher()
    try:
        partition = publisher.partition_for(source, key)
        publisher.publish(source, key, value)
        publisher.flush()
        offset = end(kafka, source, partition) - 1
        park(publisher, "pairing", [(Message(source, partition, offset, key, value, {}), stage, "refused here")])
    finally:
        publisher.close()
    [letter] = [d for d in redrive.read(KafkaTransport(kafka)) if d.source == (source, partition, offset)]
    return letter


def end(kafka: str, topic: str, partition: int) -> int:
    consumer = KafkaConsumer(bootstrap_servers=kafka)
    try:
        tp = TopicPartition(topic, partition)
        return int(consumer.end_offsets([tp])[tp])
    finally:
        consumer.close()


def records(kafka: str, topic: str, partition: int) -> list:
    consumer = KafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        consumer.assign([TopicPartition(topic, partition)])
        consumer.seek_to_beginning()
        return list(consumer)
    finally:
        consumer.close()


def test_a_dead_letter_goes_back_to_its_source_partition_unchanged_once(kafka, source):
    value = filed(str(uuid.uuid4()))
    letter = parked(kafka, source, value, "handler")
    _, partition, offset = letter.source

    [line] = redrive.redrive(KafkaTransport(kafka), [letter], sources=[source])

    assert line == f"re-drove {letter.position} to {source} partition {partition}"
    original, again = records(kafka, source, partition)
    assert original.offset == offset and again.value == value and again.key == original.key
    headers = {k: v.decode() for k, v in again.headers}
    assert headers["redriven-from"] == f"{source}:{partition}:{offset}"
    assert headers["event-id"] == json.loads(value)["event_id"] and headers["event-type"] == "CaseFiled"
    with pytest.raises(redrive.Refused, match="re-driven already"):
        redrive.redrive(KafkaTransport(kafka), [letter], sources=[source])
    assert end(kafka, source, partition) == offset + 2


def test_a_message_every_consumer_parked_is_sent_once_whichever_letter_is_named(kafka, source):
    value = filed(str(uuid.uuid4()))
    letter = parked(kafka, source, value, "handler")
    _, partition, offset = letter.source
    publisher = KafkaTransport(kafka).publisher()
    message = Message(source, partition, offset, letter.key, value, {})
    park(publisher, "aid", [(message, "handler", "refused here too")])
    publisher.close()
    twins = [d for d in redrive.read(KafkaTransport(kafka)) if d.source == letter.source]
    assert [d.headers["consumer"] for d in twins] == ["pairing", "aid"]

    assert len(redrive.redrive(KafkaTransport(kafka), twins, sources=[source])) == 1
    assert end(kafka, source, partition) == offset + 2
    with pytest.raises(redrive.Refused, match="re-driven already"):
        redrive.redrive(KafkaTransport(kafka), [twins[1]], sources=[source])


def test_a_message_that_still_does_not_decode_is_refused_unless_forced(kafka, source):
    letter = parked(kafka, source, json.dumps({"name": PERSONAL}).encode(), "decode")
    _, partition, offset = letter.source

    with pytest.raises(redrive.Refused, match="still does not decode"):
        redrive.redrive(KafkaTransport(kafka), [letter], sources=[source])
    assert end(kafka, source, partition) == offset + 1

    redrive.redrive(KafkaTransport(kafka), [letter], sources=[source], force=True)
    assert end(kafka, source, partition) == offset + 2


def test_nothing_is_sent_when_one_of_the_letters_may_not_be(kafka, source):
    good = parked(kafka, source, filed(str(uuid.uuid4())), "handler")
    other = parked(kafka, source, filed(str(uuid.uuid4())), "handler")
    ends = {p: end(kafka, source, p) for p in {good.source[1], other.source[1]}}

    with pytest.raises(redrive.Refused, match="not one of the source topics"):
        redrive.redrive(KafkaTransport(kafka), [good, other], sources=["relief.intake.case-events"])
    assert {p: end(kafka, source, p) for p in ends} == ends


def test_the_listing_names_each_letter_without_its_content(kafka, source, capsys):
    letter = parked(kafka, source, json.dumps({"name": PERSONAL}).encode(), "decode")
    case_id = str(uuid.uuid4())
    envelope = parked(kafka, source, filed(case_id), "handler")

    assert redrive.main(["list", "--transport", f"kafka://{kafka}"]) == 0

    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith(f"{letter.partition}:{letter.offset} "))
    assert f"pairing decode  from {source}:{letter.source[1]}@{letter.source[2]}" in line
    assert "reason: refused here" in line
    assert PERSONAL not in out
    assert f"CaseFiled event {json.loads(envelope.value)['event_id']} case {case_id}" in out
