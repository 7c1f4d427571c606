"""Measure the events per second one consumer replica applies from a backlog, beside kafka-python's raw rate.

    python -m bench.consumer_throughput [--events 100000] [--backends sqlite,postgres]

A Kafka broker is started with a backlog of valid intake events on intake's topic (6 partitions, 5 events
per case). Then, for each store backend: a trivial consumer (the runtime records positions; the handler
does nothing) and audit as it is, each as one nameko container in this process, read the whole backlog;
the rate is events over the time from its first recorded position to its last. Before them a bare
kafka-python consumer reads the same topic, which is the ceiling of any consumer written in Python.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402

from bench.intake_http import load_average  # noqa: E402
from services.audit.service import AuditService  # noqa: E402
from services.config import DEV_AUDIT_SIGNING_KEY, DEV_CIPHER_KEY, DEV_JWT_SECRET  # noqa: E402
from services.contracts import Envelope, encode  # noqa: E402
from services.contracts.topics import INTAKE_TOPIC, PARTITIONS  # noqa: E402
from services.eventstore import IndexedApplication  # noqa: E402
from services.runtime.batch import Batch  # noqa: E402
from services.runtime.consumer import consume  # noqa: E402
from services.runtime.store import EventStore  # noqa: E402
from tests.harness.kafka_broker import KafkaBroker, create_topics  # noqa: E402
from tests.harness.postgres import PostgresCluster, free_port  # noqa: E402

TARGET_TRIVIAL_SQLITE = 5000  # events/s per replica
EVENTS_PER_CASE = 5


class Positions(IndexedApplication):
    """An application that stores nothing but the positions the runtime records."""

    name = "BenchPositions"


class TrivialConsumer:
    name = "bench-trivial"

    positions = EventStore(Positions)

    @consume(topics=[INTAKE_TOPIC])
    def on_events(self, batch: Batch) -> None:
        for _ in batch:
            pass


def backlog(bootstrap: str, events: int) -> None:
    """Publish `events` valid intake events (CaseFiled, CaseReviewed, ...) on intake's topic."""
    create_topics(bootstrap, [INTAKE_TOPIC], partitions=PARTITIONS)
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024, acks=1)
    now = datetime.now(UTC)
    steps = [
        ("CaseApproved", {"approved_on": "2026-03-13", "approver": "wang"}),
        ("CaseFiled", {"filed_on": "2026-03-13"}),
        ("CaseReviewed", {"reviewed_on": "2026-09-01", "findings": "仍困难", "still_qualifies": True, "by": "li"}),
        ("MeasurePlanned", {"measure_id": str(uuid.uuid4()), "kind": "employment", "description": "电焊工培训",
                            "planned_on": "2026-09-02", "due_on": None, "by": "li"}),
        ("CaseExited", {"reason": "stable_employment", "exited_on": "2026-11-01", "notes": "", "by": "li"}),
    ]
    for n in range(events):
        if n % EVENTS_PER_CASE == 0:
            case_id = str(uuid.uuid4())
        kind, payload = steps[n % EVENTS_PER_CASE]
        envelope = Envelope(str(uuid.uuid4()), kind, 1, now, now, "gs.by.pg", case_id, "intake", payload)
        producer.send(INTAKE_TOPIC, key=case_id.encode(), value=encode(envelope))
    producer.flush()
    producer.close()


def raw_rate(bootstrap: str, events: int) -> float:
    consumer = KafkaConsumer(INTAKE_TOPIC, bootstrap_servers=bootstrap, group_id=f"raw-{uuid.uuid4()}",
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=500)
    seen, first = 0, None
    while seen < events:
        for records in consumer.poll(timeout_ms=1000).values():
            first = first or time.perf_counter()
            seen += len(records)
    rate = seen / (time.perf_counter() - (first or time.perf_counter()))
    consumer.close()
    return rate


def consumer_rate(service_cls: type, store_url: str, bootstrap: str, events: int) -> tuple[float, float]:
    """Run one replica until it has recorded the position of every event; return (events/s, total s)."""
    config = {
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", "STORE_URL": store_url,
        "TRANSPORT_URL": f"kafka://{bootstrap}", "JWT_SECRET": DEV_JWT_SECRET, "CIPHER_KEY": DEV_CIPHER_KEY,
        "AUDIT_SIGNING_KEY": DEV_AUDIT_SIGNING_KEY, "max_workers": 10,
    }
    container = ServiceContainer(service_cls, config)
    started = time.perf_counter()
    container.start()
    [store] = [d for d in container.dependencies if isinstance(d, EventStore)]
    first = None
    try:
        while True:
            done = sum((store.app.position(f"{INTAKE_TOPIC}:{p}") or -1) + 1 for p in range(PARTITIONS))
            if done and first is None:
                first = (time.perf_counter(), done)
            if done >= events:
                break
            eventlet.sleep(0.2)
        finished = time.perf_counter()
    finally:
        container.stop()
    assert first is not None
    return (events - first[1]) / (finished - first[0]), finished - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp, KafkaBroker(partitions=PARTITIONS) as broker:
        made = time.perf_counter()
        backlog(broker.bootstrap, args.events)
        print(f"backlog: {args.events:,} events on {PARTITIONS} partitions in {time.perf_counter() - made:.1f}s")
        print(f"kafka-python raw read: {raw_rate(broker.bootstrap, args.events):,.0f} events/s")
        cluster = PostgresCluster(durable=True) if "postgres" in args.backends else None
        if cluster is not None:
            cluster.start()
        try:
            for backend in args.backends.split(","):
                for label, service_cls in (("trivial", TrivialConsumer), ("audit", AuditService)):
                    if backend == "sqlite":
                        url = f"sqlite:///{tmp}/{label}-{uuid.uuid4().hex[:6]}.db"
                    else:
                        assert cluster is not None
                        url = (f"postgresql://{cluster.user}:{cluster.password}@{cluster.host}:{cluster.port}/"
                               f"{cluster.create_database()}")
                    rate, total = consumer_rate(service_cls, url, broker.bootstrap, args.events)
                    judged = (backend, label) == ("sqlite", "trivial")
                    target = f" (target ≥ {TARGET_TRIVIAL_SQLITE:,})" if judged else ""
                    print(f"{backend:8} {label:8} {rate:9,.0f} events/s applied{target}; {total:.1f}s with the join")
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()
