"""A province on one machine: 100,000 households through the whole stack (Kafka + PostgreSQL, every service as
its own processes), phase by phase, then `make replay` over the whole trail.

    python -m bench.province [--households 100000] [--replicas 2|1] [--capacity 25] [--clients 8] [--keep]
                             [--json results.json]

The stack (deploy/stack) starts in a temporary `RELIEF_STACK_DIR` on free ports (every `RELIEF_STACK_*_PORT`),
with `RELIEF_STACK_REPLICAS` replicas of each consuming service (pairing, aid, audit; intake has one), and
`stack-up` waits for every replica's /ready. At the end (also on Ctrl-C, SIGTERM or a failure) `stack-down`
stops it and the directory is removed, unless `--keep` (then it prints how to reach it and stop it).

The phases, one after the other; each ends when every lag is back to zero:

- *roster*: `PUT /capacity/gs` (`--capacity` households a cadre), `POST /units` (one per city and function)
  and `POST /cadres` (in each county enough of each function for the households it will file, 20% spare,
  as bench/pairing_throughput.py's roster), over `--clients` connections: the roster a province sets up before
  it migrates its files, so pairing pairs each household as it is filed.
- *import*: the households as CSV files of at most 20,000 rows (under 20 MiB; tests/import_files.py's rows,
  with bench/pairing_throughput.py's counties and causes, each ID number distinct), each `POST /imports` to
  intake's replica by a caseworker of `gs` and followed to the end before the next; then `GET /coverage`
  every 5 s until every filed household is paired (pairing covers them as it consumes the filings).
- *aid*: a `festival` program (spring_festival, 500.00 a household, bench/aid_throughput.py's) funded down
  the tree (`gs`, its 5 cities, their 20 counties: each what its households need and 10% more; a budget is at
  most 99,999,999.99, so aid_throughput's twice-over budgets do not fit 100,000 households), then
  `POST /programs/{id}/batches` over `gs`,
  `POST /batches/{id}/approval`, `GET /batches/{id}/bank-file`, and `POST /batches/{id}/bank-results` with
  every line paid (files of at most 20,000 lines, aid's limit); checked against `GET /reconciliation`.
- *visits*: one quarter's visits, `POST /cases/{id}/visits` by a caseworker for every household (their ids
  read from intake's `GET /cases` first, untimed), dated over this quarter, from `--clients` threads each
  with a keep-alive session, spread over pairing's replicas.
- *audit*: until the trail's head (`relief_trail_log_size`) holds every message of the three source topics
  (their end offsets from Kafka) and a signed checkpoint (`GET /log/checkpoint`) covers it.
- *replay*: `python -m services.audit.replay` (the `make replay` target) with `python -m deploy.stack env
  audit`'s variables: rebuilds the whole trail from the topics in a fresh SQLite store and compares it.

Measured per phase: the wall time (from its first request to every lag back to zero) and the part after its
last request; events/s through each service (`relief_events_consumed_total`, `relief_events_published_total`
summed over its replicas, over the phase's wall time) and the service's CPU per event; the largest lag seen
(`relief_consumer_lag_messages`, max over replicas per partition, summed over a service's partitions; the
relays' `relief_outbox_backlog_events` apart), every replica's /metrics scraped every second (the services
refresh the lag every 2 s); "every lag zero" is the first of three quiet scrapes in a row (every lag and
backlog 0, no counter moving) at least 2.5 s after the last request. CPU seconds and peak RSS of every
process: each replica, Kafka's JVM, PostgreSQL (the postmaster and its backends: CPU summed, RSS of the
largest), Prometheus and this client; the peak is `VmHWM`, reset at each phase's start (`clear_refs`), so it is
the phase's own. The machine's user/system/iowait/idle from /proc/stat, and the disk used by Kafka's and
PostgreSQL's data directories at each phase's end.

Everything shares the 2 cores: the client (this process: HTTP, the scrapes) too. It prints the load average
and the time at its start and end.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from kafka import KafkaAdminClient, TopicPartition
from kafka.protocol.consumer.offsets import OffsetSpec

from bench.aid_throughput import FESTIVAL_AMOUNT, YEAR, Http, cpu_seconds
from bench.import_rows import peak_rss_mb
from bench.intake_http import ROOT, load_average, percentile
from bench.pairing_throughput import CITIES, SPARE, case_causes, case_federation, filed_on
from deploy.stack import layout, services
from deploy.stack.kafka import Kafka
from deploy.stack.prometheus import Prometheus
from services import clock
from services.aid.bank import MAX_LINES as BANK_MAX_LINES
from services.aid.money import yuan
from services.contracts.topics import PARTITIONS, TOPICS
from services.intake.import_rows import CSV
from services.pairing.matching import CAUSE_FUNCTIONS, ranked_causes
from services.web.auth import issue_token
from tests.harness.kafka_broker import free_ports
from tests.import_files import to_csv, valid_row

ROWS_PER_FILE = 20_000  # about 4 MB of CSV: well under intake's 20 MiB a file
FILE_LIMIT = 20 * 1024 * 1024
SAMPLE_SECONDS = 1.0
LAG_REFRESH_SECONDS = 2.5  # the services set the lag gauge every 2 s: a quiet scrape before this is not proof
QUIET_SCRAPES = 3
COVERAGE_POLL_SECONDS = 5.0
LONG = 3600.0  # seconds an HTTP call may take: a batch over 100,000 households takes minutes
DRAIN_TIMEOUT = 3600.0
WANTED = ("relief_events_consumed_total", "relief_events_published_total", "relief_consumer_lag_messages",
          "relief_outbox_backlog_events", "relief_outbox_relay_leader", "relief_trail_log_size",
          "relief_trail_checkpoint_size", "relief_http_requests_total")
COUNTERS = ("relief_events_consumed_total", "relief_events_published_total")
PROBES = ("/metrics", "/health", "/ready")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def say(line: str = "") -> None:
    print(line, flush=True)


# The stack, in a directory of its own.


def free_services_base(replicas: int) -> int:
    """A base port whose every replica port (base + catalog port - 8000 + 10 x replica) is free."""
    probe = layout.Stack(Path("/nonexistent"), layout.Ports(0, 0, 0, 0, 0), replicas)
    offsets = [r.port for r in probe.replicas()]
    for _ in range(200):
        base = random.randrange(20000, 60000, 100)
        if all(_port_free(base + offset) for offset in offsets):
            return base
    raise RuntimeError("no free range of ports for the stack's services")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((layout.HOST, port))
        except OSError:
            return False
    return True


class StackRun:
    """`python -m deploy.stack up` in a temporary RELIEF_STACK_DIR on free ports; `down` and removal after."""

    def __init__(self, replicas: int, keep: bool):
        self.root = Path(tempfile.mkdtemp(prefix="relief-province-"))
        self.root.chmod(0o755)  # the postgres user works inside it
        self.keep = keep
        kafka, controller, postgres, prometheus = free_ports(4)
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("RELIEF_")}
        self.env.update({
            "RELIEF_STACK_DIR": str(self.root), "RELIEF_STACK_KAFKA_PORT": str(kafka),
            "RELIEF_STACK_CONTROLLER_PORT": str(controller), "RELIEF_STACK_POSTGRES_PORT": str(postgres),
            "RELIEF_STACK_PROMETHEUS_PORT": str(prometheus),
            "RELIEF_STACK_SERVICES_PORT": str(free_services_base(replicas)),
            "RELIEF_STACK_REPLICAS": str(replicas),
        })
        self.stack = layout.load(self.env)

    def command(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "deploy.stack", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def up(self) -> float:
        began = time.monotonic()
        done = self.command("up")
        (self.root / "stack-up.out").write_text(done.stdout + done.stderr)
        if done.returncode:
            raise RuntimeError(f"stack-up failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        for replica in self.stack.replicas():
            if services.ready(replica)[0] != 200:
                raise RuntimeError(f"{replica.name} is not ready after stack-up")
        return time.monotonic() - began

    def exports(self, service: str) -> dict[str, str]:
        """`python -m deploy.stack env SERVICE`'s variables."""
        done = self.command("env", service, timeout=60)
        if done.returncode:
            raise RuntimeError(f"deploy.stack env {service}: {done.stderr}")
        found = {}
        for line in done.stdout.splitlines():
            words = shlex.split(line)
            if len(words) == 2 and words[0] == "export":
                name, _, value = words[1].partition("=")
                found[name] = value
        return found

    def secret(self) -> str:
        return (self.stack.secrets / "jwt-secret").read_text().strip()

    def url(self, service: str, index: int = 0) -> str:
        return self.stack.replicas_of(service)[index].url

    def processes(self) -> dict[str, int]:
        """Every process of the stack that runs: each replica, kafka, prometheus, postgres (the postmaster)."""
        found = {r.name: pid for r in self.stack.replicas() if (pid := services.daemon(self.stack, r).pid())}
        for name, daemon in (("kafka", Kafka(self.stack).daemon), ("prometheus", Prometheus(self.stack).daemon)):
            if (pid := daemon.pid()) is not None:
                found[name] = pid
        with contextlib.suppress(OSError, ValueError, IndexError):
            found["postgres"] = int((self.stack.postgres / "postmaster.pid").read_text().split()[0])
        return found

    def pid_files(self) -> list[int]:
        files = [*self.stack.run.glob("*.pid"), self.stack.postgres / "postmaster.pid"]
        found = []
        for path in files:
            try:
                found.append(int(path.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                continue
        return found

    def close(self) -> None:
        if self.keep:
            say(f"\nthe stack keeps running in {self.root}: RELIEF_STACK_DIR={self.root} "
                f".venv/bin/python -m deploy.stack status | down")
            return
        try:
            done = self.command("down", timeout=180)
            if done.returncode:
                say(f"stack-down: {done.stdout[-1000:]}{done.stderr[-1000:]}")
        finally:
            for pid in self.pid_files():  # only what this run's stack started, and survived its down
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    continue
            shutil.rmtree(self.root, ignore_errors=True)


class StackHttp(Http):
    """aid_throughput's session of one user, with a token of the stack's secret and room for long calls."""

    def __init__(self, base_url: str, secret: str, user: str, role: str, federation: str = "gs"):
        super().__init__(base_url, user, role)
        self.session.headers["Authorization"] = f"Bearer {issue_token(secret, user, role, federation)}"

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.base_url + path, timeout=LONG, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:1000]}")
        return response


