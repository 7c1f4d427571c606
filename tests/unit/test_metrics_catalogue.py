"""The metrics catalogue (docs/metrics.md) is what the services export, and the alert rules, the dashboard and the
scrape config use only what exists: none of them can drift from the code unnoticed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from services.audit.application import Trail
from services.catalog import SERVICES
from services.eventstore import store_env
from tests.trail_flows import SIGNER

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "metrics.md"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "relief.json"

METRIC_ROW = re.compile(r"^\| `(?P<name>[a-z_:][a-z0-9_:]*)` "
                        r"\| (?P<type>counter|gauge|histogram|summary|info) \| (?P<labels>[^|]*) \|")
ALERT_ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Za-z0-9]*)` \| (?:critical|warning|info) \|")
FROM_PROMETHEUS = {"up"}  # series Prometheus itself makes for every target
SERIES_OF = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


@dataclass(frozen=True)
class Family:
    type: str
    labels: frozenset[str] | None  # None where nothing exported shows them (a store gauge with no sample yet)


def documented() -> dict[str, Family]:
    rows = (METRIC_ROW.match(line) for line in CATALOGUE.read_text().splitlines())
    return {row["name"]: Family(row["type"], frozenset(re.findall(r"`([a-z_]+)`", row["labels"])))
            for row in rows if row}


@pytest.fixture(scope="module")
def exported() -> Iterator[dict[str, Family]]:
    """Every metric family the services register, by exposed name, with each store gauge fed a real (empty,
    in-memory) application as its running service would feed it."""
    fed = []
    for entry in SERVICES:
        entry.load_service_class()  # imports the service and every metric it uses
        try:
            gauges = import_module(f"services.{entry.name}.metrics").GAUGES
        except ModuleNotFoundError:
            continue
        app = entry.load_application()({**store_env("memory://"), "PERSON_KEY": "test-person-key"})
        if isinstance(app, Trail):
            app.checkpoint_if_due(SIGNER, every=1000, seconds=10)  # the empty log's checkpoint, as at start
        gauges.attach(app)
        fed.append((gauges, app))
    labels = {(next(iter(m.describe())).name, m._type): frozenset(m._labelnames) for m in wrappers()}
    families = {}
    for family in REGISTRY.collect():
        seen = {name for sample in family.samples for name in sample.labels if name != "le"}
        known = labels.get((family.name, family.type), frozenset(seen) if family.samples else None)
        name = family.name + "_total" if family.type == "counter" else family.name
        families[name] = Family(family.type, known)
    yield families
    for gauges, app in fed:
        gauges.detach(app)
        app.close()


def wrappers() -> Iterator[MetricWrapperBase]:
    """The metrics declared in the shared module and the services' own, whose label names are known up front."""
    modules = ["services.metrics", *(f"services.{e.name}.metrics" for e in SERVICES)]
    for module in modules:
        try:
            found = vars(import_module(module)).values()
        except ModuleNotFoundError:
            continue
        yield from (value for value in found if isinstance(value, MetricWrapperBase))


def series_names(families: dict[str, Family]) -> set[str]:
    """The names a query can select: a counter's `_total`, a histogram's `_bucket`, `_sum` and `_count`."""
    names = set(FROM_PROMETHEUS)
    for name, family in families.items():
        base = name.removesuffix("_total") if family.type == "counter" else name
        names |= {base + suffix for suffix in SERIES_OF.get(family.type, ("",))}
    return names


PROMQL_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "by", "without", "on", "ignoring",
                   "group_left", "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, keywords, labels or durations)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings first: they may hold anything
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\{?\w+\}?", " ", text)  # matchers, ranges, Grafana's variables
    text = PROMQL_LABEL_LISTS.sub(" ", text)
    names = set()
    for token in re.finditer(r"[0-9][0-9a-zA-Z_.+]*|(?P<word>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<call>\s*\()?", text):
        word = token["word"]
        if word and not token["call"] and word.lower() not in PROMQL_KEYWORDS:
            names.add(word)
    return names


def rule_expressions() -> dict[str, str]:
    rules = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def dashboard_panels() -> Iterator[dict[str, Any]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            if panel["type"] == "row":
                yield from walk(panel.get("panels", []))
            else:
                yield panel
    yield from walk(json.loads(DASHBOARD.read_text())["panels"])


def test_every_exported_metric_is_in_the_catalogue(exported):
    assert sorted(set(exported) - set(documented())) == []


def test_every_metric_in_the_catalogue_is_exported(exported):
    assert sorted(set(documented()) - set(exported)) == []


def test_the_catalogue_gives_each_metric_its_type_and_labels(exported):
    listed = documented()
    for name, family in exported.items():
        assert listed[name].type == family.type, name
        if family.labels is not None:
            assert listed[name].labels == family.labels, name


def test_no_created_series_are_exported(exported):
    text = generate_latest().decode()
    assert "relief_pairing_pairings_total{" in text  # a counter with children, which would have a _created beside it
    assert not [line for line in text.splitlines() if "_created" in line.split("{")[0]]


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (service, le) (rate(a_bucket{route!~"/ready|/health", x="by (y)"}[$__rate_interval]))', {"a_bucket"}),
    ("b unless b offset 15m", {"b"}),
    ("max(c) > 300 and on (instance) group_left (job) d == 1", {"c", "d"}),
    ("predict_linear(e[1d], 7 * 86400) < 1e9", {"e"}),
    ("up == 0", {"up"}),
])
def test_metric_names_are_read_from_promql(expr, names):
    assert metric_names(expr) == names


def test_the_alert_rules_query_only_exported_metrics(exported):
    known = series_names(exported)
    for alert, expr in rule_expressions().items():
        names = metric_names(expr)
        assert names, alert
        assert sorted(names - known) == [], alert


def test_the_catalogue_lists_every_alert_and_no_other():
    rows = (ALERT_ROW.match(line) for line in CATALOGUE.read_text().splitlines())
    assert sorted(row["name"] for row in rows if row) == sorted(rule_expressions())


def test_every_alert_names_a_section_of_the_runbook_and_the_catalogue_agrees():
    headings = {line[3:].strip() for line in (ROOT / "docs" / "operations.md").read_text().splitlines()
                if line.startswith("## ")}
    listed = {row["name"]: row for row in (ALERT_ROW.match(line) for line in CATALOGUE.read_text().splitlines()) if row}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            runbook = rule["annotations"]["runbook"]
            section = runbook.split('section "', 1)[1].rstrip('"')
            assert runbook == f'docs/operations.md, section "{section}"' and section in headings, rule["alert"]
            assert listed[rule["alert"]].string.rstrip().rstrip("|").rstrip().endswith(section), rule["alert"]


def test_the_dashboard_queries_only_exported_metrics(exported):
    known = series_names(exported)
    panels = list(dashboard_panels())
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert sorted(names - known) == [], panel["title"]


def test_prometheus_scrapes_every_service_on_its_catalog_port():
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    jobs = {job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
            for job in config["scrape_configs"]}
    assert jobs == {entry.name: [f"127.0.0.1:{entry.port}"] for entry in SERVICES}
    assert config["rule_files"] == ["rules.yml"]
