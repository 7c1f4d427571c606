"""The alert rules, their unit tests, the scrape config and the dashboard's queries pass Prometheus's own checks
(promtool, from Debian's prometheus package: `make prometheus`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "relief.json"


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    """Run promtool in `cwd` and return what it printed; fail the test with its output if it refuses."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: run `make prometheus` (Debian's prometheus package)")
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def alerts() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    return [rule["alert"] for group in rules["groups"] for rule in group["rules"]]


def test_the_alert_rules_are_valid():
    assert f"SUCCESS: {len(alerts())} rules found" in promtool("check", "rules", "rules.yml")


def test_the_alert_rules_pass_their_unit_tests():
    assert "SUCCESS" in promtool("test", "rules", "rules.test.yml")


def test_every_alert_has_a_case_that_fires_and_one_that_does_not():
    tests = yaml.safe_load((PROMETHEUS / "rules.test.yml").read_text())["tests"]
    cases = [(case["alertname"], bool(case["exp_alerts"])) for test in tests for case in test["alert_rule_test"]]
    for alert in alerts():
        assert (alert, True) in cases, f"{alert} never fires in rules.test.yml"
        assert (alert, False) in cases, f"{alert} has no case where it stays quiet in rules.test.yml"


def test_the_scrape_config_is_valid_and_loads_the_rules():
    output = promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: 1 rule files found" in output and "is valid prometheus config file syntax" in output


def test_every_query_of_the_dashboard_parses(tmp_path):
    """Each panel's PromQL is checked as a recording rule (Grafana's $__rate_interval read as 5m)."""
    top = json.loads(DASHBOARD.read_text())["panels"]
    panels = [*top, *(inner for row in top for inner in row.get("panels", []))]  # a collapsed row holds its own
    exprs = [target["expr"] for panel in panels if panel["type"] != "row" for target in panel["targets"]]
    rules = [{"record": f"dashboard:query_{n}", "expr": expr.replace("$__rate_interval", "5m")}
             for n, expr in enumerate(exprs)]
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(exprs)} rules found" in promtool("check", "rules", "queries.yml", cwd=tmp_path)
