"""The import CLI uploads a file, shows progress and writes the refused rows to a CSV."""

import csv
import subprocess
import sys

from services.config import DEV_JWT_SECRET
from services.web.auth import issue_token
from tests.harness.services import ROOT, ProcessSystem, environment
from tests.import_files import import_rows, to_csv


def test_the_cli_imports_a_file_and_lists_what_it_refused(tmp_path):
    system = ProcessSystem(environment(tmp_path / "data"), services=("intake",))
    system.start()
    try:
        rows, broken, copies = import_rows(2_000, bad=0.05, duplicates=0.02, seed=4)
        source = tmp_path / "cases.csv"
        source.write_bytes(to_csv(rows, bom=True))
        refused = tmp_path / "refused.csv"
        token = issue_token(DEV_JWT_SECRET, "li", "caseworker", "gs")
        done = subprocess.run(
            [sys.executable, "-m", "services.intake.import_cli", str(source), "--url", system.url("intake"),
             "--token", token, "--failures", str(refused)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
    finally:
        system.stop()
    assert done.returncode == 0, done.stderr
    assert "100.0%" in done.stderr and "2000/2000 rows" in done.stderr
    with refused.open(encoding="utf-8-sig") as out:
        listed = {int(r["row"]) for r in csv.DictReader(out)}
    assert listed == set(broken) | set(copies)
