"""Measure the trail's live append: entries/s its sequencer appends from a backlog, on SQLite and PostgreSQL.

    python -m bench.trail_append [--entries 100000] [--cases 2000] [--stores sqlite,postgres]
    python -m bench.trail_append --stores sqlite --entries 20000 --profile     # where audit's time goes

For each store, a backlog of `--entries` messages on the three services' topics of the embedded transport
(bench/trail_replay.py's `backlog`: the roster, then each household's life, every envelope encoded as the
relays encode it, one message in 50,000 malformed) is appended before audit starts. Then audit runs as its
own process (`python -m services.run audit`: the real sequencer, services/audit/sequencer.py, under its lease:
polls read into batches of at most 2,000 messages, decoded and validated, sealed, appended as one batch in one
transaction with the positions, a signed checkpoint every 1,000 entries), and the bench reads the trail's head
until it holds every message. The rate is the entries over the time from the sequencer's first entry (its
`appended_at`) to the head holding the last; the process's start-up is shown apart. A batch's cycle is the time from one
batch's first entry to the next's (poll, decode, seal, hash, commit, checkpoint); the append alone is
`relief_trail_append_seconds` (its mean, and its p50/p99 as histogram buckets). Memory is audit's peak
resident set (`VmHWM`). At the end the whole log is checked (services/audit/logcheck.py).

`--profile` samples audit's stack (bench/intake_http.py's sampler: cProfile mixes eventlet's green threads)
and prints where its time went; sampling slows audit, so its figures are not the figures.

Target (issue 9): ≥ 5,000 entries/s per sequencer, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from itertools import pairwise
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.aid_throughput import cpu_seconds
from bench.import_rows import peak_rss_mb
from bench.intake_http import ROOT, load_average, percentile
from bench.stores import store_urls
from bench.trail_replay import backlog
from services.audit.application import Trail
from services.audit.log import BATCHES, ENTRIES, idx_key
from services.audit.logcheck import check, sqlite_entries
from services.audit.note import Signer
from services.config import service_config
from services.contracts import encode
from services.eventstore import store_env
from services.transport.embedded import EmbeddedTransport
from tests.harness.processes import terminate
from tests.harness.services import environment

TARGET_RATE = 5000  # entries/s per sequencer
MALFORMED_EVERY = 5000  # 20 in the default backlog
PROBE_SECONDS = 0.5
PROFILE_LINES = 25


def spawn(env: dict[str, str], profile: Path | None) -> subprocess.Popen[bytes]:
    """Audit in its own process, as `python -m services.run audit` (or under the stack sampler), not waited for:
    while it drains the backlog its /health may answer late (measured apart)."""
    command = ["-m", "services.run", "audit"] if profile is None else ["-m", "bench.profiled", "audit", str(profile)]
    log = open(Path(env["RELIEF_DATA_DIR"]) / "audit.log", "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, *command], cwd=ROOT, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT)


class Prober(threading.Thread):
    """Ask audit's /health every PROBE_SECONDS, as a liveness probe does, and keep how long each answer took
    (a refused connection after the first answer is a failure)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.failed = url, 0
        self.seconds: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(PROBE_SECONDS):
            began = time.perf_counter()
            try:
                requests.get(self.url, timeout=60).raise_for_status()
            except requests.ConnectionError:
                self.failed += bool(self.seconds)  # before its first answer audit is still starting
                continue
            self.seconds.append(time.perf_counter() - began)


def print_profile(path: Path) -> None:
    samples = json.loads(path.read_text())
    own, under = samples["own"], samples["under"]
    busy = sum(own.values())
    print(f"\naudit busy for {busy:.1f}s (computing or blocked in I/O; the idle hub left out)")
    ours = {n: t for n, t in under.items() if n.startswith("services/")}
    calls = {n: t for n, t in under.items() if not n.startswith(("services/", "eventlet/", "nameko/", "greenlet/"))}
    for title, shares in (("own time by function", own), ("time under each function of ours (inclusive)", ours),
                          ("time under each library function (inclusive)", calls)):
        print(f"\n{title}:")
        for name, seconds in sorted(shares.items(), key=lambda kv: -kv[1])[:PROFILE_LINES]:
            print(f"  {100 * seconds / busy:5.1f}%  {name}")


def messages(entries: int, cases: int) -> tuple[list[tuple[str, str, bytes, dict[str, str]]], int]:
    """The backlog as the relays append it to the embedded log, and how many of its messages are malformed."""
    found: list[tuple[str, str, bytes, dict[str, str]]] = []
    malformed = 0
    for topic, key, message in backlog(entries, cases, MALFORMED_EVERY):
        malformed += isinstance(message, bytes)
        found.append((topic, key, message if isinstance(message, bytes) else encode(message), {}))
    return found, malformed


def metrics(base: str) -> dict[str, Any]:
    """Audit's append histogram (sum, count, cumulative buckets) and its count of rejected source messages."""
    found: dict[str, Any] = {"sum": 0.0, "count": 0, "buckets": {}, "rejected": 0}
    for family in text_string_to_metric_families(requests.get(f"{base}/metrics", timeout=60).text):
        for sample in family.samples:
            if sample.name == "relief_trail_append_seconds_bucket":
                found["buckets"][float(sample.labels["le"])] = sample.value
            elif sample.name == "relief_trail_append_seconds_sum":
                found["sum"] = sample.value
            elif sample.name == "relief_trail_append_seconds_count":
                found["count"] = int(sample.value)
            elif sample.name == "relief_trail_rejected_sources_total":
                found["rejected"] += int(sample.value)
    return found


def bucket_of(buckets: dict[float, float], q: float) -> float:
    """The upper bound of the histogram bucket that holds the q-quantile."""
    total = buckets.get(float("inf"), 0.0)
    return next((le for le, n in sorted(buckets.items()) if n >= q * total), float("nan"))


