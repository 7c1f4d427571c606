"""Each process is given only the secrets its service uses, and warns only about those (services/config.py)."""

from pathlib import Path

from deploy import manifests
from deploy.stack import layout
from deploy.stack.secrets import ensure
from deploy.stack.services import environment
from services.catalog import SERVICES, names
from services.config import DEV_PERSON_KEY, secrets_of, service_config, uses_dev_secrets

KEYS = {"RELIEF_JWT_SECRET", "RELIEF_PERSON_KEY", "RELIEF_CIPHER_KEY", "RELIEF_AUDIT_SIGNING_KEY"}
PRODUCTION = {"RELIEF_JWT_SECRET": "j" * 40, "RELIEF_PERSON_KEY": "p" * 40,
              "RELIEF_CIPHER_KEY": "OjJzJoi/yAkOiEmgdsNWBqXxlWuqDpEP6Bqp8ZkUB4F=",
              "RELIEF_AUDIT_SIGNING_KEY": "PRIVATE+KEY+x/audit+00000000+AAAA"}


def test_only_intake_gets_the_person_key_and_only_audit_the_signing_key(tmp_path: Path):
    stack = layout.load({"RELIEF_STACK_DIR": str(tmp_path / "stack")})
    secrets = ensure(stack.secrets)
    for replica in stack.replicas():
        given = KEYS & set(environment(stack, replica, secrets))
        wanted = {"RELIEF_JWT_SECRET", "RELIEF_CIPHER_KEY"}
        wanted |= {"intake": {"RELIEF_PERSON_KEY"}, "audit": {"RELIEF_AUDIT_SIGNING_KEY"}}.get(replica.service, set())
        assert given == wanted, replica.name
    intake = next(r for r in stack.replicas() if r.service == "intake")
    assert environment(stack, intake, secrets)["RELIEF_PERSON_KEY"] == secrets.person_key


def test_the_kubernetes_pods_get_the_same_secrets_as_the_stack():
    for service in SERVICES:
        env = manifests.container(service)["env"]
        refs = {e["name"] for e in env
                if e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == "relief-secrets"}
        assert refs == {f"RELIEF_{key}" for key in secrets_of(service.name)}, service.name


def test_a_service_given_only_its_own_production_secrets_does_not_warn_of_development_ones():
    for service in names():
        env = {f"RELIEF_{key}": PRODUCTION[f"RELIEF_{key}"] for key in secrets_of(service)}
        assert not uses_dev_secrets(service_config(service, env)), service


def test_a_development_secret_the_service_uses_is_still_warned_of():
    env = {**PRODUCTION, "RELIEF_PERSON_KEY": DEV_PERSON_KEY}
    assert uses_dev_secrets(service_config("intake", env))
    assert not uses_dev_secrets(service_config("aid", env))  # aid never uses the person key
    assert uses_dev_secrets(service_config("aid", {}))
