"""Two audit replicas share one PostgreSQL store over Kafka: one sequencer appends, and when it is killed
mid-stream the standby takes the lease and appends within 15 s; every published message ends up in the
trail exactly once, with no gap, and the Go client verifies the log against a checkpoint kept before the kill.

The takeover is the lease (4 s, renewed every second, asked for every second by the standby) followed by
Kafka's consumer group: the killed sequencer stays a member until its 10 s session times out, and the
standby's join waits for that. Both parts are measured from the store and printed.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import requests
from kafka import KafkaConsumer, TopicPartition

from services.audit.note import Signer
from services.audit.sequencer import LEASE
from services.config import DEV_AUDIT_SIGNING_KEY, DEV_JWT_SECRET
from services.contracts import Envelope, encode
from services.contracts.topics import TOPICS
from services.transport import transport_for
from services.web.auth import issue_token
from tests.e2e.flows import wait_for
from tests.harness.services import ProcessSystem, environment

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

VERIFIER = Signer.parse(DEV_AUDIT_SIGNING_KEY).verifier.format()
REPLICAS = ("audit-a", "audit-b")
AUDITOR = issue_token(DEV_JWT_SECRET, "shen", "auditor", "gs")
TAKEOVER_SECONDS = 15.0
EVERY = 0.01  # the producer publishes a message about every 10 ms, alternating two source topics


def case_filed(case_id: str) -> bytes:
    now = datetime.now(UTC)
    return encode(Envelope(str(uuid.uuid4()), "CaseFiled", 1, now, now, "gs.by", case_id, "intake",
                           {"filed_on": "2026-03-13"}))


def coverage_gap(case_id: str) -> bytes:
    now = datetime.now(UTC)
    return encode(Envelope(str(uuid.uuid4()), "CoverageGap", 1, now, now, "gs.by", case_id, "pairing",
                           {"reason": "no cadre in the unit", "since": "2026-03-13", "from_cadre_id": None}))


class Producer(threading.Thread):
    """Publish valid envelopes to the intake and pairing topics steadily until stopped; keep the event ids
    the broker acknowledged."""

    def __init__(self, kafka: str):
        super().__init__(name="steady-producer", daemon=True)
        self.publisher = transport_for(f"kafka://{kafka}").publisher()
        self.cases = [str(uuid.uuid4()) for _ in range(200)]
        self.acknowledged: list[str] = []
        self.stopping = threading.Event()
        self.problem: Exception | None = None

    def run(self) -> None:
        pending: list[str] = []
        n = 0
        try:
            while not self.stopping.is_set():
                case_id = self.cases[n % len(self.cases)]
                topic, value = (TOPICS["intake"], case_filed(case_id)) if n % 2 else (TOPICS["pairing"],
                                                                                      coverage_gap(case_id))
                self.publisher.publish(topic, case_id, value)
                pending.append(json.loads(value)["event_id"])
                n += 1
                if len(pending) >= 20:
                    self.publisher.flush()
                    self.acknowledged += pending
                    pending = []
                time.sleep(EVERY)
            self.publisher.flush()
            self.acknowledged += pending
        except Exception as exc:  # the test fails on it after join()
            self.problem = exc
        finally:
            self.publisher.close()

    def stop(self) -> list[str]:
        self.stopping.set()
        self.join(30)
        assert self.problem is None, self.problem
        return self.acknowledged


class Store:
    """The replicas' shared store, read directly: the lease row, the batches and their writers, the entries."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(url, autocommit=True)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def holder(self) -> str | None:
        found = self.rows("SELECT holder FROM relief_leases WHERE name = %s AND expires_at > %s", LEASE, time.time())
        return found[0][0] if found else None

    def first_batch_of(self, writer: str) -> int | None:
        found = self.rows("SELECT min(first) FROM trail_batches WHERE writer = %s", writer)
        return None if found[0][0] is None else int(found[0][0])

    def appended_at(self, index: int) -> float:
        return float(self.rows("SELECT appended_at FROM trail_entries WHERE idx = %s", f"{index:012d}")[0][0])

    def size(self) -> int:
        found = self.rows("SELECT size FROM trail_head WHERE name = 'log'")
        return int(found[0][0]) if found else 0

    def close(self) -> None:
        self.conn.close()


