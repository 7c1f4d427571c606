"""One declaration per service: the runner, config, contracts, harness and manifests all follow it."""

import os

from deploy import manifests
from services.catalog import SERVICES, entry, names, topics
from services.config import service_config
from services.contracts import CONTRACTS
from services.contracts.envelope import EnvelopeSchema
from services.run import service_classes


def test_the_committed_manifests_are_what_the_catalog_renders():
    for path, text in manifests.rendered().items():
        assert path.read_text() == text, f"{path.name} is stale: run `make manifests`"


def test_every_service_has_a_manifest_ready_on_slash_ready():
    for service in SERVICES:
        text = manifests.render(service)
        assert f'args: ["{service.name}"]' in text
        assert "path: /ready" in text.split("readinessProbe:")[1].split("livenessProbe:")[0]


def test_the_runner_runs_exactly_the_catalog_with_the_declared_classes():
    classes = service_classes()
    assert list(classes) == names()
    for name, cls in classes.items():
        assert cls.name == name
        application = entry(name).load_application()
        assert any(getattr(dep, "app_cls", None) is application for dep in vars(cls).values())


def test_each_service_listens_on_its_declared_port_by_default():
    for service in SERVICES:
        assert service_config(service.name, {})["WEB_SERVER_ADDRESS"] == f"127.0.0.1:{service.port}"
    assert len({s.port for s in SERVICES}) == len(SERVICES)


def test_every_published_event_type_belongs_to_a_producing_service():
    producers = set(topics())
    assert {contract.service for contract in CONTRACTS.values()} == producers
    assert set(EnvelopeSchema().fields["service"].validate.choices) == producers


def test_a_replica_is_a_static_group_member_only_when_its_supervisor_names_it():
    config = service_config("audit", {})
    assert config["INSTANCE_ID"] is None  # dynamic membership: two processes can never fence each other
    assert config["REPLICA_ID"].endswith(f"-{os.getpid()}")  # the relay lease's holder, unique per process
    named = service_config("audit", {"RELIEF_AUDIT_INSTANCE": "audit-0"})
    assert named["INSTANCE_ID"] == named["REPLICA_ID"] == "audit-0"
