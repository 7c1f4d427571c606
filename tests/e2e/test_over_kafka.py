"""The services as separate processes over a real Kafka broker: the flow, and crashes at the worst moments."""

import contextlib
import json
import time

import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer

from services.contracts.topics import DEAD_LETTER_TOPIC, INTAKE_TOPIC
from tests.e2e.flows import FILED_HISTORY, file_case, history, metric, types_from
from tests.factories import application_body
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka


@pytest.fixture
def system(kafka, tmp_path):
    running = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}"))
    yield running
    running.stop()


def test_a_case_filed_through_the_api_appears_in_order_in_the_audit_history(system):
    system.start("intake", "audit")
    case_id = file_case(system)
    events = history(system, case_id, len(FILED_HISTORY))
    assert [e["type"] for e in events] == FILED_HISTORY
    assert [e["case_seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert all(e["service"] == "intake" for e in events)
    opened = events[0]["payload"]["worker"]
    assert "id_number" not in opened and opened["id_number_masked"].count("*") == 10
    deadline = time.monotonic() + 5  # the lag is exported once the batch is committed
    while True:
        lags = [line for line in system.client("audit", role=None).get("/metrics").text.splitlines()
                if line.startswith("relief_consumer_lag_messages{") and INTAKE_TOPIC in line]
        if (lags and all(line.endswith(" 0.0") for line in lags)) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert lags and all(line.endswith(" 0.0") for line in lags)  # caught up, per partition it reads


def test_a_consumer_killed_before_recording_resumes_with_each_effect_once(system):
    system.start("intake")
    case_ids = [file_case(system) for _ in range(3)]  # 18 events waiting in Kafka
    system.start("audit", extra={"RELIEF_FAILPOINTS": "consumer.before_apply=8"})
    assert system.wait_exit("audit") == -9  # SIGKILLed at the 8th message of its batch, nothing committed
    system.start("audit")
    for case_id in case_ids:
        events = history(system, case_id, len(FILED_HISTORY))
        assert [e["type"] for e in events] == FILED_HISTORY
        assert len({e["event_id"] for e in events}) == len(events)


@pytest.mark.parametrize("point", ["consumer.before_record", "consumer.after_record"])
def test_a_consumer_killed_around_committing_its_batch_applies_each_effect_once(system, point):
    system.start("intake")
    case_ids = [file_case(system) for _ in range(3)]
    system.start("audit", extra={"RELIEF_FAILPOINTS": f"{point}=1"})
    assert system.wait_exit("audit") == -9  # before or after the batch's one transaction
    system.start("audit")
    for case_id in case_ids:
        events = history(system, case_id, len(FILED_HISTORY))
        assert [e["type"] for e in events] == FILED_HISTORY
        assert [e["case_seq"] for e in events] == list(range(1, len(FILED_HISTORY) + 1))
        assert len({e["event_id"] for e in events}) == len(events)


def test_a_producer_killed_before_sending_sends_on_restart(system):
    system.start("audit")
    system.start("intake", extra={"RELIEF_FAILPOINTS": "outbox.before_publish=1"})
    staff = system.client("intake", "caseworker", "gs.by", "li")
    with contextlib.suppress(requests.ConnectionError):  # it may die before answering; the case is stored
        staff.post("/cases", application_body())
    assert system.wait_exit("intake") == -9
    system.start("intake")
    [case] = staff.get("/cases").json()["cases"]
    assert [e["type"] for e in history(system, case["case_id"], 1)] == ["CaseOpened"]


def test_a_producer_killed_after_sending_but_before_marking_sends_nothing_twice(system, kafka):
    system.start("audit")
    system.start("intake", extra={"RELIEF_FAILPOINTS": "outbox.after_flush=1"})
    staff = system.client("intake", "caseworker", "gs.by", "li")
    with contextlib.suppress(requests.ConnectionError):
        staff.post("/cases", application_body())
    assert system.wait_exit("intake") == -9
    system.start("intake")  # reads what the topic already holds of its store, and goes on after it
    [case] = staff.get("/cases").json()["cases"]
    for step_body in (("withdrawal", {"reason": "搬离本市"}),):
        assert staff.post(f"/cases/{case['case_id']}/{step_body[0]}", step_body[1]).status_code == 201
    events = history(system, case["case_id"], 2)
    assert [e["type"] for e in events] == ["CaseOpened", "CaseWithdrawn"]
    consumer = KafkaConsumer(INTAKE_TOPIC, bootstrap_servers=kafka, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000)
    sent = [dict(r.headers)["event-id"] for r in consumer if r.key == case["case_id"].encode()]
    consumer.close()
    assert len(sent) == 2 and len(set(sent)) == 2  # each event on the topic once, the resend avoided


def test_a_malformed_message_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(system, kafka):
    system.start()
    producer = KafkaProducer(bootstrap_servers=kafka)
    producer.send(INTAKE_TOPIC, key=b"junk", value=b"{not an event")
    producer.send(INTAKE_TOPIC, key=b"junk", value=json.dumps({"type": "CaseFiled"}).encode())
    producer.flush()
    producer.close()
    case_id = file_case(system)
    assert types_from(history(system, case_id, 7), "intake") == FILED_HISTORY

    consumer = KafkaConsumer(DEAD_LETTER_TOPIC, bootstrap_servers=kafka, auto_offset_reset="earliest",
                             consumer_timeout_ms=10000)
    parked = []
    for record in consumer:
        if record.key == b"junk":
            parked.append(record)
        if len(parked) == 2:
            break
    consumer.close()
    reasons = [dict(r.headers)["reason"].decode() for r in parked]
    assert reasons[0].startswith("not JSON")
    assert reasons[1].startswith("envelope")
    assert {dict(r.headers)["source-topic"].decode() for r in parked} == {INTAKE_TOPIC}
    assert parked[0].value == b"{not an event"
    assert metric(system, "audit", "relief_events_dead_lettered_total", stage="decode") == 2
