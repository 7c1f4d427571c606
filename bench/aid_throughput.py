"""Measure aid's request + approval pairs per second over HTTP, and a festival batch over 10,000 households.

    python -m bench.aid_throughput [--households 10000] [--pairs 3000] [--clients 8] [--stores sqlite,postgres]
    python -m bench.aid_throughput --stores sqlite --households 1000 --profile

`--profile` samples the aid process's stack each millisecond over the whole run (as bench/intake_http.py
does for intake) and prints where its time went; sampling slows aid, so its figures are not the figures.

For each store (SQLite, and PostgreSQL started on a free port with durable commits, as production runs it),
aid runs as its own process (`python -m services.run aid`) on the embedded transport. Its cases come as
pairing's do in bench/pairing_throughput.py: intake's `CaseOpened` of a file migrated already filed
(`imported.filed_on`), appended to intake's topic in one transaction, spread over 20 county federations
(gs.a.x … gs.e.w); the bench waits until aid's consumer has recorded the last one's position. Then, over
HTTP, an admin creates two programs of the year at `gs` and allocates their budgets down the tree (gs, its
5 cities, their 20 counties, each with room to spare):

- *pairs*: a `living` program of 200.00 a household. `--clients` keep-alive connections each run pairs one
  after the other: `POST /disbursements` by a caseworker (a fresh idempotency key, a different household
  each time), then `POST /disbursements/{id}/approval` by an approver (never the requester), which reserves
  the amount from the household's county budget. The rate is pairs completed over the whole run; a pair's
  latency runs from sending the request to the approval's answer.
- *batch*: a `festival` program (spring_festival, 500.00 a household): `POST /programs/{id}/batches` over
  `gs` (one request per filed household), `POST /batches/{id}/approval` (all or nothing, one reservation
  per county budget), `GET /batches/{id}/bank-file` (the CSV to pay), `POST /batches/{id}/bank-results`
  with every line paid; each phase timed from sending to the whole answer, and the sum end to end. The
  result is checked against `GET /reconciliation`.

Memory is the aid process's peak resident set (`VmHWM`), over the whole run of that store. The client is
this process (a selector loop, next to nothing per request); aid, PostgreSQL and it share the 2 cores.

Targets (issue 8): ≥ 300 request+approval pairs/s on SQLite; the 10,000-household batch under 60 s.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.import_rows import peak_rss_mb
from bench.intake_http import ROOT, Connection, load_average, percentile
from bench.pairing_throughput import FEDERATIONS, case_federation, opened_payloads
from bench.stores import store_urls
from services import clock
from services.aid.application import Aids
from services.aid.money import yuan
from services.config import DEV_JWT_SECRET, service_config
from services.contracts import Envelope, encode
from services.contracts.topics import INTAKE_TOPIC
from services.eventstore import store_env
from services.transport.embedded import PARTITION, EmbeddedTransport
from services.web.auth import issue_token
from tests.harness.services import ProcessSystem, environment

TARGET_PAIRS = 300  # request+approval pairs/s on SQLite
TARGET_BATCH_SECONDS = 60.0  # the 10,000-household batch, end to end
PAIR_AMOUNT, FESTIVAL_AMOUNT = 200_00, 500_00  # fen
YEAR = 2026
SLOW = 300  # seconds an HTTP call may take before the bench gives up on it (5 times the batch target)
PROFILE_LINES = 25


def token(user: str, role: str) -> str:
    return issue_token(DEV_JWT_SECRET, user, role, "gs")


def intake_messages(households: int) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """Intake's CaseOpened of each imported household, as its relay appends them to the embedded log."""
    now = datetime.now(UTC)
    found = []
    for n, payload in enumerate(opened_payloads(households, str(uuid.uuid4()))):
        case_id = str(uuid.uuid4())
        envelope = Envelope(str(uuid.uuid4()), "CaseOpened", 1, now, now, case_federation(n), case_id, "intake",
                            payload)
        found.append((INTAKE_TOPIC, case_id, encode(envelope, check=n == 0), {}))
    return found


class Http:
    """One keep-alive session of one user, with long timeouts (a batch call takes seconds)."""

    def __init__(self, base_url: str, user: str, role: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token(user, role)}"

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.base_url + path, timeout=SLOW, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:1000]}")
        return response


