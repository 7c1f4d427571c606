"""Read the dead-letter topic and re-drive a parked message to its source topic once the cause is fixed.

    python -m deploy.stack.redrive list [--transport URL]
    python -m deploy.stack.redrive redrive PARTITION:OFFSET [...] [--force] [--again] [--transport URL]

The brokers are those of `--transport`, else of RELIEF_TRANSPORT (with its TLS and SCRAM settings, as a
service reads them), else the stack's.

`list` prints one line per dead letter (its position, when, which consumer parked it at which stage and
why, where it came from, the event's type and ids) and never the message's content: a dead letter holds
the event as it was published, personal data included.

`redrive` publishes the parked bytes again, unchanged, to the topic they came from, keyed as before (so to
the same partition, unless partitions were added), with the headers `event-type`, `event-id` and
`redriven-from` (the original's `<topic>:<partition>:<offset>`). Every consumer of that topic reads it again:
one that applied it before recognises the event id and counts a duplicate, the one that parked it applies
it now, and the audit trail appends it as one more entry (the trail records what the topic holds). It
lands after the partition's newer messages, so a case's events re-driven together go in their original
order. A message every consumer parked is one dead letter per consumer: it is sent once, whichever of them
is named. It refuses a message that still does not decode with this code (`--force` sends it anyway) and
one already re-driven (`--again`), and only sends to the system's source topics.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition

from deploy.stack import layout
from services.contracts import DEAD_LETTER_TOPIC, TOPICS, InvalidEvent, decode
from services.transport.factory import transport_for
from services.transport.kafka import KafkaTransport

REDRIVEN_FROM = "redriven-from"


class Refused(Exception):
    """A dead letter the tool will not re-drive; the message says why."""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp: int  # ms since the epoch, when it was parked
    key: str | None
    value: bytes
    headers: dict[str, str]

    @property
    def position(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def source(self) -> tuple[str, int, int]:
        """The topic, partition and offset the consumer parked it from."""
        h = self.headers
        return h.get("source-topic", ""), int(h.get("source-partition", -1)), int(h.get("source-offset", -1))

    @property
    def source_position(self) -> str:
        return ":".join(str(part) for part in self.source)

    def summary(self) -> str:
        """One line about the dead letter without its content: ids and type only."""
        when = datetime.fromtimestamp(self.timestamp / 1000, UTC).isoformat(timespec="seconds")
        topic, partition, offset = self.source
        h = self.headers
        return (f"{self.partition}:{self.offset}  {when}  {h.get('consumer', '?')} {h.get('stage', '?')}  "
                f"from {topic}:{partition}@{offset}  {_identity(self.value)}  key {self.key}  "
                f"reason: {h.get('reason', '')[:200]}")


def _identity(value: bytes) -> str:
    """The envelope's type and ids, if the bytes hold a JSON object (nothing else of it is shown)."""
    try:
        body = json.loads(value)
    except ValueError:
        return "(not JSON)"
    if not isinstance(body, dict):
        return "(not an envelope)"
    return f"{body.get('type', '?')} event {body.get('event_id', '?')} case {body.get('case_id', '?')}"


def _consumer(transport: KafkaTransport) -> KafkaConsumer:
    """A client in no group, with the transport's brokers and security."""
    return KafkaConsumer(**transport.client_settings("relief-redrive"), enable_auto_commit=False,
                         request_timeout_ms=10000)


def _records(consumer: KafkaConsumer, starts: dict[TopicPartition, int], timeout: float = 60) -> Iterator[DeadLetter]:
    """Every record of the partitions from the given offsets up to their current end (no group)."""
    consumer.assign(list(starts))
    ends = consumer.end_offsets(list(starts))
    waiting = {tp for tp, start in starts.items() if start < ends[tp]}
    for tp in waiting:
        consumer.seek(tp, starts[tp])
    deadline = time.monotonic() + timeout
    while waiting:
        if time.monotonic() > deadline:
            raise Refused(f"could not read {', '.join(f'{tp.topic}:{tp.partition}' for tp in waiting)} to the end")
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for r in records:
                if r.offset < ends[tp]:
                    headers = {k: (v or b"").decode(errors="replace") for k, v in (r.headers or [])}
                    key = r.key.decode(errors="replace") if r.key is not None else None
                    yield DeadLetter(r.topic, r.partition, r.offset, r.timestamp, key, r.value or b"", headers)
            if consumer.position(tp) >= ends[tp]:
                waiting.discard(tp)


