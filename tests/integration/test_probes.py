"""Liveness, readiness and metrics answer without a worker, so an overloaded service is still seen."""

from __future__ import annotations

import threading
import time

import eventlet
import pytest
import requests
from nameko.containers import ServiceContainer

from services.web.entrypoint import Api
from services.web.operations import Operations
from tests.harness.postgres import free_port


class SlowService(Operations):
    name = "slow"
    title = "A service whose only route takes its time"

    @Api.decorator("GET", "/slow", public=True)
    def slow(self, request):
        eventlet.sleep(3)
        return 200, {"done": True}


@pytest.fixture
def slow_service():
    address = f"127.0.0.1:{free_port()}"
    container = ServiceContainer(SlowService, {"WEB_SERVER_ADDRESS": address, "max_workers": 2, "JWT_SECRET": "x"})
    container.start()
    yield f"http://{address}"
    container.stop()


def test_health_and_metrics_answer_while_every_worker_is_busy(slow_service):
    callers = [threading.Thread(target=requests.get, args=(slow_service + "/slow",)) for _ in range(4)]
    for caller in callers:
        caller.start()
    time.sleep(0.5)  # both workers now sleep; two more requests wait for one
    started = time.monotonic()
    health = requests.get(slow_service + "/health", timeout=2)
    metrics = requests.get(slow_service + "/metrics", timeout=2)
    elapsed = time.monotonic() - started
    assert health.status_code == 200 and health.json() == {"status": "ok", "service": "slow"}
    assert metrics.status_code == 200 and "relief_http_requests_total" in metrics.text
    assert elapsed < 1.0
    for caller in callers:
        caller.join()


def test_a_service_with_nothing_to_check_is_ready(slow_service):
    ready = requests.get(slow_service + "/ready", timeout=3)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "service": "slow", "checks": {}}