def programs_and_budgets(admin: Http, households: int, pairs: int) -> tuple[str, str]:
    """The living program the pairs draw on and the festival program of the batch, funded down the tree."""
    ids = []
    for kind, amount, per_household in (("living", PAIR_AMOUNT, pairs), ("festival", FESTIVAL_AMOUNT, households)):
        body = {"name": f"{kind} {YEAR}", "kind": kind, "year": YEAR, "federation": "gs", "amount": yuan(amount),
                "festival": "spring_festival" if kind == "festival" else None}
        program_id = admin.call("POST", "/programs", 201, json=body).json()["program_id"]
        county = amount * (per_household // len(FEDERATIONS) + 1) * 2  # twice what each county needs
        cities = sorted({f.rsplit(".", 1)[0] for f in FEDERATIONS})
        city = county * len(FEDERATIONS) // len(cities) * 2
        for federation, fen in (("gs", city * len(cities) * 2), *((c, city) for c in cities),
                                *((f, county) for f in FEDERATIONS)):
            admin.call("POST", "/budgets", 201, json={"program_id": program_id, "federation": federation,
                                                      "amount": yuan(fen)})
        ids.append(program_id)
    return ids[0], ids[1]


@dataclass
class Pair:
    """One connection's pair in flight: its request, then its approval."""

    conn: Connection
    n: int = -1
    started: float = 0.0
    approving: bool = False
    latencies: list[float] = field(default_factory=list)


def request_bytes(port: int, path: str, bearer: str, body: dict[str, Any] | None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {bearer}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


def run_pairs(port: int, program_id: str, case_ids: list[str], pairs: int, clients: int) -> dict[str, Any]:
    """Run `pairs` request+approval pairs over `clients` keep-alive connections; the rate and latencies."""
    requester = [token(f"caseworker{k}", "caseworker") for k in range(clients)]
    approver = [token(f"approver{k}", "approver") for k in range(clients)]
    run = uuid.uuid4().hex[:8]
    bodies = [request_bytes(port, "/disbursements", requester[n % clients], {
        "case_id": case_ids[n % len(case_ids)], "program_id": program_id, "idempotency_key": f"pair-{run}-{n}",
        "reason": "生活救助"}) for n in range(pairs)]
    sel = selectors.DefaultSelector()
    flights = [Pair(Connection(port)) for _ in range(clients)]
    for k, flight in enumerate(flights):
        sel.register(flight.conn.sock, selectors.EVENT_READ, (k, flight))
    sent = done = 0
    errors: list[str] = []
    start = time.perf_counter()

    def next_pair(flight: Pair, now: float) -> None:
        nonlocal sent
        if sent < pairs:
            flight.n, flight.started, flight.approving = sent, now, False
            flight.conn.send(bodies[sent], now)
            sent += 1
        else:
            flight.n = -1

    for flight in flights:
        next_pair(flight, start)
    while any(f.n >= 0 for f in flights):
        ready = sel.select(SLOW)
        if not ready:
            raise TimeoutError(f"no answer from aid within {SLOW}s, {done:,} pairs done")
        for key, _ in ready:
            k, flight = key.data
            status = flight.conn.receive()
            if status is None:
                continue
            now = time.perf_counter()
            buf = flight.conn.buf
            body = buf[buf.find(b"\r\n\r\n") + 4:]
            if not flight.approving and status == 201:
                did = json.loads(body)["disbursement_id"]
                flight.approving = True
                flight.conn.send(request_bytes(port, f"/disbursements/{did}/approval", approver[k], None), now)
                continue
            if status == 201:
                done += 1
                flight.latencies.append(now - flight.started)
            else:
                errors.append(f"{'approval' if flight.approving else 'request'} {status}: {body[:300]!r}")
            next_pair(flight, now)
    elapsed = time.perf_counter() - start
    sel.close()
    for flight in flights:
        flight.conn.sock.close()
    latencies = sorted(x for f in flights for x in f.latencies)
    return {"pairs": done, "seconds": elapsed, "rate": done / elapsed, "errors": errors,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000}


class Stalled(Exception):
    """A phase of the batch got no answer within SLOW seconds."""


def run_batch(admin: Http, approver: Http, program_id: str) -> dict[str, Any]:
    """Create, approve, export and settle a festival batch over every filed household of gs; phase seconds.

    A phase that gets no answer within SLOW seconds ends the batch: `stalled` names it."""
    seconds: dict[str, float] = {}
    try:
        return run_phases(admin, approver, program_id, seconds)
    except requests.Timeout:
        phase = ("create", "approve", "bank file", "bank results")[len(seconds)]
        return {"seconds": seconds, "stalled": phase}


def run_phases(admin: Http, approver: Http, program_id: str, seconds: dict[str, float]) -> dict[str, Any]:
    began = time.perf_counter()
    batch = admin.call("POST", f"/programs/{program_id}/batches", 201, json={
        "federation": "gs", "reason": "春节送温暖", "idempotency_key": f"festival-{uuid.uuid4().hex[:8]}"}).json()
    seconds["create"] = time.perf_counter() - began
    batch_id = batch["batch_id"]
    began = time.perf_counter()
    approver.call("POST", f"/batches/{batch_id}/approval", 201)
    seconds["approve"] = time.perf_counter() - began
    began = time.perf_counter()
    bank_file = approver.call("GET", f"/batches/{batch_id}/bank-file", 200).text
    seconds["bank file"] = time.perf_counter() - began
    lines = list(csv.DictReader(io.StringIO(bank_file)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["disbursement_id", "result", "date", "bank_reference", "reason"])
    today = clock.today().isoformat()
    for n, line in enumerate(lines):
        writer.writerow([line["disbursement_id"], "paid", today, f"B{n:08d}", ""])
    began = time.perf_counter()
    results = approver.call("POST", f"/batches/{batch_id}/bank-results", 200, data=out.getvalue().encode(),
                            headers={"Content-Type": "text/csv"}).json()
    seconds["bank results"] = time.perf_counter() - began
    return {"seconds": seconds, "stalled": None, "included": len(batch["disbursements"]),
            "excluded": len(batch["excluded"]),
            "lines": len(lines), "paid": results["paid"], "failed": results["failed"],
            "refused": results["refused"], "unchanged": results["unchanged"], "batch_id": batch_id}


class ProfiledSystem(ProcessSystem):
    """Aid in its own process as ProcessSystem runs it, but under the stack sampler (`--profile`)."""

    def __init__(self, env: dict[str, str], out: Path):
        super().__init__(env, services=("aid",))
        self.out = out

    def _spawn(self, log_name: str, args: list[str], extra: dict[str, str] | None) -> subprocess.Popen[bytes]:
        log = open(Path(self.env["RELIEF_DATA_DIR"]) / f"{log_name}.log", "ab")  # noqa: SIM115
        return subprocess.Popen([sys.executable, "-m", "bench.profiled", "aid", str(self.out)],
                                cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT)


def print_profile(path: Path) -> None:
    samples = json.loads(path.read_text())
    own, under = samples["own"], samples["under"]
    busy = sum(own.values())
    print(f"\naid busy for {busy:.1f}s (computing or blocked in I/O; the idle hub left out)")
    ours = {n: t for n, t in under.items() if n.startswith("services/")}
    calls = {n: t for n, t in under.items() if not n.startswith(("services/", "eventlet/", "nameko/", "greenlet/"))}
    for title, shares in (("own time by function", own), ("time under each function of ours (inclusive)", ours),
                          ("time under each library function (inclusive)", calls)):
        print(f"\n{title}:")
        for name, seconds in sorted(shares.items(), key=lambda kv: -kv[1])[:PROFILE_LINES]:
            print(f"  {100 * seconds / busy:5.1f}%  {name}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used: on a shared machine, what the work cost, whatever the wait."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_applied(reader: Aids, last_offset: int, timeout: float) -> float:
    """Poll aid's recorded position on intake's topic until it reaches last_offset; return when."""
    name = f"{INTAKE_TOPIC}:{PARTITION}"
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        done = reader.position(name)
        if done is not None and done >= last_offset:
            return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(f"aid did not apply offset {last_offset} within {timeout:.0f}s (at {reader.position(name)})")


def bench_store(label: str, url: str, tmp: Path, households: int, pairs: int, clients: int,
                profile: bool) -> dict[str, Any]:
    env = environment(tmp / label, stores={"aid": url})
    os.makedirs(env["RELIEF_DATA_DIR"])
    config = service_config("aid", {**os.environ, **env})
    reader = Aids(store_env(config["STORE_URL"], config["CIPHER_KEY"]))  # reads aid's consumer position
    bus = EmbeddedTransport(str(Path(env["RELIEF_DATA_DIR"]) / "bus.db"))
    samples = tmp / f"aid-profile-{label}.json"
    system = ProfiledSystem(env, samples) if profile else ProcessSystem(env, services=("aid",))
    try:
        messages = intake_messages(households)
        system.start("aid")
        pid = system.procs["aid"].pid
        time.sleep(1.0)  # its consumer subscribed and idle
        idle = peak_rss_mb(pid)
        appended = time.perf_counter()
        bus.append(messages)
        applied = wait_applied(reader, households - 1, timeout=600)
        print(f"{label}: aid applied {households:,} filed households (intake's CaseOpened) in "
              f"{applied - appended:.1f}s = {households / (applied - appended):,.0f}/s")
        base = system.url("aid")
        admin, approver = Http(base, "bench-admin", "admin"), Http(base, "bench-approver", "approver")
        living, festival = programs_and_budgets(admin, households, pairs)
        port = int(env["RELIEF_AID_ADDRESS"].rsplit(":", 1)[1])
        case_ids = [case_id for _, case_id, _, _ in messages]
        cpu = cpu_seconds(pid)
        found = run_pairs(port, living, case_ids, pairs, clients)
        cpu = cpu_seconds(pid) - cpu
        judged = f" (target ≥ {TARGET_PAIRS})" if label == "sqlite" else ""
        print(f"{label}: pairs: {found['pairs']:,} request+approval pairs in {found['seconds']:.1f}s = "
              f"{found['rate']:,.0f} pairs/s{judged} over {clients} clients; pair latency p50 "
              f"{found['p50_ms']:.0f} ms, p99 {found['p99_ms']:.0f} ms; {len(found['errors'])} errors")
        print(f"{label}: pairs: aid used {cpu:.1f}s of CPU = {cpu * 1000 / max(found['pairs'], 1):.2f} ms a pair "
              f"({100 * cpu / found['seconds']:.0f}% of a core)")
        for error in found["errors"][:3]:
            print(f"{label}: pairs: error {error}")
        after_pairs = peak_rss_mb(pid)
        cpu = cpu_seconds(pid)
        batch = run_batch(admin, approver, festival)
        cpu = cpu_seconds(pid) - cpu
        for phase, seconds in batch["seconds"].items():
            print(f"{label}: batch {phase}: {seconds:.2f}s")
        if batch["stalled"]:
            print(f"{label}: batch {batch['stalled']}: NO ANSWER within {SLOW}s (aid used {cpu:.1f}s of CPU in the "
                  f"batch); the batch is abandoned")
            peak = peak_rss_mb(pid)
            print(f"{label}: aid peak RSS {peak:.0f} MB (idle {idle:.0f} MB, after the pairs {after_pairs:.0f} MB)")
            return {"rate": found["rate"], "batch": None, "peak": peak, "ok": False}
        total = sum(batch["seconds"].values())
        verdict = "met" if total < TARGET_BATCH_SECONDS else "NOT met"
        print(f"{label}: batch end to end: {total:.1f}s over {households:,} households "
              f"(target < {TARGET_BATCH_SECONDS:.0f}s: {verdict}); {batch['included']:,} included, "
              f"{batch['excluded']:,} excluded; bank file {batch['lines']:,} lines; results paid "
              f"{batch['paid']:,}, failed {batch['failed']}, refused {batch['refused']}, "
              f"unchanged {batch['unchanged']}; aid used {cpu:.1f}s of CPU")
        totals = admin.call("GET", f"/reconciliation?program={festival}", 200).json()["totals"][0]
        want = yuan(FESTIVAL_AMOUNT * households)
        check = "ok" if totals["paid"] == want and totals["reserved"] == "0.00" else "MISMATCH"
        print(f"{label}: reconciliation of the festival program: paid {totals['paid']} (want {want}), "
              f"reserved {totals['reserved']}: {check}")
        peak = peak_rss_mb(pid)
        print(f"{label}: aid peak RSS {peak:.0f} MB (idle {idle:.0f} MB, after the pairs {after_pairs:.0f} MB)")
        return {"rate": found["rate"], "batch": total, "peak": peak, "ok": check == "ok" and not found["errors"]}
    finally:
        system.stop()
        bus.close()
        reader.close()
        if profile and samples.exists():
            print_profile(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000, help="filed households the batch goes to")
    parser.add_argument("--pairs", type=int, default=3_000, help="request+approval pairs per store")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients running pairs")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--profile", action="store_true", help="sample aid's stack and print where its time goes")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind and clean up as on Ctrl-C
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")
    results = {}
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp, store_urls(args.stores, tmp) as new_store:
        for label in args.stores.split(","):
            url = new_store(label, "aid")
            results[label] = bench_store(label, url, Path(tmp), args.households, args.pairs, args.clients,
                                         args.profile)
    for label, found in results.items():
        batch = "stalled" if found["batch"] is None else f"{found['batch']:.1f}s"
        print(f"summary {label}: {found['rate']:,.0f} pairs/s, batch {batch}, "
              f"peak RSS {found['peak']:.0f} MB{'' if found['ok'] else ', WITH ERRORS'}")
    if not all(found["ok"] for found in results.values()):
        sys.exit(1)  # a figure is missing or wrong (the targets themselves only print met / NOT met)


if __name__ == "__main__":
    main()