def read(transport: KafkaTransport, topic: str = DEAD_LETTER_TOPIC) -> list[DeadLetter]:
    """Every dead letter, oldest first."""
    consumer = _consumer(transport)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        letters = list(_records(consumer, dict.fromkeys(partitions, 0)))
    finally:
        consumer.close(autocommit=False)
    return sorted(letters, key=lambda letter: (letter.timestamp, letter.partition, letter.offset))


def fetch(transport: KafkaTransport, partition: int, offset: int, topic: str = DEAD_LETTER_TOPIC) -> DeadLetter:
    consumer = _consumer(transport)
    try:
        for letter in _records(consumer, {TopicPartition(topic, partition): offset}):
            if letter.offset == offset:
                return letter
            break
    finally:
        consumer.close(autocommit=False)
    raise Refused(f"{topic}:{partition}:{offset} does not exist (or is past the topic's retention)")


def redriven_at(transport: KafkaTransport, letter: DeadLetter, topic: str, partition: int) -> int | None:
    """The offset where the letter was already re-driven, looked for in its target partition after it was
    parked; None if it never was."""
    consumer = _consumer(transport)
    try:
        tp = TopicPartition(topic, partition)
        found = consumer.offsets_for_times({tp: letter.timestamp}).get(tp)
        if found is None:
            return None
        for record in _records(consumer, {tp: found.offset}):
            if record.headers.get(REDRIVEN_FROM) == letter.source_position:
                return record.offset
    finally:
        consumer.close(autocommit=False)
    return None


def redrive(transport: KafkaTransport, letters: Iterable[DeadLetter], sources: Iterable[str] = TOPICS.values(),
            force: bool = False, again: bool = False) -> list[str]:
    """Publish each letter to its source topic, in their original order; one line per letter sent. Raises
    Refused, sending nothing, if any of them may not be sent."""
    allowed = set(sources)
    ordered = sorted({letter.source: letter for letter in reversed(list(letters))}.values(),
                     key=lambda letter: letter.source)  # one send per source message, the first letter named
    publisher = transport.publisher()
    try:
        sends = []
        for letter in ordered:
            topic = letter.source[0]
            if topic not in allowed:
                raise Refused(f"{letter.position} came from {topic!r}, not one of the source topics")
            headers = {REDRIVEN_FROM: letter.source_position}
            try:
                envelope = decode(letter.value)
                headers.update({"event-type": envelope.type, "event-id": envelope.event_id})
            except InvalidEvent as exc:
                if not force:
                    raise Refused(f"{letter.position} still does not decode: {exc.reason}") from exc
            partition = publisher.partition_for(topic, letter.key or "")
            if not again and (at := redriven_at(transport, letter, topic, partition)) is not None:
                raise Refused(f"{letter.position} was re-driven already, to {topic}:{partition}@{at}")
            sends.append((letter, topic, partition, headers))
        for letter, topic, _, headers in sends:
            publisher.publish(topic, letter.key or "", letter.value, headers)
        publisher.flush()
    finally:
        publisher.close()
    return [f"re-drove {letter.position} to {topic} partition {partition}"
            + ("" if partition == letter.source[1] else f" (it came from partition {letter.source[1]})")
            for letter, topic, partition, _ in sends]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack.redrive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("list", "redrive"))
    parser.add_argument("positions", nargs="*", metavar="PARTITION:OFFSET", help="redrive: dead letters to send")
    parser.add_argument("--transport", help="kafka://… (default: RELIEF_TRANSPORT, else the stack's)")
    parser.add_argument("--force", action="store_true", help="send a message even if it does not decode")
    parser.add_argument("--again", action="store_true", help="send a message even if it was re-driven before")
    args = parser.parse_args(argv)
    transport = transport_for(args.transport or os.environ.get("RELIEF_TRANSPORT") or layout.load().transport_url)
    if not isinstance(transport, KafkaTransport):
        parser.error("dead letters are re-driven on Kafka: give a kafka:// transport")
    if args.command == "list":
        letters = read(transport)
        for letter in letters:
            print(letter.summary())
        print(f"{len(letters)} dead letter(s) in {DEAD_LETTER_TOPIC}", file=sys.stderr)
        return 0
    if not args.positions:
        parser.error("redrive needs the PARTITION:OFFSET of each dead letter (`list` shows them)")
    wanted = []
    for position in args.positions:
        partition, _, offset = position.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            parser.error(f"{position!r}: a position is PARTITION:OFFSET, two whole numbers")
        wanted.append((int(partition), int(offset)))
    try:
        letters = [fetch(transport, partition, offset) for partition, offset in wanted]
        for line in redrive(transport, letters, force=args.force, again=args.again):
            print(line)
    except Refused as exc:
        print(f"refused, nothing sent: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
