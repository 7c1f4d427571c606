"""make k8s-check: every overlay renders, and a field its schema refuses fails, naming the resource and field."""

from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import Environment

from deploy import k8s_check, manifests
from services.catalog import SERVICES, topics
from services.config import PROXIED, service_config
from services.contracts.topics import DEAD_LETTER_TOPIC
from services.eventstore import store_env
from services.transport.security import kafka_endpoint
from tests.harness.kafka_broker import make_certificates, service_grants


@pytest.fixture(scope="module")
def crds() -> dict[k8s_check.Gvk, dict[str, Any]]:
    return k8s_check.load_crds()


def deployment() -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "intake"}
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "intake", "namespace": "relief"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "intake", "image": "relief", "livenessProbe": probe}]},
            },
        },
    }


def kafka_topic() -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "relief.intake.case-events", "labels": {"strimzi.io/cluster": "relief-kafka"}},
        "spec": {"partitions": 6, "replicas": 3, "config": {"retention.ms": -1, "min.insync.replicas": 2}},
    }


def test_valid_resources_pass(crds):
    assert k8s_check.check([deployment(), kafka_topic()], crds) == []


def test_an_unknown_deployment_field_fails_naming_the_resource_and_the_field(crds):
    broken = deployment()
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/health"
    [problem] = k8s_check.check([broken], crds)
    assert problem.resource == "Deployment/intake"
    assert problem.field == "spec.template.spec.containers[0].livenessProbe.httpGet.paht"
    assert "paht" in str(problem) and "Deployment/intake" in str(problem)


def test_a_deployment_field_of_the_wrong_type_fails(crds):
    broken = deployment()
    broken["spec"]["replicas"] = "two"
    [problem] = k8s_check.check([broken], crds)
    assert (problem.resource, problem.field) == ("Deployment/intake", "spec.replicas")


def test_a_custom_resource_with_a_wrong_field_fails_against_its_vendored_crd(crds):
    misspelt, mistyped = kafka_topic(), kafka_topic()
    misspelt["spec"]["partition"] = misspelt["spec"].pop("partitions")
    mistyped["spec"]["replicas"] = "three"
    problems = k8s_check.check([misspelt, mistyped], crds)
    assert [(p.resource, p.field) for p in problems] == [
        ("KafkaTopic/relief.intake.case-events", "spec.partition"),
        ("KafkaTopic/relief.intake.case-events", "spec.replicas"),
    ]


def test_a_resource_no_schema_knows_fails(crds):
    unknown = kafka_topic()
    unknown["apiVersion"] = "kafka.strimzi.io/v1beta1"  # not a version the vendored CRD serves
    [problem] = k8s_check.check([unknown], crds)
    assert problem.field == "apiVersion" and "k8s/crds/" in problem.message


def test_the_strict_crd_schema_still_accepts_open_ended_and_nullable_fields():
    schema = k8s_check.strict({
        "type": "object",
        "properties": {
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {}}},
            "note": {"type": "string", "nullable": True},
        },
    })
    assert schema["additionalProperties"] is False
    assert "additionalProperties" not in schema["properties"]["config"]
    assert schema["properties"]["note"]["type"] == ["string", "null"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("overlay", ["dev", "province"])
def test_every_overlay_renders_everything_the_system_needs_and_validates(overlay, crds):
    resources = k8s_check.render(k8s_check.OVERLAYS / overlay)
    assert k8s_check.check(resources, crds) == []
    kinds = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for service in SERVICES:
        workload = "StatefulSet" if service.consumes else "Deployment"
        autoscaler = "ScaledObject" if service.consumes else "HorizontalPodAutoscaler"
        for kind in (workload, autoscaler, "PodDisruptionBudget", "NetworkPolicy", "Service"):
            assert (kind, service.name) in kinds
        # A Kafka user only for a service that publishes or consumes: the gateway uses no topic.
        assert (("KafkaUser", f"relief-{service.name}") in kinds) == bool(service.publishes or service.consumes)
        assert ("DatabaseRole", f"relief-{service.name}") in kinds
        assert ("Database", f"relief-{service.name}") in kinds
    for topic in [*topics().values(), DEAD_LETTER_TOPIC]:
        assert ("KafkaTopic", topic) in kinds
    scaled = {r["metadata"]["name"]: r["spec"]["triggers"] for r in resources if r["kind"] == "ScaledObject"}
    for service in (s for s in SERVICES if s.consumes):
        lag = [t for t in scaled[service.name] if t["type"] != "cpu"]
        if service.name in manifests.LAG_FROM_PROMETHEUS:
            [trigger] = lag
            assert f'relief_consumer_lag_messages{{namespace="relief", service="{service.name}"}}' in trigger[
                "metadata"]["query"]
        else:  # Kafka's committed offsets of the service's own group, on every topic it reads
            assert {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in lag} == {
                (service.name, topic) for topic in service.consumed_topics()}
    custom = [r for r in resources if k8s_check.gvk(r) in crds]
    assert {r["kind"] for r in custom} >= {"Kafka", "KafkaNodePool", "Cluster", "ServiceMonitor", "ScaledObject"}
    # From outside, everything goes to the gateway (the console, its logins, /api/<service>/ it forwards).
    [ingress] = [r for r in resources if r["kind"] == "Ingress"]
    [rule] = ingress["spec"]["rules"]
    assert [(p["path"], p["pathType"], p["backend"]["service"]) for p in rule["http"]["paths"]] == [
        ("/", "Prefix", {"name": "gateway", "port": {"name": "http"}})]
    assert [t["hosts"] for t in ingress["spec"]["tls"]] == [[rule["host"]]]


def test_the_gateway_reaches_each_service_through_its_service_and_nothing_else(dev):
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in dev}
    env = pod_environment(dev, "gateway", {})
    upstreams = service_config("gateway", env)["UPSTREAMS"]
    assert set(upstreams) == set(PROXIED)
    for name, [url] in upstreams.items():  # one URL each: the Service spreads over the ready replicas
        assert url == f"http://{name}:80"
        [port] = by_name[("Service", name)]["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (80, "http")
    policy = by_name[("NetworkPolicy", "gateway")]["spec"]
    out = {(rule["ports"][0]["port"], str(rule["to"])) for rule in policy["egress"]}
    assert any(port == 8000 and all(name in to for name in PROXIED) for port, to in out)
    assert not any(port == 9093 for port, _ in out)  # no broker
    for name in PROXIED:  # and each service lets the gateway in
        allowed = by_name[("NetworkPolicy", name)]["spec"]["ingress"]
        assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}} in allowed[0]["from"]


