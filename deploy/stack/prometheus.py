"""The stack's Prometheus (Debian's package): every replica's /metrics, with the alert rules loaded.

Its configuration is the repository's (deploy/prometheus/prometheus.yml: the global intervals) with the
stack's own scrape targets, one job per service as there (the rules' `job` label), a `replica` label per
process; written into `prometheus/` at every start, so it always lists the replicas the stack runs.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import requests
import yaml

from deploy.stack.layout import HOST, Stack
from deploy.stack.procs import Daemon

DEPLOY_PROMETHEUS = Path(__file__).resolve().parents[1] / "prometheus"
RULES = DEPLOY_PROMETHEUS / "rules.yml"
INSTALL_HINT = "prometheus not found: deploy/prometheus/install.sh installs Debian's package (as root)"


def rules_problem() -> str | None:
    """Why the alert rules cannot be loaded (missing, or refused by promtool), or None if they can."""
    if not RULES.exists():
        return f"{RULES} does not exist yet"
    promtool = shutil.which("promtool")
    if promtool is None:
        return INSTALL_HINT
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    return None if checked.returncode == 0 else f"promtool check rules refuses {RULES}: {checked.stdout[-500:]}"


class Prometheus:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.daemon = Daemon("prometheus", stack.run, stack.logs)
        self.config = stack.prometheus / "prometheus.yml"
        self.url = f"http://{HOST}:{stack.ports.prometheus}"

    def write_config(self) -> str | None:
        """Write the stack's configuration, with the alert rules if they pass `promtool check rules`; None if
        they are in it, else why not."""
        left_out = rules_problem()
        shared = DEPLOY_PROMETHEUS / "prometheus.yml"
        base = yaml.safe_load(shared.read_text()) if shared.exists() else {}
        targets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for replica in self.stack.replicas():
            targets[replica.service].append({"targets": [f"{HOST}:{replica.port}"],
                                             "labels": {"replica": replica.name}})
        config = {
            "global": base.get("global", {"scrape_interval": "15s", "evaluation_interval": "15s"}),
            "rule_files": [] if left_out else [str(RULES)],
            "scrape_configs": [{"job_name": job, "static_configs": groups} for job, groups in targets.items()],
        }
        self.stack.prometheus.mkdir(parents=True, exist_ok=True)
        self.config.write_text("# Written by deploy/stack/prometheus.py at every start.\n"
                               + yaml.safe_dump(config, sort_keys=False))
        return left_out

    def start(self) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.daemon.start([binary, f"--config.file={self.config}",
                           f"--storage.tsdb.path={self.stack.prometheus / 'data'}",
                           f"--web.listen-address={HOST}:{self.stack.ports.prometheus}"],
                          {}, self.stack.prometheus)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.daemon.pid() is None:
                raise RuntimeError(f"Prometheus exited; the end of {self.daemon.log}:\n{self.daemon.tail()}")
            try:
                if requests.get(self.url + "/-/ready", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"Prometheus not ready after 60 s; see {self.daemon.log}")

    def targets(self) -> list[dict[str, Any]]:
        """The active targets as Prometheus sees them (job, instance, replica, health, last error)."""
        answer = requests.get(self.url + "/api/v1/targets", params={"state": "active"}, timeout=3)
        answer.raise_for_status()
        return list(answer.json()["data"]["activeTargets"])