def wait_for(reader: Trail, process: subprocess.Popen[bytes], size: int, timeout: float) -> float:
    """Poll the trail's head until it holds `size` entries; return when (time.time(), as appended_at is)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"audit exited with {process.returncode}")
        if reader.head().size >= size:
            return time.time()
        time.sleep(0.05)
    raise TimeoutError(f"the trail holds {reader.head().size:,} of {size:,} entries after {timeout:.0f}s")


def batch_cycles(reader: Trail) -> tuple[list[int], list[float]]:
    """Each batch's size, and the seconds from each batch's first entry to the next batch's."""
    batches = reader.select_rows(BATCHES)
    firsts = [row["first"] for row in batches]
    started = {row["idx"]: float(row["appended_at"]) for row in reader.select_rows(ENTRIES, keys=firsts)}
    times = [started[key] for key in firsts]
    return [int(row["count"]) for row in batches], sorted(b - a for a, b in pairwise(times))


def checked(reader: Trail, url: str, verifier: Any) -> str:
    if url.startswith("sqlite:"):
        with closing(sqlite3.connect(store_env(url)["SQLITE_DBNAME"])) as db:
            report = check(reader.select_rows, verifier, entries=sqlite_entries(db))
    else:
        report = check(reader.select_rows, verifier)
    return "valid" if report.valid else f"NOT VALID: {report.failures[:3]}"


def bench_store(label: str, url: str, tmp: Path, entries: int, cases: int, profile: bool) -> dict[str, Any]:
    env = environment(tmp / label, stores={"audit": url})
    os.makedirs(env["RELIEF_DATA_DIR"])
    config = service_config("audit", {**os.environ, **env})
    reader = Trail(store_env(config["STORE_URL"]))
    bus = EmbeddedTransport(str(Path(env["RELIEF_DATA_DIR"]) / "bus.db"))
    samples = tmp / f"audit-profile-{label}.json"
    process: subprocess.Popen[bytes] | None = None
    prober = Prober(f"http://{env['RELIEF_AUDIT_ADDRESS']}/health")
    try:
        backlog_messages, malformed = messages(entries, cases)
        bus.append(backlog_messages)
        total = len(backlog_messages)
        print(f"{label}: backlog of {total:,} messages ({malformed} malformed) on the embedded transport")
        spawned = time.time()
        process = spawn(env, samples if profile else None)
        pid = process.pid
        prober.start()
        done = wait_for(reader, process, total, timeout=1200)
        prober.done.set()
        prober.join()
        cpu, peak = cpu_seconds(pid), peak_rss_mb(pid)
        found = metrics(f"http://{env['RELIEF_AUDIT_ADDRESS']}")
        first = float(reader.select_rows(ENTRIES, keys=[idx_key(0)])[0]["appended_at"])
        sizes, cycles = batch_cycles(reader)
        rate = total / (done - first)
        judged = "met" if rate >= TARGET_RATE else "NOT met"
        print(f"{label}: appended {total:,} entries in {done - first:.1f}s = {rate:,.0f} entries/s (target ≥ "
              f"{TARGET_RATE:,}: {judged}); audit's start-up before its first entry {first - spawned:.1f}s")
        print(f"{label}: {len(sizes):,} batches of {sum(sizes) / len(sizes):,.0f} entries on average (at most "
              f"{max(sizes):,}); cycle p50 {percentile(cycles, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(cycles, 0.99) * 1000:.0f} ms")
        mean_ms = 1000 * found["sum"] / found["count"]
        p50, p99 = (bucket_of(found["buckets"], q) * 1000 for q in (0.5, 0.99))
        print(f"{label}: append alone (relief_trail_append_seconds): mean {mean_ms:.0f} ms; p50 ≤ {p50:.0f} ms, "
              f"p99 ≤ {p99:.0f} ms")
        print(f"{label}: audit used {cpu:.1f}s of CPU (start-up included) = {cpu * 1000 / total:.2f} ms an entry; "
              f"peak RSS {peak:.0f} MB; {found['rejected']} source messages rejected (of {malformed} malformed)")
        health = sorted(prober.seconds)
        print(f"{label}: /health while it appended (every {PROBE_SECONDS}s): p50 {percentile(health, 0.5) * 1000:.0f} "
              f"ms, max {max(health, default=float('nan')) * 1000:.0f} ms; {prober.failed} failed")
        verdict = checked(reader, config["STORE_URL"], Signer.parse(str(config["AUDIT_SIGNING_KEY"])).verifier)
        print(f"{label}: the log checked whole (services.audit.logcheck): {verdict}")
        return {"rate": rate, "peak": peak, "ok": verdict == "valid" and found["rejected"] == malformed}
    finally:
        prober.done.set()
        if process is not None:
            terminate(process, 30)
        bus.close()
        reader.close()
        if profile and samples.exists():
            print_profile(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="messages in the backlog")
    parser.add_argument("--cases", type=int, default=2_000, help="households whose lives fill the backlog")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--profile", action="store_true", help="sample audit's stack and print where its time goes")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind and clean up as on Ctrl-C
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")
    results = {}
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp, store_urls(args.stores, tmp) as new_store:
        for label in args.stores.split(","):
            url = new_store(label, "audit")
            results[label] = bench_store(label, url, Path(tmp), args.entries, args.cases, args.profile)
    for label, found in results.items():
        print(f"summary {label}: {found['rate']:,.0f} entries/s, peak RSS {found['peak']:.0f} MB"
              f"{'' if found['ok'] else ', WITH ERRORS'}")
    print(f"load average at the end: {load_average()}")
    if not all(found["ok"] for found in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