def test_the_dev_overlay_is_one_node_and_the_province_keeps_three_replicas():
    def by_kind(overlay: str, kind: str) -> list[dict[str, Any]]:
        return [r for r in k8s_check.render(k8s_check.OVERLAYS / overlay) if r["kind"] == kind]

    assert [p["spec"]["replicas"] for p in by_kind("dev", "KafkaNodePool")] == [1]
    assert {t["spec"]["replicas"] for t in by_kind("dev", "KafkaTopic")} == {1}
    province = by_kind("province", "KafkaTopic")
    assert {(t["spec"]["replicas"], t["spec"]["config"]["min.insync.replicas"]) for t in province} == {(3, 2)}
    assert all(s["spec"]["maxReplicaCount"] == 6 for s in by_kind("province", "ScaledObject"))
    kept = {t["metadata"]["name"]: t["spec"]["config"]["retention.ms"] for t in province}
    assert all(kept[topic] == -1 for topic in topics().values())  # the audit trail replays its sources
    assert kept[DEAD_LETTER_TOPIC] > 0


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return k8s_check.render(k8s_check.OVERLAYS / "dev")


def pod_environment(resources: list[dict[str, Any]], service: str, files: dict[str, Path]) -> dict[str, str]:
    """The variables a service's container starts with: its ConfigMaps, then its own env (a Secret's value as
    `secret:<name>/<key>`), with the mounted files it names replaced by real local ones."""
    by_name = {(r["kind"], r["metadata"]["name"]): r for r in resources}
    workload = next(r for r in resources if r["kind"] in ("Deployment", "StatefulSet")
                    and r["metadata"]["name"] == service)
    [container] = workload["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        env.update(by_name[("ConfigMap", source["configMapRef"]["name"])]["data"])
    for variable in container["env"]:
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        env[variable["name"]] = f"secret:{ref['name']}/{ref['key']}" if ref else variable.get("value", f"{service}-0")
    return {name: str(files.get(value, value)) for name, value in env.items()}


@pytest.mark.timeout(60)
def test_each_pod_logs_in_to_kafka_and_postgresql_as_the_services_read_their_settings(dev, tmp_path):
    make_certificates(tmp_path / "tls")
    password = tmp_path / "password"
    password.write_text("from-the-user-operator\n")
    files = {"/etc/relief/kafka-ca/ca.crt": tmp_path / "tls" / "ca.pem", "/etc/relief/kafka-user/password": password}
    for service in SERVICES:
        env = pod_environment(dev, service.name, files)
        if service.publishes or service.consumes:
            endpoint = kafka_endpoint(env["RELIEF_TRANSPORT"], env)
            assert endpoint.security.protocol == "SASL_SSL" and endpoint.security.mechanism == "SCRAM-SHA-512"
            assert (endpoint.security.username, endpoint.security.password) == (f"relief-{service.name}",
                                                                              "from-the-user-operator")
        else:  # no topic: no transport, so its /ready never waits for Kafka, and no Kafka login or Secret
            assert service_config(service.name, env)["TRANSPORT_URL"] == ""
            assert not {"RELIEF_KAFKA_USERNAME", "RELIEF_KAFKA_PASSWORD_FILE"} & set(env)
            workload = next(r for r in dev if r["kind"] == "Deployment" and r["metadata"]["name"] == service.name)
            volumes = workload["spec"]["template"]["spec"]["volumes"]
            assert not [v for v in volumes if v.get("secret", {}).get("secretName") == f"relief-{service.name}"]
        url = service_config(service.name, env)["STORE_URL"]
        assert "@" in url and ":" not in url.split("//")[1].split("@")[0]  # a user, and no password, in the URL
        # The application's settings as the eventsourcing library resolves them: the role's Secret wins over
        # the empty password of the URL.
        settings = Environment(manifests.application_name(service), {**env, **store_env(url)})
        assert settings.get("POSTGRES_PASSWORD") == f"secret:relief-db-{service.name}/password"
        assert settings.get("POSTGRES_USER") == f"relief_{service.name}"


def test_each_kafka_user_is_granted_exactly_what_the_secured_test_broker_proves_enough(dev):
    users = {r["metadata"]["name"]: r for r in dev if r["kind"] == "KafkaUser"}
    for service in SERVICES:
        user = users.get(f"relief-{service.name}")
        acls = user["spec"]["authorization"]["acls"] if user else []
        granted = {(a["resource"]["type"], a["resource"]["name"], op.upper()) for a in acls for op in a["operations"]}
        proven = {(kind.name.lower(), name, operation.name) for kind, name, operation in service_grants(service.name)}
        assert granted == proven
        assert (user is None) == (not proven), service.name  # a service granted nothing has no user at all
