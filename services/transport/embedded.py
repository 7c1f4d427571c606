"""The embedded transport: a durable, Kafka-like log in one SQLite file, shared in-process.

It keeps Kafka's semantics (per-topic offsets, consumers resume from positions they track
themselves), so service code and tests behave the same on one machine as on a cluster.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence

from services.transport.base import Message, StartAt

PARTITION = 0  # one partition per topic: a single process needs no more to keep order


class EmbeddedTransport:
    def __init__(self, path: str):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS log (topic TEXT, offset INTEGER, key TEXT, value BLOB, "
            "headers TEXT, PRIMARY KEY (topic, offset)) WITHOUT ROWID"
        )
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def publisher(self) -> EmbeddedPublisher:
        return EmbeddedPublisher(self)

    def subscribe(
        self, group: str, topics: Sequence[str], start_at: StartAt, instance: str | None = None
    ) -> EmbeddedSubscription:
        return EmbeddedSubscription(self, topics, start_at)

    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Topics need no creation here: a topic exists once something is appended to it."""

    def last_headers(self, topic: str) -> dict[int, dict[str, str]]:
        with self._lock:
            row = self._db.execute(
                "SELECT headers FROM log WHERE topic = ? ORDER BY offset DESC LIMIT 1", (topic,)
            ).fetchone()
        return {PARTITION: json.loads(row[0])} if row else {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, messages: Sequence[tuple[str, str, bytes, dict[str, str]]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ends: dict[str, int] = {}
                rows = []
                for topic, key, value, headers in messages:
                    if topic not in ends:
                        ends[topic] = self._end(topic)
                    rows.append((topic, ends[topic], key, value, json.dumps(headers)))
                    ends[topic] += 1
                self._db.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._arrived.notify_all()

    def read(self, positions: dict[str, int], limit: int, timeout: float) -> list[Message]:
        with self._lock:
            found = self._read(positions, limit)
            if not found and timeout > 0:
                self._arrived.wait(timeout)
                found = self._read(positions, limit)
            return found

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        with self._lock:
            return {(topic, PARTITION): self._end(topic) for topic in topics}

    def _end(self, topic: str) -> int:
        """The offset the next message of this topic will get."""
        return int(self._db.execute("SELECT COALESCE(MAX(offset), -1) + 1 FROM log WHERE topic = ?", (topic,))
                   .fetchone()[0])

    def _read(self, positions: dict[str, int], limit: int) -> list[Message]:
        found: list[Message] = []
        for topic, next_offset in positions.items():
            rows = self._db.execute(
                "SELECT offset, key, value, headers FROM log WHERE topic = ? AND offset >= ? "
                "ORDER BY offset LIMIT ?",
                (topic, next_offset, limit - len(found)),
            ).fetchall()
            found += [Message(topic, PARTITION, o, k, v, json.loads(h)) for o, k, v, h in rows]
            if len(found) >= limit:
                break
        return found


class EmbeddedPublisher:
    def __init__(self, transport: EmbeddedTransport):
        self._transport = transport
        self._pending: list[tuple[str, str, bytes, dict[str, str]]] = []

    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        self._pending.append((topic, key, value, headers or {}))

    def partition_for(self, topic: str, key: str) -> int:
        return PARTITION

    def flush(self, timeout: float = 30.0) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self._transport.append(pending)

    def close(self) -> None:
        """Nothing to release: the log belongs to the transport."""


class EmbeddedSubscription:
    def __init__(self, transport: EmbeddedTransport, topics: Sequence[str], start_at: StartAt):
        self._transport = transport
        self._next: dict[str, int] = {}
        self._paused: set[str] = set()
        for topic in topics:
            done = start_at(topic, PARTITION)
            self._next[topic] = 0 if done is None else done + 1

    def poll(self, timeout: float) -> list[Message]:
        reading = {t: n for t, n in self._next.items() if t not in self._paused}
        messages = self._transport.read(reading, limit=500, timeout=timeout) if reading else []
        for message in messages:
            self._next[message.topic] = message.offset + 1
        return messages

    def commit(self, messages: Sequence[Message]) -> None:
        """Positions live with the consumer's own store; the embedded log keeps none."""

    def assigned(self) -> set[tuple[str, int]] | None:
        return {(topic, PARTITION) for topic in self._next}

    def pause(self, topic: str, partition: int) -> None:
        self._paused.add(topic)

    def resume(self, topic: str, partition: int, offset: int) -> None:
        self._next[topic] = offset
        self._paused.discard(topic)

    def close(self) -> None:
        self._next = {}
