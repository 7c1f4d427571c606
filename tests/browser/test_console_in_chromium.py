"""The console in a real browser: the Playwright suite (tests/browser/*.spec.ts) on Debian's Chromium,
against the whole system started here as `make run` starts it (one process, embedded transport, SQLite,
the demo accounts), through the gateway. `make test` builds the console and installs Chromium and the CJK
font first (`make console browser`); screenshots land in tests/browser/artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.browser.plant import filed_household, plant_duplicate_student
from tests.harness.services import ROOT, ProcessSystem, console_environment, demo_login

CONSOLE = ROOT / "console"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    data = tmp_path_factory.mktemp("console-system")
    running = ProcessSystem(console_environment(data)).start_all()
    try:
        gateway = running.url("gateway")
        staff = demo_login(gateway, "demo-caseworker")
        plant_duplicate_student(data / "bus.db", filed_household(gateway, staff))
        auditor = demo_login(gateway, "demo-auditor")
        deadline, found = time.monotonic() + 60, []
        while time.monotonic() < deadline and "duplicate_student" not in found:
            answer = requests.get(f"{gateway}/api/audit/anomalies", headers={"Authorization": f"Bearer {auditor}"},
                                  timeout=30)
            found = [f["check"] for f in answer.json().get("findings", [])]
            time.sleep(0.5)
        assert "duplicate_student" in found, "the planted anomaly never reached the trail"
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(900)
def test_the_playwright_suite_passes_against_the_running_system(system):
    missing = [what for what, there in (("the built console (make console)", (CONSOLE / "dist" / "index.html")),
                                        ("Chromium (make browser)", CHROMIUM),
                                        ("the console's packages (npm ci)", CONSOLE / "node_modules"))
               if not there.exists()]
    assert not missing, f"missing: {', '.join(missing)}"
    assert shutil.which("npm"), "npm not found"
    run = subprocess.run(["npm", "run", "--silent", "test:browser"], cwd=CONSOLE,
                         env={**os.environ, "RELIEF_CONSOLE_URL": system.url("gateway"), "CI": "1"},
                         capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, f"playwright failed:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"


@pytest.mark.timeout(300)
def test_the_consoles_own_unit_tests_pass():
    """vitest: money in fen, CSV, the workflow actions a state offers, RFC 6962 proofs checked in the browser."""
    assert (CONSOLE / "node_modules").exists(), "the console's packages are not installed (make console)"
    run = subprocess.run(["npm", "test", "--silent"], cwd=CONSOLE, capture_output=True, text=True, timeout=280,
                         env={**os.environ, "CI": "1"})
    assert run.returncode == 0, f"vitest failed:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
