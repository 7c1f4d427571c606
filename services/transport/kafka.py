"""The Kafka transport (kafka-python), for a system that spans more than one machine."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import FencedInstanceIdError, KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2
from kafka.structs import OffsetAndMetadata

from services.contracts.topics import PARTITIONS
from services.transport.base import Fenced, Message, PublishFailed, StartAt
from services.transport.security import PLAINTEXT, KafkaSecurity

# After a broker restart, clients reconnect within a second instead of backing off for up to 30 s.
RECONNECT = {"reconnect_backoff_ms": 100, "reconnect_backoff_max_ms": 1000, "retry_backoff_ms": 100}

log = logging.getLogger(__name__)


class KafkaTransport:
    def __init__(self, bootstrap: str, replication: int = 1, client_id: str = "relief",
                 security: KafkaSecurity = PLAINTEXT):
        self.bootstrap = bootstrap.split(",")
        self.replication = replication
        self.client_id = client_id
        self.security = security
        self._offsets: KafkaConsumer | None = None  # end_offsets' client, made on first use
        self._offsets_lock = threading.Lock()

    def client_settings(self, client_id: str | None = None) -> dict[str, Any]:
        """What every client of this transport is made with: the brokers, a name, fast reconnects and the
        security (TLS, SCRAM login), so no client can reach the brokers in any other way."""
        return {"bootstrap_servers": self.bootstrap, "client_id": client_id or self.client_id, **RECONNECT,
                **self.security.client_settings()}

    def publisher(self) -> KafkaPublisher:
        return KafkaPublisher(
            KafkaProducer(
                **self.client_settings(),
                acks="all",
                enable_idempotence=True,
                linger_ms=2,
                request_timeout_ms=10000,
                max_block_ms=5000,  # send() and metadata waits on a broker that is down end within 5 s
            )
        )

    def subscribe(
        self, group: str, topics: Sequence[str], start_at: StartAt, instance: str | None = None
    ) -> KafkaSubscription:
        # A static member (KIP-345) that restarts gets its partitions back at once, without
        # waiting for the group to notice the old process is gone.
        consumer = KafkaConsumer(
            **self.client_settings(),
            group_id=group,
            group_instance_id=instance,
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            # Also the rebalance timeout: how long a rebalance waits for a member that died mid-join
            # (Kafka's 300 s default would stop the group for five minutes). The consumer polls every 0.5 s.
            max_poll_interval_ms=15000,
        )
        listener = _ResumeFromTracking(consumer, start_at)
        consumer.subscribe(list(topics), listener=listener)
        return KafkaSubscription(consumer, listener)

    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create missing topics with the system's partition count; existing ones are left alone."""
        admin = KafkaAdminClient(**self.client_settings(), request_timeout_ms=5000)
        try:
            existing = set(admin.list_topics())
            missing = [
                NewTopic(name=t, num_partitions=PARTITIONS, replication_factor=self.replication)
                for t in topics
                if t not in existing
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another service created it first
                    admin.create_topics(missing)
        finally:
            admin.close()

    def last_headers(self, topic: str, timeout: float = 10.0) -> dict[int, dict[str, str]]:
        """Read the newest message of each partition (once, when a relay takes over publishing)."""
        consumer = KafkaConsumer(**self.client_settings(), enable_auto_commit=False, request_timeout_ms=5000)
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:
                return {}
            consumer.assign(partitions)
            ends = consumer.end_offsets(partitions)
            waiting = {tp: ends[tp] - 1 for tp in partitions if ends.get(tp)}
            for tp, last in waiting.items():
                consumer.seek(tp, last)
            found: dict[int, dict[str, str]] = {}
            deadline = time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=500).items():
                    for record in records:
                        if record.offset == waiting.get(tp):
                            found[tp.partition] = {k: (v or b"").decode(errors="replace") for k, v in record.headers}
                            del waiting[tp]
            if waiting:
                raise PublishFailed(f"could not read the newest message of {len(waiting)} partition(s) of {topic}")
            return found
        finally:
            consumer.close(autocommit=False)

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """Every partition's end, asked of the brokers (within 5 s) by a client of this transport's own that
        belongs to no group."""
        with self._offsets_lock:
            if self._offsets is None:
                self._offsets = KafkaConsumer(**self.client_settings(f"{self.client_id}-lag"),
                                              enable_auto_commit=False, request_timeout_ms=5000)
            partitions = []
            for topic in topics:
                found = self._offsets.partitions_for_topic(topic)
                if not found:  # never silently absent: a lag nobody can see is reported as not measured
                    raise LookupError(f"topic {topic} has no partition this client may see (missing, or no "
                                      "DESCRIBE right)")
                partitions += [TopicPartition(topic, p) for p in sorted(found)]
            ends = self._offsets.end_offsets(partitions, timeout_ms=5000)
            return {(tp.topic, tp.partition): int(end) for tp, end in ends.items()}

    def close(self) -> None:
        """Clients are owned by the publishers and subscriptions handed out, but for the offsets client."""
        with self._offsets_lock:
            if self._offsets is not None:
                self._offsets.close(autocommit=False)
                self._offsets = None