# What the processes use.


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children, the ended ones (reaped: cutime, cstime) and the live ones."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for each in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick
    return total


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def reset_peaks(pids: list[int]) -> None:
    """Reset each process's VmHWM to its present RSS, so the next reading is the peak from now on."""
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            continue


def peak_of(pid: int, tree: bool) -> float:
    """VmHWM in MB; of a tree (PostgreSQL), its largest process."""
    peaks = []
    for each in [pid, *children(pid)] if tree else [pid]:
        try:
            peaks.append(peak_rss_mb(each))
        except (OSError, RuntimeError):
            continue
    return max(peaks, default=0.0)


def process_cpu(pids: dict[str, int]) -> dict[str, float]:
    found = {}
    for name, pid in pids.items():
        try:
            found[name] = tree_cpu_seconds(pid) if name == "postgres" else cpu_seconds(pid)
        except OSError:
            continue
    own = os.times()
    found["client"] = own.user + own.system
    return found


def machine_cpu() -> dict[str, float]:
    """The machine's CPU time so far (all cores) by state, in seconds."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return {"user": (user + nice) / tick, "system": (system + irq + softirq) / tick, "iowait": iowait / tick,
            "idle": idle / tick, "steal": steal / tick}


def disk_mb(path: Path) -> float:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except OSError:
                continue
    return total / 1e6


# Every replica's /metrics, every second.


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Series:
    found: Series = {}
    for line in text.splitlines():
        if not line.startswith(WANTED):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        if name not in WANTED:
            continue
        found[(name, tuple(sorted(LABEL.findall(labels))))] = float(value)
    return found


@dataclass
class Sample:
    """One scrape of every replica, reduced to what the phases need."""

    at: float
    lags: dict[tuple[str, str, str], float]  # (service, topic, partition): the largest any replica reports
    backlogs: dict[str, float]  # each publishing service's outbox backlog, as its relay's lease holder reports it
    counters: dict[tuple[str, str], float]  # (service, consumed|published|requests), summed over its replicas
    gauges: dict[str, float]  # the trail's log and checkpoint sizes (the largest reported)

    @classmethod
    def of(cls, at: float, by_replica: dict[str, Series]) -> Sample:
        def values(name: str) -> Iterator[tuple[str, dict[str, str], float]]:
            for replica, series in by_replica.items():
                for (metric, labels), value in series.items():
                    if metric == name:
                        yield replica, dict(labels), value

        lags: dict[tuple[str, str, str], float] = {}
        for _, labels, value in values("relief_consumer_lag_messages"):
            key = (labels["service"], labels["topic"], labels["partition"])
            lags[key] = max(lags.get(key, 0.0), value)
        leaders = {replica for replica, _, value in values("relief_outbox_relay_leader") if value == 1}
        backlogs: dict[str, float] = {}
        for replica, labels, value in values("relief_outbox_backlog_events"):
            if replica in leaders or labels["service"] not in backlogs:
                backlogs[labels["service"]] = value
        counters: dict[tuple[str, str], float] = defaultdict(float)
        for name, kind in (("relief_events_consumed_total", "consumed"),
                           ("relief_events_published_total", "published")):
            for _, labels, value in values(name):
                counters[(labels["service"], kind)] += value
        for _, labels, value in values("relief_http_requests_total"):
            if labels.get("route") not in PROBES:
                counters[(labels["service"], "requests")] += value
        gauges = {}
        for name in ("relief_trail_log_size", "relief_trail_checkpoint_size"):
            seen = [value for _, _, value in values(name)]
            if seen:
                gauges[name] = max(seen)
        return cls(at, lags, backlogs, dict(counters), gauges)

    def lag_by_service(self) -> dict[str, float]:
        found: dict[str, float] = defaultdict(float)
        for (service, _, _), value in self.lags.items():
            found[service] += value
        return dict(found)


class Sampler(threading.Thread):
    """Scrape every replica's /metrics each second, in parallel; keep every sample."""

    def __init__(self, replicas: list[layout.Replica]):
        super().__init__(daemon=True, name="sampler")
        self.replicas = replicas
        self.samples: list[Sample] = []
        self.failures = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.last: dict[str, Series] = {}
        self.pool = ThreadPoolExecutor(max_workers=len(replicas), thread_name_prefix="scrape")
        self.sessions = {r.name: requests.Session() for r in replicas}

    def scrape(self, replica: layout.Replica) -> Series | None:
        try:
            answer = self.sessions[replica.name].get(replica.url + "/metrics", timeout=10)
            answer.raise_for_status()
        except requests.RequestException:
            return None
        return parse_metrics(answer.text)

    def sample_once(self) -> Sample:
        at = time.monotonic()
        scraped = dict(zip((r.name for r in self.replicas), self.pool.map(self.scrape, self.replicas),
                           strict=True))
        for name, series in scraped.items():
            if series is None:
                self.failures += 1
            else:
                self.last[name] = series
        sample = Sample.of(at, self.last)
        with self.lock:
            self.samples.append(sample)
        return sample

    def run(self) -> None:
        while not self.stopping.is_set():
            began = time.monotonic()
            self.sample_once()
            self.stopping.wait(max(0.0, SAMPLE_SECONDS - (time.monotonic() - began)))

    def since(self, at: float) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if s.at >= at]

    def latest(self) -> Sample:
        with self.lock:
            return self.samples[-1]

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.pool.shutdown(wait=False)


