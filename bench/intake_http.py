"""Measure applications opened per second over HTTP on intake (SQLite), beside a bare nameko handler.

    python -m bench.intake_http [--seconds 10] [--concurrency 32] [--profile]

Each server runs alone in its own process on one core; one client process on the other core keeps
`concurrency` keep-alive connections busy with pre-serialised requests, each with a fresh ID number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.config import DEV_JWT_SECRET
from services.intake.identity import with_check_character
from services.web.auth import issue_token
from tests.factories import application_body
from tests.harness.postgres import free_port
from tests.harness.processes import terminate

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATE = 500
PROFILE_LINES = 20
DRAIN_SECONDS = 10.0  # after the window, wait this long at most for answers still due


@dataclass(frozen=True)
class Plan:
    """What one client process sends: where, how many at once, for how long and how fast."""

    port: int
    path: str
    token: str
    expect: int
    concurrency: int = 32
    warmup: float = 3.0
    seconds: float = 10.0
    rate: float | None = None  # requests per second on a fixed schedule; None sends as fast as answered
    cap: int = 60000  # unique requests built up front; sending stops early if they run out


def unique_id_number(i: int) -> str:
    """The i-th distinct valid ID number (i < 10 million): region and sequence digits count up."""
    return with_check_character(f"62{i // 1000 % 10000:04d}19800517{i % 1000:03d}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on this machine shows up in the figures."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def caseworker_token() -> str:
    return issue_token(DEV_JWT_SECRET, "bench", "caseworker", "gs")


def build_requests(plan: Plan) -> list[bytes]:
    """Serialise every request before sending, so the client spends next to nothing per request."""
    head = (
        f"POST {plan.path} HTTP/1.1\r\nHost: 127.0.0.1:{plan.port}\r\n"
        f"Authorization: Bearer {plan.token}\r\nContent-Type: application/json\r\n"
    )
    requests = []
    for i in range(plan.cap):
        body = application_body()
        body["worker"]["id_number"] = unique_id_number(i)
        data = json.dumps(body, ensure_ascii=False).encode()
        requests.append(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return requests


class Connection:
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.sent_at = 0.0

    def send(self, request: bytes, now: float) -> None:
        self.buf, self.sent_at = b"", now
        self.sock.sendall(request)

    def receive(self) -> int | None:
        """Read what arrived; return the status once the whole response is in, else None."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ConnectionError("response without Content-Length")
        length = int(head[at + 17 :].split(b"\r\n", 1)[0])
        if len(self.buf) < end + 4 + length:
            return None
        return int(self.buf[9:12])


def percentile(ordered: list[float], q: float) -> float:
    return ordered[round(q * (len(ordered) - 1))] if ordered else float("nan")


def run_load(plan: Plan) -> dict[str, Any]:
    """Send the plan's requests and return counts and latencies of those answered in the measured window."""
    requests = build_requests(plan)
    sel = selectors.DefaultSelector()
    idle: list[Connection] = []
    for _ in range(plan.concurrency):
        conn = Connection(plan.port)
        sel.register(conn.sock, selectors.EVENT_READ, conn)
        idle.append(conn)
    start, cpu = time.perf_counter(), time.process_time()
    wall = time.time() - start
    measure_from, until = start + plan.warmup, start + plan.warmup + plan.seconds
    latencies: list[float] = []
    errors_total = ok_total = sent = 0
    first_error = ""
    now = start
    while (len(idle) < plan.concurrency or (now < until and sent < len(requests))) and now < until + DRAIN_SECONDS:
        while now < until and idle and sent < len(requests) and (plan.rate is None or now >= start + sent / plan.rate):
            idle.pop().send(requests[sent], now)
            sent += 1
        wake = until if now < until else until + DRAIN_SECONDS
        if plan.rate is not None and now < until and idle and sent < len(requests):
            wake = min(wake, start + sent / plan.rate)
        for key, _ in sel.select(max(0.0, wake - now)):
            conn = key.data
            try:
                status = conn.receive()
            except (ConnectionError, OSError) as exc:
                status, detail = -1, str(exc)
                sel.unregister(conn.sock)
                conn.sock.close()
                conn = Connection(plan.port)
                sel.register(conn.sock, selectors.EVENT_READ, conn)
            else:
                if status is None:
                    continue
                detail = conn.buf[-300:].decode(errors="replace")
            done = time.perf_counter()
            idle.append(conn)
            good = status == plan.expect
            ok_total += good
            errors_total += not good
            first_error = first_error or ("" if good else f"{status}: {detail}")
            if good and measure_from <= done <= until:  # answers after the window only drain
                latencies.append(done - conn.sent_at)
        now = time.perf_counter()
    ended = min(now, until)
    cpu = (time.process_time() - cpu) / (now - start)
    sel.close()
    for conn in idle:
        conn.sock.close()
    latencies.sort()
    seconds = max(ended - measure_from, 1e-9)
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "rate": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors_total": errors_total,
        "ok_total": ok_total,
        "window": [wall + measure_from, wall + ended],
        "client_cpu": cpu,
        "first_error": first_error,
    }


