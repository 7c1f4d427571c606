"""A consumer never skips an event silently: a named refusal is parked with its reason, any other failure
stalls its partition (visible in a gauge and /ready) until it succeeds, and a batch is applied whole."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from nameko.containers import ServiceContainer
from prometheus_client import REGISTRY

from services.contracts import DEAD_LETTER_TOPIC, Envelope, EventRefused, encode
from services.runtime.batch import Batch
from services.runtime.consumer import consume
from services.runtime.store import EventStore
from services.transport import transport_for
from services.transport.factory import forget
from services.web.operations import Operations
from tests.harness.postgres import free_port
from tests.recording import Recorder as Trail

TOPIC = "relief.test.probe"
FAULTS: dict[str, str] = {}  # case id -> "refuse" or "fail": how the handler treats its events


class ProbeService(Operations):
    name = "probe"
    title = "A consumer whose handler refuses or fails on the cases a test names"

    trail = EventStore(Trail)

    @consume(topics=[TOPIC])
    def on_events(self, batch: Batch) -> None:
        for delivery in batch:
            fault = FAULTS.get(delivery.envelope.case_id)
            if fault == "refuse":
                raise EventRefused("case unknown to this service")
            if fault == "fail":
                raise RuntimeError("a bug in the handler")
            self.trail.record_event(delivery.envelope)


@pytest.fixture
def probe(tmp_path):
    FAULTS.clear()
    address = f"127.0.0.1:{free_port()}"
    transport_url = f"embedded:///{tmp_path}/bus.db"
    config = {
        "WEB_SERVER_ADDRESS": address, "STORE_URL": f"sqlite:///{tmp_path}/probe.db", "TRANSPORT_URL": transport_url,
        "JWT_SECRET": "x", "max_workers": 4,
    }
    container = ServiceContainer(ProbeService, config)
    container.start()
    yield container, f"http://{address}", transport_url
    container.stop()
    forget(transport_url)


def publish(transport_url: str, *case_ids: str) -> None:
    publisher = transport_for(transport_url).publisher()
    for case_id in case_ids:
        now = datetime.now(UTC)
        envelope = Envelope(str(uuid.uuid4()), "CaseFiled", 1, now, now, "gs.by", case_id, "intake",
                            {"filed_on": "2026-03-13"})
        publisher.publish(TOPIC, case_id, encode(envelope))
    publisher.flush()


def trail_of(container: ServiceContainer) -> Trail:
    [store] = [d for d in container.dependencies if isinstance(d, EventStore)]
    return store.app


def entries(container: ServiceContainer, case_id: str) -> int:
    try:
        return len(trail_of(container).history(case_id).entries)
    except Exception:
        return 0


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def stalled() -> float | None:
    return REGISTRY.get_sample_value("relief_consumer_stalled", {"service": "probe", "topic": TOPIC, "partition": "0"})


def test_a_refused_event_is_dead_lettered_with_its_reason_and_the_rest_of_the_batch_applies(probe):
    container, _, transport_url = probe
    refused, later = str(uuid.uuid4()), str(uuid.uuid4())
    FAULTS[refused] = "refuse"
    publish(transport_url, refused, later, later)
    wait_for(lambda: entries(container, later) == 2)
    assert entries(container, refused) == 0
    parked = transport_for(transport_url).read({DEAD_LETTER_TOPIC: 0}, limit=10, timeout=1)
    assert [m.key for m in parked] == [refused]
    assert parked[0].headers["reason"] == "case unknown to this service"
    assert parked[0].headers["stage"] == "handler" and parked[0].headers["source-offset"] == "0"
    assert trail_of(container).position(f"{TOPIC}:0") == 2  # the refused one's position is recorded too


def test_a_failing_handler_stalls_its_partition_visibly_and_resumes_in_order_once_it_succeeds(probe):
    container, url, transport_url = probe
    failing, behind = str(uuid.uuid4()), str(uuid.uuid4())
    FAULTS[failing] = "fail"
    publish(transport_url, failing, behind)
    wait_for(lambda: stalled() == 1)
    ready = requests.get(url + "/ready", timeout=5)
    assert ready.status_code == 503
    assert "stalled at relief.test.probe:0@0" in ready.json()["checks"]["consumer:on_events"]["detail"]
    time.sleep(1.0)
    assert entries(container, behind) == 0  # nothing behind the failing event is applied: no gap
    assert trail_of(container).position(f"{TOPIC}:0") is None

    del FAULTS[failing]  # the fix is deployed
    wait_for(lambda: entries(container, behind) == 1, timeout=15)
    assert entries(container, failing) == 1
    assert stalled() == 0
    assert requests.get(url + "/ready", timeout=5).status_code == 200
    assert transport_for(transport_url).read({DEAD_LETTER_TOPIC: 0}, limit=10, timeout=0.2) == []


def test_events_of_one_case_in_one_batch_build_on_each_other(probe):
    container, _, transport_url = probe
    case_id = str(uuid.uuid4())
    publish(transport_url, *[case_id] * 50)
    wait_for(lambda: entries(container, case_id) == 50)
    assert trail_of(container).position(f"{TOPIC}:0") == 49


def test_events_before_a_failing_one_in_its_batch_are_committed_and_those_after_it_wait(probe):
    container, _, transport_url = probe
    before, failing, after = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    FAULTS[failing] = "fail"
    publish(transport_url, before, failing, after)
    wait_for(lambda: stalled() == 1)
    assert entries(container, before) == 1 and entries(container, after) == 0
    assert trail_of(container).position(f"{TOPIC}:0") == 0  # the position stops just before the failing one
    del FAULTS[failing]
    wait_for(lambda: entries(container, after) == 1, timeout=15)
    assert [entries(container, c) for c in (before, failing, after)] == [1, 1, 1]
    assert trail_of(container).position(f"{TOPIC}:0") == 2
