"""Measure pairings per second when 10,000 imported cases arrive at once, and how soon coverage is complete.

    python -m bench.pairing_throughput [--cases 10000] [--capacity 10] [--modes application,service,e2e]
    python -m bench.pairing_throughput --modes application --profile [--profile-out pairing.prof]

Each case is intake's `CaseOpened` of a file migrated already filed (`imported.filed_on`), so pairing
pairs it at once. The cases are spread evenly over 20 county federations (gs.a.x … gs.e.w) with the
causes of an import file; each county has enough cadres, of the units each cause calls for, for every
household it files (every cadre carries `--capacity` households, set with `set_capacity`; 20% spare
slots), so every case is paired: 1,260 cadres at the default capacity of 10.

- *application*: `Pairings` on SQLite (the production cipher) in this process, fed exactly as the
  consumer feeds it: each poll of up to 500 messages (`--poll`) is decoded and validated, applied in one
  unit of work and committed once with its position (services/runtime/consumer.py). `--profile` runs
  this under cProfile and prints where the time goes.
- *service*: `python -m services.run pairing` in its own process on the embedded transport; the 10,000
  events are appended to intake's topic in one transaction (the last filing), and the time runs until
  the consumer has recorded the last one's position, which is the commit that makes coverage complete
  (checked with `GET /coverage`). Its outbox relay publishes every pairing as it goes.
- *e2e*: intake and pairing, each its own process, on the embedded transport: a caseworker posts a
  10,000-row CSV to intake's `POST /imports`; the time runs from the import reporting done (the last
  filing) until pairing has applied the last event.

The embedded log is one SQLite file, shared here between processes (a consumer waiting on it re-reads it
every 0.5 s). Memory is the peak resident set (`VmHWM`) of the pairing process; in the application mode,
`getrusage` of this process, which also holds the messages.

Targets (issue): ≥ 1,000 pairings/s per replica on SQLite; coverage complete within 30 s of the last filing.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from eventsourcing.persistence import Tracking  # noqa: E402

from bench.import_rows import peak_rss_mb  # noqa: E402
from bench.intake_http import load_average  # noqa: E402
from services.config import DEV_CIPHER_KEY, DEV_JWT_SECRET, service_config  # noqa: E402
from services.contracts import Envelope, decode, encode  # noqa: E402
from services.contracts.topics import INTAKE_TOPIC, TOPICS  # noqa: E402
from services.eventstore import store_env  # noqa: E402
from services.intake.import_rows import CSV  # noqa: E402
from services.intake.outbound import public_household, public_worker  # noqa: E402
from services.pairing.application import Pairings  # noqa: E402
from services.pairing.matching import CAUSE_FUNCTIONS, ranked_causes  # noqa: E402
from services.runtime.batch import Batch, Delivery  # noqa: E402
from services.transport import Message  # noqa: E402
from services.transport.embedded import PARTITION, EmbeddedTransport  # noqa: E402
from services.web.auth import issue_token  # noqa: E402
from tests.factories import application_body, random_id_number  # noqa: E402
from tests.harness.services import Client, ProcessSystem, environment  # noqa: E402
from tests.import_files import to_csv, valid_row  # noqa: E402

TARGET_RATE = 1000  # pairings/s per replica on SQLite
TARGET_COMPLETE_SECONDS = 30.0  # from the last filing until coverage is complete
POLL = 500  # messages per poll, as both transports hand them to the consumer
CITIES, COUNTIES = "abcde", "xyzw"
FEDERATIONS = [f"gs.{city}.{county}" for city in CITIES for county in COUNTIES]
# The causes of an import file (tests/import_files.py), and three more so that every kind of unit is asked for.
PROFILES = (["illness"], ["illness", "education"], ["low_income"], ["unemployment", "disability"],
            ["disaster"], ["education"], ["other"])
SPARE = 1.2  # cadres' slots per household a county files
PROFILE_LINES = 30
# After strip_dirs: pairing, the index rows, the contracts, the event store and its SQLite recorder.
PROJECT_AND_STORE = r"(application|index|matching|domain|rows|envelope|unit|sqlite|persistence)\.py"


def case_causes(n: int) -> list[str]:
    return PROFILES[n % len(PROFILES)]


def case_federation(n: int) -> str:
    return FEDERATIONS[(n // len(PROFILES)) % len(FEDERATIONS)]


def filed_on(n: int) -> str:
    return (date(2024, 1, 1) + timedelta(days=n % 700)).isoformat()


def roster(app: Pairings, cases: int, capacity: int) -> int:
    """Units per city and function, and in each county enough cadres for every household it files; return cadres."""
    demand: dict[tuple[str, str], float] = defaultdict(float)
    for n in range(cases):
        functions = CAUSE_FUNCTIONS[ranked_causes(case_causes(n))[0]]  # the first cause's units take it
        for function in functions:
            demand[case_federation(n), function] += 1 / len(functions)
    app.set_capacity("gs", "gs", leader=capacity, staff=capacity, by="bench")
    units = {(city, function): str(app.register_unit(name=f"{function} {city}", function=function,
                                                     federation=f"gs.{city}", scope="gs", by="bench").id)
             for city in CITIES for function in sorted({f for _, f in demand})}
    registered = 0
    for (federation, function), households in sorted(demand.items()):
        for _ in range(math.ceil(households * SPARE / capacity)):
            registered += 1
            app.register_cadre(name="王芳", unit_id=units[federation.split(".")[1], function],
                               rank="leader" if registered % 2 else "staff", federation=federation,
                               phone="13912345678", user=f"cadre{registered}", scope="gs", by="bench")
    return registered


def opened_payloads(cases: int, import_id: str) -> list[dict[str, Any]]:
    """Intake's CaseOpened payloads of an import (services/intake/outbound.py), masked as intake masks them."""
    rng = random.Random(7)
    body = application_body()
    household = {**body["household"], "per_capita_income": "600.00"}
    payloads = []
    for n in range(cases):
        worker = {**body["worker"], "id_number": random_id_number(rng)}
        payloads.append({
            "worker": public_worker(worker, "bench-person-key"),
            "household": public_household(household, "bench-person-key"),
            "category": "marginal", "causes": case_causes(n), "opened_by": "bench",
            "imported": {"filed_on": filed_on(n), "import_id": import_id, "row": n + 2},
        })
    return payloads