def quiet(sample: Sample, before: Sample | None) -> bool:
    """Nothing left to do: every lag and outbox backlog is 0, and no event counter moved since `before`."""
    if any(sample.lags.values()) or any(sample.backlogs.values()):
        return False
    if before is None:
        return True
    now, then = sample.counters, before.counters
    return all(now.get(k, 0.0) == then.get(k, 0.0) for k in set(now) | set(then) if k[1] != "requests")


def wait_quiet(sampler: Sampler, last_request: float, timeout: float = DRAIN_TIMEOUT) -> float:
    """When every lag was back to zero after the last request: the first of QUIET_SCRAPES quiet scrapes in a
    row that reach past LAG_REFRESH_SECONDS after it."""
    deadline = time.monotonic() + timeout
    run: list[Sample] = []
    before: Sample | None = None
    seen = 0
    while time.monotonic() < deadline:
        samples = sampler.since(last_request)
        for sample in samples[seen:]:
            run = [*run, sample] if quiet(sample, before) else []
            before = sample
        seen = len(samples)
        if len(run) >= QUIET_SCRAPES and run[-1].at >= last_request + LAG_REFRESH_SECONDS:
            return run[0].at
        time.sleep(SAMPLE_SECONDS)
    raise TimeoutError(f"the lags were not back to zero {timeout:.0f} s after the last request")


