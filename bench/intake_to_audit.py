"""Measure intake-to-audit latency over a real Kafka broker while applications open at a steady rate.

    python -m bench.intake_to_audit [--rate 300] [--seconds 25]

Intake and audit run as separate processes on the Kafka transport; a client process opens cases on a
fixed schedule. Latency per event is audit's own record of it (`appended_at`, the time the trail appended
its entry) minus the event's `occurred_at` in intake, both read from audit's store after the run: exact
for every event, and nothing polls audit during the run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.intake_http import Plan, caseworker_token, load_average, percentile, run_client, unique_id_number
from services.audit.application import Trail
from services.audit.log import ENTRIES
from services.config import service_config
from services.contracts.topics import DEAD_LETTER_TOPIC, INTAKE_TOPIC, PARTITIONS, TOPICS
from services.eventstore import store_env
from tests.factories import application_body
from tests.harness.kafka_broker import KafkaBroker, create_topics
from tests.harness.services import ProcessSystem, environment

TARGET_P99_MS = 500
CONNECTIONS = 16


def audit_metrics(system: ProcessSystem) -> dict[str, Any]:
    """Return audit's figures for intake events: consumed, processing seconds, delivery buckets (le -> count)."""
    text = system.client("audit", role=None).get("/metrics").text
    found: dict[str, Any] = {"consumed": 0, "processing": 0.0, "buckets": {}}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("topic") != INTAKE_TOPIC:
                continue
            if sample.name == "relief_events_consumed_total":
                found["consumed"] = int(sample.value)
            elif sample.name == "relief_event_processing_seconds_sum":
                found["processing"] = sample.value
            elif sample.name == "relief_event_delivery_seconds_bucket":
                found["buckets"][float(sample.labels["le"])] = sample.value
    return found


def prime(system: ProcessSystem, id_number: str, timeout: float = 60) -> None:
    """Send one case through to audit, so the consumer group holds its partitions before timing starts."""
    body = application_body()
    body["worker"]["id_number"] = id_number
    opened = system.client("intake", fed="gs").post("/cases", body)
    opened.raise_for_status()
    auditor = system.client("audit", role="auditor", fed="gs")
    deadline = time.monotonic() + timeout
    while auditor.get(f"/cases/{opened.json()['case_id']}/history").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"audit did not record the first case within {timeout:.0f}s")
        time.sleep(0.2)


def drain(system: ProcessSystem, expected: int, timeout: float = 60) -> None:
    """Wait until audit has consumed `expected` intake events, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while audit_metrics(system)["consumed"] < expected and time.monotonic() < deadline:
        time.sleep(0.5)


def audit_latencies(config: dict[str, Any], window: list[float]) -> tuple[dict[str, list[float]], int]:
    """Read audit's store: for each event that occurred in the window, the seconds from occurring in intake
    to audit's record of it, split at `recorded_at` (when intake's outbox relay took it up to publish)."""
    trail = Trail(store_env(config["STORE_URL"], config.get("CIPHER_KEY")))
    spans: dict[str, list[float]] = {"total": [], "to relay": [], "relay to audit": []}
    recorded = 0
    try:
        for row in trail.select_rows(ENTRIES):
            envelope = json.loads(row["entry"])["event"]
            if envelope.get("type") == "SourceRejected":
                continue
            recorded += 1
            appended = float(row["appended_at"])
            occurred = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
            relayed = datetime.fromisoformat(envelope["recorded_at"]).timestamp()
            if window[0] <= occurred <= window[1]:
                spans["total"].append(appended - occurred)
                spans["to relay"].append(relayed - occurred)
                spans["relay to audit"].append(appended - relayed)
    finally:
        trail.close()
    return {name: sorted(values) for name, values in spans.items()}, recorded


def histogram_shares(before: dict[float, float], after: dict[float, float]) -> str:
    delta = {le: after[le] - before.get(le, 0.0) for le in after}
    total = delta.get(float("inf"), 0.0)
    shown = [le for le in (0.05, 0.1, 0.25, 0.5, 1.0) if le in delta]
    return ", ".join(f"<= {le:g} s {100 * delta[le] / total:.1f}%" for le in shown) if total else "no events"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Start a broker, intake and audit; open cases at the rate; return the load, audit's metrics and latencies."""
    cap = int(args.rate * (args.warmup + args.seconds)) + 100
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp, KafkaBroker() as broker:
        create_topics(str(broker.bootstrap), [*TOPICS.values(), DEAD_LETTER_TOPIC], partitions=PARTITIONS)
        stores = {name: f"sqlite:///{tmp}/{name}.db" for name in ("intake", "audit")}
        env = environment(Path(tmp), transport=f"kafka://{broker.bootstrap}", stores=stores)
        system = ProcessSystem(env)
        try:
            system.start()
            prime(system, unique_id_number(cap))
            before = audit_metrics(system)
            port = int(env["RELIEF_INTAKE_ADDRESS"].rsplit(":", 1)[1])
            plan = Plan(port, "/cases", caseworker_token(), 201, CONNECTIONS, args.warmup, args.seconds, args.rate, cap)
            load = run_client(plan, None, timeout=args.warmup + args.seconds + 120)
            drain(system, before["consumed"] + load["ok_total"])
            after = audit_metrics(system)
        finally:
            system.stop()
        spans, recorded = audit_latencies(service_config("audit", {**os.environ, **env}), load["window"])
    return {"load": load, "before": before, "after": after, "spans": spans, "recorded": recorded}


def report(args: argparse.Namespace, found: dict[str, Any], load_average: str) -> None:
    load, before, after, spans = found["load"], found["before"], found["after"], found["spans"]
    published = load["ok_total"] + 1  # the priming case too
    processed = max(1, after["consumed"] - before["consumed"])
    print(f"intake -> Kafka ({PARTITIONS} partitions, one local broker) -> audit, each in its own process")
    print(f"load average before: {load_average} (other work on the machine skews figures)")
    print(
        f"opened {load['requests']} in {load['seconds']:.2f} s = {load['rate']:.1f}/s (asked {args.rate:g}/s); "
        f"HTTP p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms; errors {load['errors_total']}"
    )
    if load["first_error"]:
        print(f"  first error: {load['first_error']}")
    print(f"audit stored {found['recorded']} of the {published} events intake published")
    mean_ms = 1000 * (after["processing"] - before["processing"]) / processed
    print(f"audit's mean time to process one event (relief_event_processing_seconds): {mean_ms:.2f} ms")
    print(f"latency per event that occurred in the window ({len(spans['total'])}), from audit's store:")
    for name, values in spans.items():
        print(
            f"  {name:15} p50 {percentile(values, 0.5) * 1000:7.1f} ms   p99 {percentile(values, 0.99) * 1000:7.1f} ms"
            f"   max {max(values, default=float('nan')) * 1000:7.1f} ms"
        )
    print(f"audit's relief_event_delivery_seconds, whole run: {histogram_shares(before['buckets'], after['buckets'])}")
    p99_ms = percentile(spans["total"], 0.99) * 1000
    met = p99_ms <= TARGET_P99_MS and load["rate"] >= 0.98 * args.rate and found["recorded"] == published
    print(f"target p99 <= {TARGET_P99_MS} ms at {args.rate:g} events/s, none lost: {'met' if met else 'NOT met'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="applications opened per second")
    parser.add_argument("--seconds", type=float, default=25.0, help="length of the measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="load at the same rate before the window")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind and clean up as on Ctrl-C
    before = load_average()
    report(args, measure(args), before)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