def intake_messages(cases: int) -> list[tuple[str, bytes]]:
    """(case id, encoded envelope) of each imported case's CaseOpened, as intake's relay publishes them."""
    now = datetime.now(UTC)
    found = []
    for n, payload in enumerate(opened_payloads(cases, str(uuid.uuid4()))):
        case_id = str(uuid.uuid4())
        envelope = Envelope(str(uuid.uuid4()), "CaseOpened", 1, now, now, case_federation(n), case_id, "intake",
                            payload)
        found.append((case_id, encode(envelope, check=n == 0)))
    return found


def fresh_app(url: str) -> Pairings:
    return Pairings(store_env(url, DEV_CIPHER_KEY))


def check(found: dict[str, Any], cases: int) -> str:
    complete = found["filed"] == found["paired"] == cases and found["uncovered"] == 0
    loads = ", ".join(f"{n}: {c}" for n, c in found["cadre_loads"].items())
    verdict = "complete" if complete else "INCOMPLETE"
    return f"{verdict}: filed {found['filed']:,}, paired {found['paired']:,}, uncovered {found['uncovered']:,}; " \
           f"cadres by load {{{loads}}}"


def apply_polls(app: Pairings, messages: list[Message], poll: int) -> list[float]:
    """Apply the messages a poll at a time, as EventConsumer._apply_once does; return each poll's seconds."""
    seconds = []
    for start in range(0, len(messages), poll):
        began = time.perf_counter()
        polled = messages[start:start + poll]
        batch = Batch([Delivery(decode(m.value), m) for m in polled])
        app.bind(batch.unit)  # what EventStore.worker_setup does for the handler's worker
        try:
            for delivery in batch:  # PairingService.on_intake_events
                if not app.apply_intake_event(delivery.envelope):
                    batch.already_had(delivery)
        finally:
            app.bind(None)
        events, index = batch.unit.effects_before(None)
        positions = {m.position_name: m.offset for m in polled}
        app.commit(events, index, [Tracking(name, offset) for name, offset in positions.items()])
        seconds.append(time.perf_counter() - began)
    return seconds