class KafkaPublisher:
    def __init__(self, producer: KafkaProducer):
        self._producer = producer
        self._futures: list[Any] = []

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        encoded = [(k, v.encode()) for k, v in (headers or {}).items()]
        future = self._producer.send(
            topic, value=value, key=key.encode(), headers=encoded, partition=self.partition_for(topic, key)
        )
        self._futures.append(future)

    def partition_for(self, topic: str, key: str) -> int:
        """Kafka's default choice (murmur2 of the key over the sorted partitions), made here so it is known."""
        try:
            partitions = sorted(self._producer.partitions_for(topic))  # the producer's cached metadata
        except KafkaError as exc:
            raise PublishFailed(f"no metadata for {topic}: {exc}") from exc
        return partitions[(murmur2(key.encode()) & 0x7FFFFFFF) % len(partitions)]

    def flush(self, timeout: float = 30.0) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:  # not yet acknowledged, still being retried: a later flush waits for them
            raise PublishFailed(f"flush: {exc}", pending=True) from exc
        futures, self._futures = self._futures, []
        failed = [f.exception for f in futures if not f.succeeded()]
        if failed:
            raise PublishFailed(f"{len(failed)} of {len(futures)} not acknowledged: {failed[0]}")

    def close(self) -> None:
        """Close the producer; messages still queued (the broker is down) are dropped, never raised about:
        the outbox resends whatever it has not marked as sent."""
        try:
            self._producer.close(timeout=2)
        except KafkaError as exc:
            log.warning("producer closed with messages unsent: %s", exc)


class KafkaSubscription:
    def __init__(self, consumer: KafkaConsumer, listener: _ResumeFromTracking):
        self._consumer = consumer
        self._listener = listener

    def poll(self, timeout: float) -> list[Message]:
        try:
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000))
        except FencedInstanceIdError as exc:
            raise Fenced(str(exc)) from exc
        messages = []
        for records in batches.values():
            for r in records:
                headers = {k: (v or b"").decode(errors="replace") for k, v in (r.headers or [])}
                key = r.key.decode(errors="replace") if r.key is not None else None
                messages.append(Message(r.topic, r.partition, r.offset, key, r.value, headers))
        return messages

    def commit(self, messages: Sequence[Message]) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for m in messages:
            offsets[TopicPartition(m.topic, m.partition)] = OffsetAndMetadata(m.offset + 1, "", -1)
        if offsets:
            try:
                self._consumer.commit(offsets=offsets)
            except FencedInstanceIdError as exc:
                raise Fenced(str(exc)) from exc
            except KafkaError as exc:  # only an operator's view of progress; tracking is the truth
                log.warning("offset commit failed: %s", exc)

    def assigned(self) -> set[tuple[str, int]] | None:
        if not self._listener.joined:
            return None
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def pause(self, topic: str, partition: int) -> None:
        self._consumer.pause(TopicPartition(topic, partition))

    def resume(self, topic: str, partition: int, offset: int) -> None:
        tp = TopicPartition(topic, partition)
        if tp in self._consumer.assignment():
            self._consumer.seek(tp, offset)
            self._consumer.resume(tp)

    def close(self) -> None:
        self._consumer.close(autocommit=False)


class _ResumeFromTracking(ConsumerRebalanceListener):
    """On assignment, seek each partition to just after the offset the service last recorded."""

    def __init__(self, consumer: KafkaConsumer, start_at: StartAt):
        self._consumer = consumer
        self._start_at = start_at
        self.joined = False  # the group has assigned this member its partitions (perhaps none) at least once

    def on_partitions_revoked(self, revoked: Any) -> None:
        """Nothing to hand over: positions are recorded with each effect, not on revocation."""

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.joined = True
        resumed = []
        for tp in assigned:
            done = self._start_at(tp.topic, tp.partition)
            if done is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, done + 1)
            resumed.append(f"{tp.topic}:{tp.partition}@{'start' if done is None else done + 1}")
        log.info("assigned %s", ", ".join(sorted(resumed)) or "no partitions")
