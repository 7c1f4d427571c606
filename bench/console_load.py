"""Measure the console's first load and its case list over 10,000 cases, in Debian's Chromium.

    python -m bench.console_load [--cases 10000]

The whole system runs as `make run` runs it (one process, SQLite, the embedded transport, the demo
accounts) in a temporary directory, the console built (`make console`). `--cases` households are imported
into gs.by (POST /imports, filed at once). Then bench/console_load.mjs drives Chromium (playwright-core from
console/node_modules, /usr/bin/chromium) through the gateway on the loopback:
- first load, cold (browser cache cleared and disabled): bytes over the wire (encoded, i.e. as compressed
  as served) and requests until the network is idle, and the time from navigation to the login form ready
  for typing (time to interactive), with DOMContentLoaded and load;
- after logging in as demo-caseworker, the case list reached from the menu (the app loaded, the browser
  cache on): time from the click to its first page of rows shown, and its API call's own time; then the
  same page reloaded cold (nothing cached).
Also timed here, without a browser: GET /api/intake/cases for the first page (limit 20) and for all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.intake_http import load_average
from tests.harness.services import ROOT, ProcessSystem, console_environment, demo_login
from tests.import_files import stream_csv

CONSOLE = ROOT / "console"


def import_cases(gateway: str, token: str, count: int) -> float:
    """Import `count` filed households into gs.by; seconds until the import says done."""
    started = time.perf_counter()
    body = b"".join(stream_csv(count))
    answer = requests.post(f"{gateway}/api/intake/imports", data=body, timeout=600,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"})
    answer.raise_for_status()
    job = answer.json()["import_id"]
    while True:
        state = requests.get(f"{gateway}/api/intake/imports/{job}", timeout=30,
                             headers={"Authorization": f"Bearer {token}"}).json()
        if state["state"] != "running":
            if state["state"] != "done" or state["failed_rows"]:
                raise RuntimeError(f"import did not file every row: {state}")
            return time.perf_counter() - started
        time.sleep(0.5)


def settle(gateway: str) -> None:
    """Wait until the trail stops growing: pairing and audit have taken in the import, and the machine is
    back to serving requests alone."""
    auditor = demo_login(gateway, "demo-auditor")
    last, steady = -1, 0
    while steady < 3:
        time.sleep(1)
        size = requests.get(f"{gateway}/api/audit/log/checkpoint", timeout=30,
                            headers={"Authorization": f"Bearer {auditor}"}).text.splitlines()[1]
        steady = steady + 1 if size == last else 0
        last = size


def timed_get(url: str, token: str, params: dict[str, object], rows: bool = True) -> tuple[float, int, int]:
    started = time.perf_counter()
    answer = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    answer.raise_for_status()
    return (time.perf_counter() - started) * 1000, len(answer.content), len(answer.json()["cases"]) if rows else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not (CONSOLE / "dist" / "index.html").exists():
        print("build the console first: make console", file=sys.stderr)
        return 2
    print(f"load average at start: {load_average()}; 2 cores")
    with tempfile.TemporaryDirectory(prefix="relief-console-bench-") as tmp:
        system = ProcessSystem(console_environment(Path(tmp))).start_all()
        try:
            gateway = system.url("gateway")
            token = demo_login(gateway, "demo-caseworker")
            seconds = import_cases(gateway, token, args.cases)
            settle(gateway)
            total = requests.get(f"{gateway}/api/intake/cases", params={"limit": 1}, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}).json()["total"]
            print(f"imported {args.cases:,} households in {seconds:.1f}s; {total:,} cases in gs.by's subtree")
            for label, params in (("first page (limit 20)", {"limit": 20}), ("every case (no limit)", {})):
                runs = [timed_get(f"{gateway}/api/intake/cases", token, params) for _ in range(5)]
                ms = sorted(r[0] for r in runs)
                print(f"GET /api/intake/cases, {label}: median {ms[2]:.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f}); "
                      f"{runs[0][1]:,} bytes, {runs[0][2]:,} rows")
            stats = sorted(timed_get(f"{gateway}/api/intake/stats", token, {"year": 2026}, rows=False)[0]
                           for _ in range(5))
            print(f"GET /api/intake/stats (the dashboard's counts): median {stats[2]:.0f} ms")
            driven = subprocess.run(["node", str(ROOT / "bench" / "console_load.mjs")], cwd=CONSOLE, timeout=600,
                                    env={"PATH": "/usr/bin:/bin:/usr/local/bin", "RELIEF_CONSOLE_URL": gateway,
                                         "RELIEF_CONSOLE_DIR": str(CONSOLE),
                                         **({"DEBUG": "1"} if os.environ.get("DEBUG") else {})},
                                    capture_output=True, text=True)
            if os.environ.get("DEBUG"):
                print(driven.stderr, file=sys.stderr)
            if driven.returncode != 0:
                print(driven.stdout, driven.stderr, file=sys.stderr)
                return 1
            figures = json.loads(driven.stdout.strip().splitlines()[-1])
            first, listed, cold = figures["first_load"], figures["case_list"], figures["case_list_cold"]
            board = figures["dashboard"]
            print(f"first load, cold: {first['bytes'] / 1024:,.0f} KiB in {first['requests']} requests; "
                  f"interactive (login form) {first['time_to_interactive_ms']} ms; DOMContentLoaded "
                  f"{first['dom_content_loaded_ms']} ms, load {first['load_ms']} ms")
            print(f"the dashboard after login: loaded in about {board['loaded_ms']} ms; "
                  f"{(board['bytes'] - first['bytes']) / 1024:,.0f} KiB in {board['requests'] - first['requests']} "
                  "requests")
            print(f"case list over {total:,} cases from the menu after login: first page of {listed['rows_shown']} "
                  f"rows shown in {listed['time_to_first_page_ms']} ms (its API call {listed['api_ms']} ms); "
                  f"{listed['bytes'] / 1024:,.0f} KiB in {listed['requests']} requests")
            print(f"case list reloaded cold: first page in {cold['time_to_first_page_ms']} ms (the API asked at "
                  f"{cold['api_requested_at_ms']} ms, answered in {cold['api_ms']} ms); {cold['bytes'] / 1024:,.0f} "
                  f"KiB in {cold['requests']} requests")
        finally:
            system.stop()
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