def rss_mb() -> tuple[float, float]:
    """(resident now, peak of this process) in MB."""
    now = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
    return now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def application(tmp: str, cases: int, capacity: int, poll: int, profile: bool, profile_out: str | None) -> None:
    url = f"sqlite:///{tmp}/pairing-app-{uuid.uuid4().hex[:6]}.db"
    app = fresh_app(url)
    try:
        began = time.perf_counter()
        cadres = roster(app, cases, capacity)
        print(f"roster: {cadres:,} cadres over {len(FEDERATIONS)} counties, capacity {capacity} "
              f"({time.perf_counter() - began:.1f}s)")
        messages = [Message(INTAKE_TOPIC, PARTITION, offset, case_id, value)
                    for offset, (case_id, value) in enumerate(intake_messages(cases))]
        before, _ = rss_mb()
        profiler = cProfile.Profile() if profile else None
        began = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        seconds = apply_polls(app, messages, poll)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - began
        now, peak = rss_mb()
        queried = time.perf_counter()
        found = app.coverage("gs")
        query = time.perf_counter() - queried
    finally:
        app.close()
    rate = cases / elapsed
    label = " (under cProfile)" if profile else f" (target ≥ {TARGET_RATE:,})"
    print(f"application: {cases:,} pairings in {elapsed:.1f}s = {rate:,.0f} pairings/s{label}; "
          f"polls of {poll}: first {seconds[0] * 1000:.0f} ms, median {sorted(seconds)[len(seconds) // 2] * 1000:.0f} "
          f"ms, last {seconds[-1] * 1000:.0f} ms")
    print(f"application: coverage() {query * 1000:.0f} ms, {check(found, cases)}")
    print(f"application: RSS {before:.0f} MB before, {now:.0f} MB after; process peak {peak:.0f} MB "
          f"(holds the {cases:,} messages too)")
    if profiler is not None:
        for key, restriction, title in (("cumulative", (PROJECT_AND_STORE, PROFILE_LINES),
                                          "by cumulative time, the project's code, the store and the cipher"),
                                         ("tottime", (PROFILE_LINES,), "by own time")):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(*restriction)
            print(f"\n--- cProfile of the {cases:,} pairings, {title} ---")
            print("\n".join(line for line in out.getvalue().splitlines()[3:] if line.strip()))
        if profile_out:
            profiler.dump_stats(profile_out)
            print(f"\nprofile written to {profile_out} (python -m pstats {profile_out})")


def seeded(env: dict[str, str], cases: int, capacity: int) -> Pairings:
    """Register the roster in pairing's own store before its process starts; keep the app to read positions."""
    config = service_config("pairing", {**os.environ, **env})
    app = Pairings(store_env(config["STORE_URL"], config["CIPHER_KEY"]))
    began = time.perf_counter()
    cadres = roster(app, cases, capacity)
    print(f"roster: {cadres:,} cadres over {len(FEDERATIONS)} counties, capacity {capacity} "
          f"({time.perf_counter() - began:.1f}s)")
    return app


def wait_applied(app: Pairings, last_offset: int, since: float, timeout: float) -> tuple[float, float, int]:
    """Poll pairing's recorded position until it reaches last_offset; return (first seen, done, first position)."""
    name = f"{INTAKE_TOPIC}:{PARTITION}"
    first: tuple[float, int] | None = None
    deadline = since + timeout
    while time.perf_counter() < deadline:
        done = app.position(name)
        if done is not None and first is None:
            first = (time.perf_counter(), done)
        if done is not None and done >= last_offset:
            assert first is not None
            return first[0], time.perf_counter(), first[1]
        time.sleep(0.05)
    raise TimeoutError(f"pairing did not apply offset {last_offset} within {timeout:.0f}s (at {app.position(name)})")


def outbox_drained(transport: EmbeddedTransport, events: int, timeout: float) -> float:
    """Wait until pairing's relay has published `events` events; return when."""
    topic = TOPICS["pairing"]
    deadline = time.perf_counter() + timeout
    while transport.end_offsets([topic])[(topic, 0)] < events:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"pairing published {transport.end_offsets([topic])[(topic, 0)]} of {events} events")
        time.sleep(0.05)
    return time.perf_counter()


def coverage_over_http(system: ProcessSystem, cases: int) -> str:
    client = Client(system.url("pairing"), issue_token(DEV_JWT_SECRET, "bench", "admin", "gs"))
    began = time.perf_counter()
    response = client.session.get(client.base_url + "/coverage", timeout=120)
    response.raise_for_status()
    return f"GET /coverage {(time.perf_counter() - began) * 1000:.0f} ms, {check(response.json(), cases)}"


