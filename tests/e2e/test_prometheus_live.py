"""A real Prometheus (Debian's package) scrapes the four services over a real Kafka broker with the project's
alert rules: the audit trail consumes at a rate above zero, lag returns to zero once the traffic is through,
and stopping a consumer fires the alert an operator would be paged by — asked of Prometheus's own HTTP API.

The rules are deploy/prometheus/rules.yml as shipped, but for their `for:` durations, shortened to seconds so
that the test does not wait minutes for an alert (the expressions are what is tested here; the durations by
promtool's unit tests). Scrapes and evaluations run every second.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from tests.e2e.flows import register_cadres, wait_for
from tests.e2e.test_aid_over_kafka import import_cases
from tests.harness.postgres import free_port
from tests.harness.processes import terminate
from tests.harness.services import ProcessSystem, environment
from tests.import_files import valid_row

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "pairing", "aid", "audit")


@pytest.fixture
def system(kafka, tmp_path):
    running = ProcessSystem(environment(tmp_path / "data", transport=f"kafka://{kafka}"))
    yield running
    running.stop()


@pytest.fixture
def prometheus(system, tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "prometheus not installed: make prometheus (Debian's package)"
    rules = (ROOT / "deploy/prometheus/rules.yml").read_text(encoding="utf-8")
    (tmp_path / "rules.yml").write_text(re.sub(r"(?m)^(\s+for:) \S+$", r"\1 3s", rules), encoding="utf-8")
    jobs = "".join(f"  - job_name: {name}\n    static_configs:\n      - targets: [\"{system.url(name)[7:]}\"]\n"
                   for name in SERVICES)
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {tmp_path / 'rules.yml'}\nscrape_configs:\n{jobs}", encoding="utf-8")
    address = f"127.0.0.1:{free_port()}"
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={address}"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{address}"
    try:
        wait_for(lambda: _answers(url + "/-/ready"), 30, "Prometheus ready")
        yield url
    finally:
        terminate(proc, 15)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False


def query(prometheus: str, promql: str) -> list[dict]:
    answer = requests.get(prometheus + "/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def value(prometheus: str, promql: str) -> float | None:
    found = query(prometheus, promql)
    return float(found[0]["value"][1]) if found else None


def firing(prometheus: str) -> list[dict]:
    alerts = requests.get(prometheus + "/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def test_prometheus_sees_events_flow_lag_return_to_zero_and_a_stopped_consumer(system, prometheus):
    system.start(*SERVICES)
    wait_for(lambda: value(prometheus, 'count(up == 1)') == len(SERVICES), 30, "every service scraped")
    county = f"gs.by.t{uuid.uuid4().hex[:8]}"
    register_cadres(system, county, count=30, function="health")
    rng = random.Random(uuid.uuid4().int)
    import_cases(system, [valid_row(rng, federation=county) for _ in range(300)])

    wait_for(lambda: (value(prometheus, 'sum(rate(relief_events_consumed_total{service="audit"}[15s]))') or 0) > 0,
             60, "audit consuming, as Prometheus sees it")
    for service in ("pairing", "aid", "audit"):
        wait_for(lambda service=service: (value(
            prometheus, f'sum(relief_events_consumed_total{{service="{service}"}})') or 0) >= 300, 90,
            f"{service} through the 300 households' events")
    wait_for(lambda: value(prometheus, "max(relief_consumer_lag_messages)") == 0
             and value(prometheus, "count(relief_consumer_lag_messages)") >= 6 * 3, 90, "every lag back to 0")
    assert value(prometheus, 'max(relief_trail_log_size)') >= 300  # every household's CaseOpened, at least
    assert not [a for a in firing(prometheus) if a["labels"]["alertname"] in ("TargetDown", "ServiceDown")]

    system.kill("pairing")  # a consumer stops
    wait_for(lambda: any(a["labels"]["alertname"] == "ServiceDown" and a["labels"].get("job") == "pairing"
                         for a in firing(prometheus)), 60, "ServiceDown firing for pairing")
    down = [a for a in firing(prometheus) if a["labels"].get("job") == "pairing"]
    assert {a["labels"]["alertname"] for a in down} >= {"ServiceDown", "TargetDown"}
    assert all(a["labels"]["severity"] for a in down) and all(a["annotations"]["runbook"] for a in down)
