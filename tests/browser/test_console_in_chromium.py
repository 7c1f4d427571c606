"""The console in a real browser: the Playwright suite (tests/browser/*.spec.ts) on Debian's Chromium,
against the whole system started here as `make run` starts it (one process, embedded transport, SQLite,
the demo accounts), through the gateway. `make test` builds the console and installs Chromium and the CJK
font first (`make console browser`); screenshots land in tests/browser/artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.services import ROOT, ProcessSystem, environment

CONSOLE = ROOT / "console"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    env = environment(tmp_path_factory.mktemp("console-system"))
    env.update({"RELIEF_DEMO_USERS": "1", "RELIEF_CONSOLE_DIR": str(CONSOLE / "dist")})
    running = ProcessSystem(env).start_all()
    yield running
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