def report(mode: str, cases: int, t_last: float, first: float, done: float, first_offset: int,
           published: float, pid: int, idle: float) -> None:
    rate = (cases - 1 - first_offset) / (done - first) if done > first else float("nan")
    complete = done - t_last
    print(f"{mode}: {rate:,.0f} pairings/s applied (target ≥ {TARGET_RATE:,}); first batch committed "
          f"{first - t_last:.2f}s after the last filing")
    verdict = "met" if complete <= TARGET_COMPLETE_SECONDS else "NOT met"
    print(f"{mode}: coverage complete {complete:.1f}s after the last filing (target ≤ {TARGET_COMPLETE_SECONDS:.0f}s: "
          f"{verdict}); every pairing published {published - t_last:.1f}s after it")
    print(f"{mode}: pairing process peak RSS {peak_rss_mb(pid):.0f} MB (idle with the roster {idle:.0f} MB)")


def service(tmp: str, cases: int, capacity: int) -> None:
    env = environment(Path(tmp) / "service")
    os.makedirs(env["RELIEF_DATA_DIR"])
    reader = seeded(env, cases, capacity)
    system = ProcessSystem(env, services=("pairing",))
    bus = EmbeddedTransport(str(Path(env["RELIEF_DATA_DIR"]) / "bus.db"))
    try:
        messages = intake_messages(cases)
        system.start("pairing")
        pid = system.procs["pairing"].pid
        time.sleep(1.0)  # its consumer subscribed and idle
        idle = peak_rss_mb(pid)
        bus.append([(INTAKE_TOPIC, case_id, value, {}) for case_id, value in messages])
        t_last = time.perf_counter()
        first, done, first_offset = wait_applied(reader, cases - 1, t_last, timeout=240)
        published = outbox_drained(bus, cases, timeout=120)
        report("service", cases, t_last, first, done, first_offset, published, pid, idle)
        print(f"service: {coverage_over_http(system, cases)}")
    finally:
        system.stop()
        bus.close()
        reader.close()


def e2e(tmp: str, cases: int, capacity: int) -> None:
    env = environment(Path(tmp) / "e2e")
    os.makedirs(env["RELIEF_DATA_DIR"])
    reader = seeded(env, cases, capacity)
    rng = random.Random(11)
    rows = []
    for n in range(cases):
        row = valid_row(rng, case_federation(n))
        row["causes"], row["filed_on"] = ";".join(case_causes(n)), filed_on(n)
        rows.append(row)
    data = to_csv(rows)
    system = ProcessSystem(env, services=("intake", "pairing"))
    bus = EmbeddedTransport(str(Path(env["RELIEF_DATA_DIR"]) / "bus.db"))
    try:
        system.start("intake", "pairing")
        pid = system.procs["pairing"].pid
        time.sleep(1.0)
        idle = peak_rss_mb(pid)
        staff = system.client("intake", "caseworker", "gs", "bench")
        posted = time.perf_counter()
        response = staff.post("/imports?filename=bench.csv", data=data, headers={"Content-Type": CSV})
        response.raise_for_status()
        view = response.json()
        while view["state"] == "running":
            time.sleep(0.1)
            view = staff.get(f"/imports/{view['import_id']}").json()
        t_last = time.perf_counter()
        if view["filed"] != cases:
            raise RuntimeError(f"the import filed {view['filed']} of {cases}: {view}")
        print(f"e2e: intake imported {cases:,} rows in {t_last - posted:.1f}s "
              f"({cases / (t_last - posted):,.0f} rows/s)")
        first, done, first_offset = wait_applied(reader, cases - 1, t_last, timeout=240)
        published = outbox_drained(bus, cases, timeout=120)
        report("e2e", cases, t_last, first, done, first_offset, published, pid, idle)
        print(f"e2e: from the POST, coverage complete after {done - posted:.1f}s; "
              f"{coverage_over_http(system, cases)}")
    finally:
        system.stop()
        bus.close()
        reader.close()


MODES: dict[str, Callable[[str, int, int], None]] = {"service": service, "e2e": e2e}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--capacity", type=int, default=10, help="households per cadre (set_capacity, 1–50)")
    parser.add_argument("--modes", default="application,service,e2e")
    parser.add_argument("--poll", type=int, default=POLL, help="messages per poll in the application mode")
    parser.add_argument("--profile", action="store_true", help="run the application mode under cProfile")
    parser.add_argument("--profile-out", help="with --profile, also write the pstats file here")
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp:
        for mode in args.modes.split(","):
            if mode == "application":
                application(tmp, args.cases, args.capacity, args.poll, args.profile, args.profile_out)
            else:
                MODES[mode](tmp, args.cases, args.capacity)


if __name__ == "__main__":
    main()
