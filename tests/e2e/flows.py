"""Steps the end-to-end tests share: file a case through the API, keep a roster, wait for the audit history."""

from __future__ import annotations

import time

from tests.factories import WORKFLOW, application_body

FILED_HISTORY = ["CaseOpened", "CaseVerified", "CaseDeliberated", "NoticePublished", "CaseApproved", "CaseFiled"]
PHONE = "13812345678"


def types_from(events: list[dict], service: str) -> list[str]:
    """The types of one service's events in a history, in the order the audit recorded them."""
    return [e["type"] for e in events if e["service"] == service]


def register_cadres(system, federation: str = "gs.by", count: int = 1, function: str = "health",
                    rank: str = "leader") -> list[str]:
    """Register one helper unit of `function` and `count` cadres of it in `federation`; return the cadre ids."""
    admin = system.client("pairing", "admin", federation, "zhao")
    response = admin.post("/units", {"name": "市人民医院", "function": function, "federation": federation})
    assert response.status_code == 201, response.text
    unit_id = response.json()["unit_id"]
    cadre_ids = []
    for n in range(count):
        body = {"name": f"帮扶干部{n}", "unit_id": unit_id, "rank": rank, "federation": federation,
                "phone": PHONE, "user": f"cadre-{unit_id[:8]}-{n}"}
        response = admin.post("/cadres", body)
        assert response.status_code == 201, response.text
        cadre_ids.append(response.json()["cadre_id"])
    return cadre_ids


def file_case(system, federation: str = "gs.by.pg") -> str:
    staff = system.client("intake", "caseworker", "gs.by", "li")
    approver = system.client("intake", "approver", "gs.by", "wang")
    response = staff.post("/cases", application_body(federation))
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    for step, body in WORKFLOW:
        response = (approver if step == "approval" else staff).post(f"/cases/{case_id}/{step}", body)
        assert response.status_code == 201, response.text
    return case_id


def history(system, case_id: str, want: int, timeout: float = 30) -> list[dict]:
    """Poll the audit history until it holds `want` events (or the time runs out)."""
    auditor = system.client("audit", "auditor", "gs", "shen")
    deadline = time.monotonic() + timeout
    events: list[dict] = []
    while time.monotonic() < deadline:
        response = auditor.get(f"/cases/{case_id}/history")
        if response.status_code == 200:
            events = response.json()["events"]
            if len(events) >= want:
                return events
        time.sleep(0.2)
    return events


def metric(system, service: str, name: str, **labels: str) -> float:
    """Sum a counter or gauge from the service's /metrics over samples matching the labels."""
    text = system.client(service, role=None).get("/metrics").text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(condition, timeout: float, what: str) -> float:
    """Poll until condition() is true; return the seconds it took, or fail saying what did not happen."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout:.1f}s"
        time.sleep(0.1)
    return time.monotonic() - started


def file_cases(system, count: int, federation: str = "gs.by.pg", at_once: int = 8) -> list[str]:
    """File `count` cases through the API (the whole workflow each), `at_once` at a time; return their ids."""
    from concurrent.futures import ThreadPoolExecutor  # green threads in the tests (eventlet patches threading)

    with ThreadPoolExecutor(at_once) as pool:
        return list(pool.map(lambda _: file_case(system, federation), range(count)))


def coverage(system, federation: str) -> dict:
    """GET /coverage of pairing at and under `federation`, as its coordinator sees it."""
    response = system.client("pairing", "admin", federation, "zhao").get("/coverage")
    assert response.status_code == 200, response.text
    return response.json()


def end_offsets(kafka: str, topic: str) -> dict[int, int]:
    """The end offset of each partition of a topic on the broker now (a partition never written has 0)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def caught_up(system, service: str, topic: str, ends: dict[int, int]) -> bool:
    """Whether the service has applied everything up to `ends` (end_offsets): its exported lag is 0 on each
    partition that holds a message (a lag is exported once the poll's batch is committed)."""
    lags: dict[int, float] = {}
    for line in system.client(service, role=None).get("/metrics").text.splitlines():
        if line.startswith("relief_consumer_lag_messages{") and f'topic="{topic}"' in line \
                and f'service="{service}"' in line:
            partition = int(line.split('partition="', 1)[1].split('"', 1)[0])
            lags[partition] = float(line.rsplit(" ", 1)[1])
    return all(lags.get(p) == 0 for p, end in ends.items() if end > 0)


def records_on(kafka: str, topic: str, keys: set[str], timeout: float = 30) -> list:
    """Every record of a topic, up to its end now, whose key is one of `keys` (kafka-python ConsumerRecords)."""
    from kafka import KafkaConsumer, TopicPartition

    wanted = {key.encode() for key in keys}
    consumer = KafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end within {timeout:.0f}s"
            for records in consumer.poll(timeout_ms=500).values():
                found.extend(r for r in records if r.key in wanted)
        return found
    finally:
        consumer.close(autocommit=False)