def checkpoint(url: str) -> str:
    answer = requests.get(url + "/log/checkpoint", headers={"Authorization": f"Bearer {AUDITOR}"}, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.text


def size_of(note: str) -> int:
    return int(note.split("\n")[1])


def gauge(url: str, name: str) -> float:
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics of {url}")


def answers(url: str, path: str) -> bool:
    try:
        return requests.get(url + path, timeout=1).ok
    except requests.RequestException:  # not listening yet, or too busy starting to answer
        return False


def wait_ready(system: ProcessSystem, replica: str, url: str, timeout: float = 30) -> None:
    """Wait for the lease holder to read the source topics; else fail with what it last said, and its log."""
    deadline, said = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            answer = requests.get(url + "/ready", timeout=5)  # a busy machine may take a while to answer
        except requests.RequestException as exc:
            said = repr(exc)
        else:
            if answer.ok:
                return
            said = answer.text
        time.sleep(0.2)
    raise AssertionError(f"{replica} not ready after {timeout:.0f}s: {said}\n{system.log(replica)[-3000:]}")


def source_ends(kafka: str, topics: list[str]) -> dict[str, int]:
    """The end offset of every partition of the source topics, as "topic:partition"."""
    consumer = KafkaConsumer(bootstrap_servers=kafka)
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return {f"{tp.topic}:{tp.partition}": end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def positions(store: Store) -> Counter[str]:
    """How many entries each "topic:partition" offset has."""
    return Counter(source for (source,) in store.rows("SELECT source FROM trail_entries"))


def covered(store: Store, ends: dict[str, int]) -> bool:
    found = positions(store)
    return all(f"{name}:{offset}" in found for name, end in ends.items() for offset in range(end))


def test_the_standby_sequencer_appends_within_15_s_of_the_kill_and_the_trail_stays_whole(tmp_path, kafka, postgres,
                                                                                           tlogclient):
    url = f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/"
    url += postgres.create_database()
    system = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}", stores={"audit": url}),
                           services=("audit",))
    urls = {}
    store = Store(url)
    producer = Producer(kafka)
    try:
        for replica in REPLICAS:
            urls[replica] = system.spawn_replica("audit", replica, {
                "RELIEF_AUDIT_INSTANCE": replica, "RELIEF_AUDIT_CHECKPOINT_SECONDS": "1"})
        wait_for(lambda: all(answers(u, "/health") for u in urls.values()), 30, "both replicas answering")
        wait_for(lambda: store.holder() in REPLICAS, 20, "one replica holding the sequencer's lease")
        active = store.holder()
        assert active is not None
        standby = next(r for r in REPLICAS if r != active)
        wait_ready(system, active, urls[active])
        assert [gauge(urls[r], "relief_trail_sequencer") for r in (active, standby)] == [1, 0]
        assert "standby" in requests.get(urls[standby] + "/ready", timeout=5).json()["checks"]["sequencer"]["detail"]

        producer.start()
        wait_for(lambda: size_of(checkpoint(urls[standby])) > 500, 30, "a checkpoint of over 500 entries")
        saved = checkpoint(urls[standby])  # the auditor keeps this one, from before the kill

        system.kill(active)  # kill -9, mid-stream
        killed_at, killed = time.time(), time.monotonic()
        # Wait longer than the bound, so that a slow takeover is measured (below) rather than only timed out.
        wait_for(lambda: store.holder() == standby, 2 * TAKEOVER_SECONDS, "the standby taking the lease")
        leased = time.monotonic() - killed
        wait_for(lambda: store.first_batch_of(standby) is not None, 2 * TAKEOVER_SECONDS, "the standby appending")
        time.sleep(3)  # and it goes on appending what is published
        published = producer.stop()

        first = store.first_batch_of(standby)
        assert first is not None
        appended = store.appended_at(first) - killed_at  # when the standby made its first entry (its clock)
        silence = store.appended_at(first) - store.appended_at(first - 1)
        print(f"\nthe standby took the lease {leased:.1f}s after the kill and appended {appended:.1f}s after it "
              f"(entry {first}); no entry was appended for {silence:.1f}s; {len(published)} messages published")
        assert appended < TAKEOVER_SECONDS
        writers = store.rows("SELECT DISTINCT writer, first < %s FROM trail_batches", f"{first:012d}")
        assert sorted(writers) == sorted([(active, True), (standby, False)])  # one writer at a time, in turn

        ends = source_ends(kafka, sorted(TOPICS.values()))
        wait_for(lambda: covered(store, ends), 30, "every published offset in the trail")
        found = positions(store)
        assert max(found.values()) == 1, [p for p, n in found.items() if n > 1][:5]  # no message twice
        size = store.size()
        [(count, lowest, highest)] = store.rows("SELECT count(*), min(idx), max(idx) FROM trail_entries")
        assert (count, int(lowest), int(highest)) == (size, 0, size - 1)  # no gap in the indexes
        assert size == sum(ends.values())  # nothing but the source topics' messages
        ids = Counter(json.loads(entry)["event"].get("event_id") for (entry,) in
                      store.rows("SELECT entry FROM trail_entries"))
        assert all(ids[event_id] == 1 for event_id in published)

        wait_for(lambda: size_of(checkpoint(urls[standby])) == size, 15, "a checkpoint of the whole trail")
        (tmp_path / "saved").write_text(saved, encoding="utf-8")
        result = subprocess.run([str(tlogclient), "-url", urls[standby] + "/log", "-key", VERIFIER,
                                 "-token", AUDITOR, "-saved", str(tmp_path / "saved"),
                                 "-check-entries", "-inclusion", f"0,{first - 1},{first},{size - 1}"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ok   consistency: size {size}" in result.stdout

        assert store.holder() == standby
        system.stop(standby)  # a graceful stop (a rolling update) releases the lease at once, not after 4 s
        assert store.holder() is None
    finally:
        if producer.is_alive():
            producer.stopping.set()
        system.stop()
        store.close()