# Phases.


@dataclass
class Phase:
    name: str
    began: float
    last_request: float = 0.0
    drained: float = 0.0
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    events: dict[str, dict[str, float]] = field(default_factory=dict)
    max_lag: dict[str, float] = field(default_factory=dict)
    max_backlog: dict[str, float] = field(default_factory=dict)
    last_busy: dict[str, float] = field(default_factory=dict)  # seconds after the last request each drained
    cpu: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    machine: dict[str, float] = field(default_factory=dict)
    disk_mb: dict[str, float] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return self.drained - self.began

    @property
    def drain(self) -> float:
        return self.drained - self.last_request


class Province:
    def __init__(self, run: StackRun, households: int, capacity: int, clients: int,
                 bank_lines: int = BANK_MAX_LINES):
        self.run, self.households, self.capacity, self.clients = run, households, capacity, clients
        self.bank_lines = bank_lines  # lines per bank results file
        self.secret = run.secret()
        self.sampler = Sampler(run.stack.replicas())
        self.phases: list[Phase] = []
        self.filed = 0
        self.case_ids: list[str] = []
        self.latencies: list[float] = []  # of the last concurrent calls

    def http(self, service: str, user: str, role: str, index: int = 0) -> StackHttp:
        return StackHttp(self.run.url(service, index), self.secret, user, role)

    def phase(self, name: str, action: Callable[[Phase], None]) -> Phase:
        """Run the action (its requests), then wait for every lag to be back to zero, and measure."""
        pids = self.run.processes()
        trees = [pid for name_, pid in pids.items() if name_ == "postgres"]
        reset_peaks([*pids.values(), *(c for pid in trees for c in children(pid)), os.getpid()])
        cpu_before, machine_before = process_cpu(pids), machine_cpu()
        start = self.sampler.sample_once()
        phase = Phase(name, time.monotonic())
        say(f"\n== {name} (started {datetime.now(UTC):%H:%M:%S} UTC) ==")
        action(phase)
        phase.last_request = phase.last_request or time.monotonic()  # the action may have said when it was
        say(f"{name}: last request answered after {phase.last_request - phase.began:.1f} s; waiting for every lag")
        phase.drained = wait_quiet(self.sampler, phase.last_request)
        end = self.sampler.sample_once()
        cpu_after, machine_after = process_cpu(pids), machine_cpu()
        phase.cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_after if k in cpu_before}
        phase.machine = {k: machine_after[k] - machine_before[k] for k in machine_after}
        phase.peak_mb = {name_: peak_of(pid, name_ == "postgres") for name_, pid in pids.items()}
        phase.peak_mb["client"] = peak_rss_mb(os.getpid())
        phase.disk_mb = {"kafka": disk_mb(self.run.stack.kafka / "data"), "postgres": disk_mb(self.run.stack.postgres)}
        before, after = start.counters, end.counters
        for (service, kind), value in after.items():
            phase.events.setdefault(service, {})[kind] = value - before.get((service, kind), 0.0)
        window = [s for s in self.sampler.since(phase.began) if s.at <= phase.drained + SAMPLE_SECONDS]
        for sample in window:
            for service, lag in sample.lag_by_service().items():
                phase.max_lag[service] = max(phase.max_lag.get(service, 0.0), lag)
                if lag:
                    phase.last_busy[service] = max(0.0, sample.at - phase.last_request)
            for service, backlog in sample.backlogs.items():
                phase.max_backlog[service] = max(phase.max_backlog.get(service, 0.0), backlog)
                if backlog:
                    key = f"{service} outbox"
                    phase.last_busy[key] = max(0.0, sample.at - phase.last_request)
        self.phases.append(phase)
        print_phase(phase, self.run.stack)
        return phase

    # b (before a). The roster.

    def roster(self, phase: Phase) -> None:
        admin = self.http("pairing", "bench-admin", "admin")
        admin.call("PUT", "/capacity/gs", 200, json={"leader": self.capacity, "staff": self.capacity})
        demand: dict[tuple[str, str], float] = defaultdict(float)
        for n in range(self.households):
            functions = CAUSE_FUNCTIONS[ranked_causes(case_causes(n))[0]]  # the first cause's units take it
            for function in functions:
                demand[case_federation(n), function] += 1 / len(functions)
        units = {}
        for city in CITIES:
            for function in sorted({f for _, f in demand}):
                body = {"name": f"{function} {city}", "function": function, "federation": f"gs.{city}"}
                units[(city, function)] = admin.call("POST", "/units", 201, json=body).json()["unit_id"]
        bodies: list[dict[str, Any]] = []
        for (federation, function), households in sorted(demand.items()):
            for _ in range(math.ceil(households * SPARE / self.capacity)):
                bodies.append({"name": "王芳", "unit_id": units[federation.split(".")[1], function],
                               "rank": "leader" if len(bodies) % 2 else "staff", "federation": federation,
                               "phone": "13912345678", "user": f"cadre{len(bodies)}"})
        seconds = self.concurrently("pairing", "admin", [("POST", "/cadres", 201, body) for body in bodies])
        phase.figures.update({"units": len(units), "cadres": len(bodies), "capacity": self.capacity})
        phase.notes.append(f"{len(units)} units, {len(bodies):,} cadres (capacity {self.capacity}) over "
                           f"{self.clients} clients: {len(bodies) / seconds:,.0f} cadres/s")

    def concurrently(self, service: str, role: str, calls: list[tuple[str, str, int, dict[str, Any]]]) -> float:
        """Make the calls from `clients` threads, each with a session of its own on one of the service's
        replicas (in turn); raise on the first unexpected answer. Returns the seconds; latencies in self.latencies."""
        replicas = len(self.run.stack.replicas_of(service))
        sessions = [self.http(service, f"bench-{role}-{k}", role, k % replicas) for k in range(self.clients)]
        latencies: list[list[float]] = [[] for _ in sessions]
        errors: list[str] = []

        def work(k: int) -> None:
            for method, path, expect, body in calls[k::self.clients]:
                if errors:
                    return
                began = time.perf_counter()
                try:
                    sessions[k].call(method, path, expect, json=body)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:500])
                    return
                latencies[k].append(time.perf_counter() - began)

        began = time.perf_counter()
        threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(f"{len(errors)} calls failed, the first: {errors[0]}")
        self.latencies = sorted(x for each in latencies for x in each)
        return time.perf_counter() - began

    # a. The import, then coverage.

    def import_files(self, files: list[bytes]) -> Callable[[Phase], None]:
        def action(phase: Phase) -> None:
            staff = self.http("intake", "bench-caseworker", "caseworker")
            filed = refused = 0
            for k, data in enumerate(files):
                began = time.monotonic()
                view = staff.call("POST", f"/imports?filename=province-{k + 1}.csv", 202, data=data,
                                  headers={"Content-Type": CSV}).json()
                while view["state"] == "running":
                    time.sleep(0.5)
                    view = staff.call("GET", f"/imports/{view['import_id']}", 200).json()
                if view["state"] != "done":
                    raise RuntimeError(f"import {k + 1}: {view['state']}: {view}")
                filed += view["filed"]
                refused += view["failed_rows"]
                seconds = time.monotonic() - began
                say(f"import: file {k + 1}/{len(files)}: {view['rows_done']:,} rows ({len(data) / 1e6:.1f} MB) "
                    f"in {seconds:.1f} s = {view['rows_done'] / seconds:,.0f} rows/s, {view['filed']:,} filed"
                    + (f", {view['failed_rows']} refused: {view['failures'][:2]}" if view["failed_rows"] else ""))
            self.filed = filed
            imported = phase.last_request = time.monotonic()  # coverage is polled while the lags drain
            phase.figures.update({"files": len(files), "filed": filed, "refused": refused,
                                  "import_seconds": imported - phase.began,
                                  "rows_per_second": self.households / (imported - phase.began)})
            phase.notes.append(f"{len(files)} files, {filed:,} filed, {refused} refused: "
                               f"{self.households / (imported - phase.began):,.0f} rows/s over the import")
            supervisor = self.http("pairing", "bench-admin", "admin")
            while True:
                asked = time.perf_counter()
                coverage = supervisor.call("GET", "/coverage", 200).json()
                took = time.perf_counter() - asked
                if coverage["filed"] == coverage["paired"] == filed and coverage["uncovered"] == 0:
                    break
                time.sleep(COVERAGE_POLL_SECONDS)
            covered = time.monotonic() - imported
            phase.figures.update({"covered_after": covered, "coverage_ms": took * 1000})
            phase.notes.append(f"coverage complete (GET /coverage: filed = paired = {filed:,}, 0 uncovered) "
                               f"{covered:.1f} s after the last import was done; GET /coverage took "
                               f"{took * 1000:.0f} ms")

        return action

    # c. Aid: the Spring Festival batch.

    def aid(self, phase: Phase) -> None:
        admin = self.http("aid", "bench-admin", "admin")
        approver = self.http("aid", "bench-approver", "approver")
        began = time.monotonic()
        festival = self.festival_program(admin)
        seconds = {"programs": time.monotonic() - began}
        began = time.monotonic()
        batch = admin.call("POST", f"/programs/{festival}/batches", 201, json={
            "federation": "gs", "reason": "春节送温暖", "idempotency_key": f"festival-{uuid.uuid4().hex[:8]}"}).json()
        seconds["create"] = time.monotonic() - began
        batch_id = batch["batch_id"]
        began = time.monotonic()
        approver.call("POST", f"/batches/{batch_id}/approval", 201)
        seconds["approve"] = time.monotonic() - began
        began = time.monotonic()
        lines = list(csv.DictReader(io.StringIO(approver.call("GET", f"/batches/{batch_id}/bank-file", 200).text)))
        seconds["bank file"] = time.monotonic() - began
        today = clock.today().isoformat()
        paid = failed = refused = 0
        began = time.monotonic()
        for start in range(0, len(lines), self.bank_lines):
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["disbursement_id", "result", "date", "bank_reference", "reason"])
            for n, line in enumerate(lines[start:start + self.bank_lines], start=start):
                writer.writerow([line["disbursement_id"], "paid", today, f"B{n:08d}", ""])
            results = approver.call("POST", f"/batches/{batch_id}/bank-results", 200, data=out.getvalue().encode(),
                                    headers={"Content-Type": "text/csv"}).json()
            paid, failed, refused = paid + results["paid"], failed + results["failed"], refused + results["refused"]
        seconds["bank results"] = time.monotonic() - began
        totals = admin.call("GET", f"/reconciliation?program={festival}", 200).json()["totals"][0]
        want = yuan(FESTIVAL_AMOUNT * self.filed)
        check = "ok" if totals["paid"] == want and totals["reserved"] == "0.00" else "MISMATCH"
        phase.figures.update({"seconds": seconds, "included": len(batch["disbursements"]),
                              "excluded": len(batch["excluded"]), "lines": len(lines), "paid": paid,
                              "failed": failed, "refused": refused, "reconciliation": check})
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
        phase.notes.append(f"batch: {len(batch['disbursements']):,} included, {len(batch['excluded']):,} excluded; "
                           f"{steps}; bank results in {math.ceil(len(lines) / self.bank_lines)} files: {paid:,} paid, "
                           f"{failed} failed, {refused} refused; reconciliation paid {totals['paid']} (want {want}), "
                           f"reserved {totals['reserved']}: {check}")
        if check != "ok" or paid != self.filed:
            raise RuntimeError(f"the batch did not pay every household: {phase.notes[-1]}")

    def festival_program(self, admin: StackHttp) -> str:
        """The Spring Festival program of the year at gs, funded down the tree with 10% to spare at each level."""
        body = {"name": f"festival {YEAR}", "kind": "festival", "year": YEAR, "federation": "gs",
                "amount": yuan(FESTIVAL_AMOUNT), "festival": "spring_festival"}
        program_id = admin.call("POST", "/programs", 201, json=body).json()["program_id"]
        counties: dict[str, int] = defaultdict(int)
        for n in range(self.households):
            counties[case_federation(n)] += 1
        county = {f: math.ceil(FESTIVAL_AMOUNT * c * 1.1) for f, c in counties.items()}
        cities: dict[str, int] = defaultdict(int)
        for federation, fen in county.items():
            cities[federation.rsplit(".", 1)[0]] += math.ceil(fen * 1.1)
        top = math.ceil(sum(cities.values()) * 1.1)
        for federation, fen in (("gs", top), *sorted(cities.items()), *sorted(county.items())):
            admin.call("POST", "/budgets", 201, json={"program_id": program_id, "federation": federation,
                                                      "amount": yuan(fen)})
        return str(program_id)

    # d. One quarter's visits.

    def read_case_ids(self) -> None:
        staff = self.http("intake", "bench-caseworker", "caseworker")
        began = time.monotonic()
        while True:
            page = staff.call("GET", f"/cases?limit=500&offset={len(self.case_ids)}", 200).json()
            self.case_ids.extend(c["case_id"] for c in page["cases"])
            if not page["cases"] or len(self.case_ids) >= page["total"]:
                break
        say(f"visits: {len(self.case_ids):,} case ids read from intake's GET /cases in "
            f"{time.monotonic() - began:.1f} s (not timed in the phase)")

    def visits(self, phase: Phase) -> None:
        today = clock.today()
        quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        days = (today - quarter).days + 1
        calls = [("POST", f"/cases/{case_id}/visits", 201, {
            "visited_on": (quarter + timedelta(days=n % days)).isoformat(), "kind": "routine",
            "findings": "季度走访：家中生活基本稳定，子女按时上学。", "measures": "继续落实低保和医疗救助。"})
            for n, case_id in enumerate(self.case_ids)]
        seconds = self.concurrently("pairing", "caseworker", calls)
        lat = self.latencies
        phase.figures.update({"visits": len(calls), "rate": len(calls) / seconds, "p50_ms": percentile(lat, 0.5) * 1000,
                              "p99_ms": percentile(lat, 0.99) * 1000})
        phase.notes.append(f"{len(calls):,} visits over {self.clients} clients on "
                           f"{len(self.run.stack.replicas_of('pairing'))} pairing replica(s) in {seconds:.1f} s = "
                           f"{len(calls) / seconds:,.0f}/s; latency p50 {percentile(lat, 0.5) * 1000:.0f} ms, "
                           f"p99 {percentile(lat, 0.99) * 1000:.0f} ms")

    # e. The trail holds everything, under a signed checkpoint.

    def audit(self, phase: Phase) -> None:
        auditor = self.http("audit", "bench-auditor", "auditor")
        sources = source_messages(self.run.stack.bootstrap)
        total = sum(sources.values())
        while True:
            sample = self.sampler.latest()
            size = sample.gauges.get("relief_trail_log_size")
            signed = checkpoint_size(auditor.call("GET", "/log/checkpoint", 200).text)
            if size == total and signed == total:
                break
            time.sleep(SAMPLE_SECONDS)
        phase.figures.update({"sources": sources, "entries": total, "checkpoint": signed})
        per_topic = ", ".join(f"{topic}: {n:,}" for topic, n in sources.items())
        phase.notes.append(f"the trail holds {total:,} entries ({per_topic}), and the newest signed checkpoint "
                           f"covers {signed:,}")

    # f. make replay.

    def replay(self) -> dict[str, Any]:
        """`make replay` against the stack in a process of its own: its wall time, CPU, peak RSS and result."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("RELIEF_")}
        env.update(self.run.exports("audit"))
        log = self.run.root / "replay.log"
        command = ["-m", "services.audit.replay"]
        say(f"\n== replay (started {datetime.now(UTC):%H:%M:%S} UTC): python {' '.join(command)} ==")
        began = time.monotonic()
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=out)
            assert proc.stdout is not None
            report = proc.stdout.read().decode()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - began
        errors = log.read_text().splitlines()
        progress = [line for line in errors if line.startswith("replay:")]
        found: dict[str, Any] = {"seconds": seconds, "exit": proc.returncode,
                                 "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
                                 "report": report.strip().splitlines(),
                                 "last_progress": progress[-1] if progress else "",
                                 "errors": [line for line in errors if not line.startswith("replay:")][-20:]}
        say("\n".join(f"replay: {line}" for line in found["report"]))
        if proc.returncode:
            say("\n".join(f"replay: stderr: {line}" for line in found["errors"]))
        say(f"replay: exit {proc.returncode} in {seconds:.1f} s wall, {found['cpu']:.1f} s CPU, peak RSS "
            f"{found['peak_mb']:.0f} MB; {found['last_progress']}")
        return found


def source_messages(bootstrap: str) -> dict[str, int]:
    """Messages on each of the trail's source topics: the sum of its partitions' end offsets."""
    partitions = [TopicPartition(topic, p) for topic in sorted(TOPICS.values()) for p in range(PARTITIONS)]
    with KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-province", request_timeout_ms=10000) as admin:
        ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
    found: dict[str, int] = defaultdict(int)
    for tp, meta in ends.items():
        found[tp.topic] += meta.offset
    return dict(sorted(found.items()))


def checkpoint_size(note: str) -> int:
    """The tree size of a C2SP checkpoint: its second line."""
    return int(note.splitlines()[1])


def household_files(households: int, per_file: int = ROWS_PER_FILE) -> list[bytes]:
    """The households as CSV files of `per_file` rows in bench/pairing_throughput.py's counties and with its
    causes, each ID number distinct."""
    rng = random.Random(11)
    seen: set[str] = set()
    rows = []
    for n in range(households):
        row = valid_row(rng, case_federation(n))
        while row["id_number"] in seen:
            row = valid_row(rng, case_federation(n))
        seen.add(row["id_number"])
        row["causes"], row["filed_on"] = ";".join(case_causes(n)), filed_on(n)
        rows.append(row)
    files = [to_csv(rows[k:k + per_file]) for k in range(0, len(rows), per_file)]
    if any(len(f) > FILE_LIMIT for f in files):
        raise RuntimeError("an import file over 20 MiB: lower ROWS_PER_FILE")
    return files


# Printing.


def print_phase(phase: Phase, stack: layout.Stack) -> None:
    say(f"{phase.name}: wall {phase.wall:.1f} s = requests {phase.last_request - phase.began:.1f} s + every lag "
        f"back to zero {phase.drain:.1f} s after the last request")
    for note in phase.notes:
        say(f"{phase.name}: {note}")
    say(f"  {'service':8} {'consumed':>10} {'/s':>7} {'published':>10} {'/s':>7} {'requests':>9} {'max lag':>8} "
        f"{'max outbox':>10} {'drained':>8} {'CPU s':>7} {'CPU ms/event':>12}")
    names = [n for n in ("intake", "pairing", "aid", "audit", "gateway")]
    for service in names:
        counts = phase.events.get(service, {})
        consumed, published = counts.get("consumed", 0.0), counts.get("published", 0.0)
        cpu = sum(v for k, v in phase.cpu.items() if k.rsplit("-", 1)[0] == service)
        handled = consumed or published
        busy = max(phase.last_busy.get(service, 0.0), phase.last_busy.get(f"{service} outbox", 0.0))
        say(f"  {service:8} {consumed:>10,.0f} {consumed / phase.wall:>7,.0f} {published:>10,.0f} "
            f"{published / phase.wall:>7,.0f} {counts.get('requests', 0.0):>9,.0f} "
            f"{phase.max_lag.get(service, 0.0):>8,.0f} {phase.max_backlog.get(service, 0.0):>10,.0f} "
            f"{busy:>7.1f}s {cpu:>7.1f} " + (f"{cpu * 1000 / handled:>12.2f}" if handled else f"{'-':>12}"))
    say(f"  {'process':12} {'CPU s':>7} {'% core':>7} {'peak RSS MB':>12}")
    for name in [r.name for r in stack.replicas()] + ["kafka", "postgres", "prometheus", "client"]:
        if name in phase.cpu:
            say(f"  {name:12} {phase.cpu[name]:>7.1f} {100 * phase.cpu[name] / phase.wall:>7.0f} "
                f"{phase.peak_mb.get(name, 0.0):>12.0f}")
    machine = phase.machine
    total = sum(machine.values()) or 1.0
    say(f"  machine: user {100 * machine['user'] / total:.0f}%, system {100 * machine['system'] / total:.0f}%, "
        f"iowait {100 * machine['iowait'] / total:.0f}%, idle {100 * machine['idle'] / total:.0f}%, steal "
        f"{100 * machine['steal'] / total:.0f}% of {os.cpu_count()} cores; disk: kafka "
        f"{phase.disk_mb['kafka']:,.0f} MB, postgres {phase.disk_mb['postgres']:,.0f} MB")


def summary(province: Province, replay: dict[str, Any] | None) -> list[str]:
    """The limiting part: in each phase, the service last to drain, its CPU per event and share of a core,
    beside PostgreSQL's share and the machine's idle time."""
    lines = []
    for phase in province.phases:
        if not phase.last_busy:
            lines.append(f"{phase.name}: nothing lagged (every lag 0 {phase.drain:.1f} s after the last request)")
            continue
        last = max(phase.last_busy, key=lambda k: phase.last_busy[k])
        service = last.split()[0]
        cpu = sum(v for k, v in phase.cpu.items() if k.rsplit("-", 1)[0] == service)
        replicas = [k for k in phase.cpu if k.rsplit("-", 1)[0] == service]
        busiest = max(replicas, key=lambda k: phase.cpu[k]) if replicas else service
        total = sum(phase.machine.values()) or 1.0
        lines.append(
            f"{phase.name}: last to drain {last} ({phase.last_busy[last]:.0f} s after the last request); "
            f"{service} used {cpu:.0f} s CPU ({100 * cpu / phase.wall:.0f}% of a core over the phase; busiest "
            f"replica {busiest} {100 * phase.cpu.get(busiest, 0.0) / phase.wall:.0f}%), postgres "
            f"{100 * phase.cpu.get('postgres', 0.0) / phase.wall:.0f}%, kafka "
            f"{100 * phase.cpu.get('kafka', 0.0) / phase.wall:.0f}%; machine idle "
            f"{100 * phase.machine['idle'] / total:.0f}%, iowait {100 * phase.machine['iowait'] / total:.0f}%")
    if replay is not None:
        lines.append(f"replay (make replay): {replay['seconds']:.1f} s, exit {replay['exit']}, "
                     + (replay["report"][0] if replay["report"] else (replay["errors"] or [""])[-1]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--replicas", type=int, default=layout.CONSUMER_REPLICAS,
                        help="replicas of each consuming service (pairing, aid, audit): RELIEF_STACK_REPLICAS")
    parser.add_argument("--capacity", type=int, default=25, help="households a cadre carries (1-50)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients for the roster and visits")
    parser.add_argument("--keep", action="store_true", help="leave the stack running in its directory at the end")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--skip-replay", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows-per-file", type=int, default=ROWS_PER_FILE, help=argparse.SUPPRESS)
    parser.add_argument("--bank-lines", type=int, default=BANK_MAX_LINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind and clean up as on Ctrl-C
    started = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "load": load_average()}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    say(f"province: {args.households:,} households, {args.replicas} replica(s) of each consumer; commit {commit}; "
        f"{started['at']}; load average at start: {started['load']}; {os.cpu_count()} cores")
    began = time.monotonic()
    files = household_files(args.households, args.rows_per_file)
    say(f"files: {len(files)} CSV files of at most {args.rows_per_file:,} rows, {sum(map(len, files)) / 1e6:.1f} MB "
        f"(made in {time.monotonic() - began:.1f} s, before the stack starts)")
    run = StackRun(args.replicas, args.keep)
    province: Province | None = None
    replay = None
    try:
        say(f"stack: starting in {run.root} ({', '.join(r.name for r in run.stack.replicas())})")
        up = run.up()
        say(f"stack: up and every replica ready after {up:.1f} s")
        province = Province(run, args.households, args.capacity, args.clients, args.bank_lines)
        province.sampler.sample_once()
        province.sampler.start()
        province.phase("roster", province.roster)
        province.phase("import", province.import_files(files))
        files = []
        province.phase("aid", province.aid)
        province.read_case_ids()
        province.phase("visits", province.visits)
        province.phase("audit", province.audit)
        province.sampler.stop()
        if not args.skip_replay:
            replay = province.replay()
        say("\n== summary ==")
        for line in summary(province, replay):
            say(line)
    finally:
        if province is not None:
            province.sampler.stop()
        ended = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "load": load_average()}
        say(f"province: {time.monotonic() - began:.0f} s in all; ended {ended['at']}; load average at the end: "
            f"{ended['load']}" + (f"; {province.sampler.failures} scrapes failed" if province else ""))
        if args.json and province is not None:
            args.json.write_text(json.dumps({
                "households": args.households, "replicas": args.replicas, "capacity": args.capacity,
                "clients": args.clients, "commit": commit, "started": started, "ended": ended,
                "phases": [{**vars(p), "wall": p.wall, "drain": p.drain} for p in province.phases],
                "replay": replay}, indent=1, default=str) + "\n")
        run.close()
    if replay is not None and replay["exit"] != 0:
        sys.exit(1)  # the trail did not replay


if __name__ == "__main__":
    main()
