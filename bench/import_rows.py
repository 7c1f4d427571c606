"""Benchmark bulk import: 100,000 rows into intake on SQLite; rows per second and the server's peak memory.

    python -m bench.import_rows [--rows 100000]

Targets (issue 3): at least 2,000 rows/s and at most 300 MB peak resident memory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from services.intake.import_rows import CSV
from tests.harness.services import ProcessSystem, environment
from tests.import_files import stream_csv


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    data = b"".join(stream_csv(args.rows))
    print(f"file: {args.rows} rows, {len(data) / 1e6:.1f} MB CSV")
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp:
        system = ProcessSystem(environment(Path(tmp)), services=("intake",))
        try:
            system.start("intake")
            pid = system.procs["intake"].pid
            idle = peak_rss_mb(pid)
            staff = system.client("intake", "caseworker", "gs", "bench")
            started = time.monotonic()
            response = staff.post("/imports?filename=bench.csv", data=data, headers={"Content-Type": CSV})
            view = response.json()
            while view["state"] == "running":
                time.sleep(0.25)
                view = staff.get(f"/imports/{view['import_id']}").json()
            elapsed = time.monotonic() - started
            peak = peak_rss_mb(pid)
        finally:
            system.stop()
    print(f"state {view['state']}: {view['filed']} filed, {view['failed_rows']} refused")
    print(f"import: {view['rows_done']} rows in {elapsed:.1f} s = {view['rows_done'] / elapsed:,.0f} rows/s "
          f"(target >= 2,000)")
    print(f"intake peak RSS: {peak:.0f} MB (idle {idle:.0f} MB; target <= 300)")


if __name__ == "__main__":
    main()