def run_client(plan: Plan, cpu: int | None, timeout: float) -> dict[str, Any]:
    """Run the load in its own process (on its own core, if given) and return what it measured."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.intake_http", "--client", json.dumps(asdict(plan))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        check=True,
        timeout=timeout,
        preexec_fn=pin(cpu),
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().splitlines()[-1])
    return result


def pin(cpu: int | None) -> Any:
    """Return a pre-exec hook that keeps a child process (and all its threads) on one core."""
    return None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, log: Path, cpu: int | None) -> Iterator[None]:
    """Run a server process until it accepts connections; stop it however the block ends."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, preexec_fn=pin(cpu)
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd} did not start: {log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        yield
    finally:
        terminate(proc, 30)


def serve_bare(port: int) -> None:
    """Serve one nameko route that does nothing, on the eventlet/nameko stack intake runs on."""
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    from nameko.containers import ServiceContainer
    from nameko.web.handlers import http

    class Bare:
        name = "bare"

        @http("POST", "/noop")
        def noop(self, request: Any) -> tuple[int, dict[str, str], str]:
            return 200, {"Content-Type": "application/json"}, '{"ok": true}'

    container = ServiceContainer(Bare, {"WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "max_workers": 50})
    container.start()
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    while not stopping:  # a short sleep, as nameko's idle hub would not notice a signal for a minute
        eventlet.sleep(0.5)
    container.stop()


def intake_command(profile: Path | None) -> list[str]:
    if profile:
        return [sys.executable, "-m", "bench.profiled", "intake", str(profile)]
    return [sys.executable, "-m", "services.run", "intake"]


def frame_name(code: Any) -> str:
    path = code.co_filename
    for prefix in ("site-packages/", f"{ROOT}/", "python3.11/"):
        path = path.split(prefix, 1)[-1]
    return f"{path}:{code.co_firstlineno}({code.co_name})"


def serve_profiled(out: Path, service: str = "intake") -> None:
    """Run a service while SIGALRM samples the running greenlet's stack each millisecond (cProfile mixes greenlets).

    Each sample weighs the time since the previous one, so a call that blocks (an fsync) weighs what it took.
    """
    from collections import defaultdict

    own: dict[str, float] = defaultdict(float)
    under: dict[str, float] = defaultdict(float)
    names: dict[Any, str] = {}
    last = [time.perf_counter()]

    def sample(signum: int, frame: Any) -> None:
        now = time.perf_counter()
        seconds, last[0] = now - last[0], now
        stack = []
        while frame is not None:
            stack.append(names.get(frame.f_code) or names.setdefault(frame.f_code, frame_name(frame.f_code)))
            frame = frame.f_back
        if stack and "eventlet/hubs/" not in stack[0] and not any("importlib" in name for name in stack):
            own[stack[0]] += seconds  # the idle hub and start-up imports left out
            for name in set(stack):
                under[name] += seconds

    signal.signal(signal.SIGALRM, sample)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    from services.run import main

    try:
        main([service])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        out.write_text(json.dumps({"own": own, "under": under}))


def measure(args: argparse.Namespace, tmp: Path, profile: Path | None) -> dict[str, dict[str, Any]]:
    """Load intake, then the bare handler, with the same client and plan; return both results."""
    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    timeout = args.warmup + args.seconds + 120
    common = {"concurrency": args.concurrency, "warmup": args.warmup, "seconds": args.seconds}
    results = {}
    port = free_port()
    env = {
        "RELIEF_DATA_DIR": str(tmp),
        "RELIEF_INTAKE_ADDRESS": f"127.0.0.1:{port}",
        "RELIEF_INTAKE_STORE": f"sqlite:///{tmp}/intake.db",
        "RELIEF_TRANSPORT": f"embedded:///{tmp}/bus.db",
        "RELIEF_LOG_LEVEL": "WARNING",
    }
    with server(intake_command(profile), env, port, tmp / "intake.log", server_cpu):
        plan = Plan(port, "/cases", caseworker_token(), 201, **common)
        results["intake"] = run_client(plan, client_cpu, timeout)
    if profile:
        return results
    port = free_port()
    bare = [sys.executable, "-m", "bench.intake_http", "--serve-bare", str(port)]
    with server(bare, {}, port, tmp / "bare.log", server_cpu):
        plan = Plan(port, "/noop", caseworker_token(), 200, **common)
        results["bare"] = run_client(plan, client_cpu, timeout)
    return results


def report(results: dict[str, dict[str, Any]], concurrency: int, load: str) -> None:
    print(f"POST over keep-alive HTTP, {concurrency} in flight, each body with a fresh ID number")
    print(f"load average before: {load} (other work on the machine skews figures)")
    columns = ("requests", "seconds", "rate/s", "p50 ms", "p99 ms", "errors", "client cpu")
    print(f"{'target':8}", *(f"{c:>8}" for c in columns))
    for name, r in results.items():
        print(
            f"{name:8} {r['requests']:8d} {r['seconds']:8.2f} {r['rate']:8.1f} {r['p50_ms']:8.2f} "
            f"{r['p99_ms']:8.2f} {r['errors_total']:8d} {100 * r['client_cpu']:9.0f}%"
        )
        if r["first_error"]:
            print(f"  first error from {name}: {r['first_error']}")
    if "bare" in results:
        print(f"intake/bare rate ratio: {results['intake']['rate'] / results['bare']['rate']:.3f}")
    verdict = "met" if results["intake"]["rate"] >= TARGET_RATE else "NOT met"
    print(f"target >= {TARGET_RATE} applications/s: {verdict}")


def print_profile(path: Path) -> None:
    """Print where intake's busy time went: by package, by function, and under each function."""
    samples = json.loads(path.read_text())
    own, under = samples["own"], samples["under"]
    busy = sum(own.values())
    by_package: dict[str, float] = {}
    for name, seconds in own.items():
        package = name.split("/", 1)[0].split(".py", 1)[0]
        by_package[package] = by_package.get(package, 0.0) + seconds
    print("\nsampling slows intake, so the rate above is not the figure; the shares below are")
    print(f"intake busy for {busy:.1f} s (computing or blocked in I/O; the idle hub left out)")
    ours = {n: t for n, t in under.items() if n.startswith("services/")}
    plumbing = ("services/", "eventlet/", "nameko/", "greenlet/")
    calls = {n: t for n, t in under.items() if not n.startswith(plumbing)}
    for title, shares in (
        ("own time by package", by_package),
        ("own time by function", own),
        ("time under each function of ours (inclusive)", ours),
        ("time under each library function (inclusive)", calls),
    ):
        print(f"\n{title}:")
        for name, seconds in sorted(shares.items(), key=lambda kv: -kv[1])[:PROFILE_LINES]:
            print(f"  {100 * seconds / busy:5.1f}%  {name}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="load before the window, not counted")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--profile", action="store_true", help="sample intake's stack and print where time goes")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="PLAN", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.client:
        print(json.dumps(run_load(Plan(**json.loads(args.client)))), flush=True)
        return 0
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind and clean up as on Ctrl-C
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp:
        profile = Path(tmp) / "intake-profile.json" if args.profile else None
        load = load_average()
        results = measure(args, Path(tmp), profile)
        report(results, args.concurrency, load)
        if profile:
            print_profile(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
