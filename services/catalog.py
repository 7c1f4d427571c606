"""Every service of the system, declared once: the runner, the config, the contracts registry, the test
harness and the Kubernetes manifests all read this list, so adding a service is one entry here.

Nothing is imported from a service package until it is asked for: reading the catalog does no I/O and
pulls in no nameko, Kafka or database code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

EVERY_TOPIC = "*"  # in `consumes`: every topic any service publishes


@dataclass(frozen=True)
class ServiceEntry:
    """One service: where it listens, what it runs, what it publishes and what it consumes."""

    name: str
    port: int  # its port on one machine (`make run`); in a pod every service listens on 8000
    service_class: str  # "package.module:Class", the nameko service
    application: str  # "package.module:Class", its event-sourced application
    publishes: str | None = None  # the topic its outbox relay publishes to
    contracts: str | None = None  # the module whose SCHEMAS are the events it publishes (version 1)
    consumes: tuple[str, ...] = ()  # topics it reads, or (EVERY_TOPIC,)
    replicas: int = 1  # Kubernetes replicas by default
    summary: str = ""

    def load_service_class(self) -> type:
        return _load(self.service_class)

    def load_application(self) -> type:
        return _load(self.application)

    def consumed_topics(self) -> list[str]:
        """The topics this service reads, with EVERY_TOPIC expanded."""
        if EVERY_TOPIC in self.consumes:
            return sorted(topics().values())
        return sorted(self.consumes)


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry(
        name="intake",
        port=8001,
        service_class="services.intake.service:IntakeService",
        application="services.intake.application:Cases",
        publishes="relief.intake.case-events",
        contracts="services.contracts.intake_events",
        replicas=2,
        summary="applications to filing, one file per person, review, exit and return, plans, imports, reports",
    ),
    ServiceEntry(
        name="pairing",
        port=8002,
        service_class="services.pairing.service:PairingService",
        application="services.pairing.application:Pairings",
        publishes="relief.pairing.pairing-events",
        contracts="services.contracts.pairing_events",
        consumes=("relief.intake.case-events",),
        replicas=2,
        summary="helper units and cadres for every filed household, visits every quarter (结对帮扶)",
    ),
    ServiceEntry(
        name="aid",
        port=8003,
        service_class="services.aid.service:AidService",
        application="services.aid.application:Aids",
        publishes="relief.aid.aid-events",
        contracts="services.contracts.aid_events",
        consumes=("relief.intake.case-events",),
        replicas=2,
        summary="programs and budgets, payments and goods, job referrals and training (帮扶资金与项目)",
    ),
    ServiceEntry(
        name="audit",
        port=8004,
        service_class="services.audit.service:AuditService",
        application="services.audit.application:Trail",
        consumes=(EVERY_TOPIC,),
        replicas=2,
        summary="every event of every case, in order",
    ),
    ServiceEntry(
        name="gateway",
        port=8000,
        service_class="services.gateway.service:GatewayService",
        application="services.gateway.application:Accounts",
        replicas=2,
        summary="the console, its accounts and logins, and every service's API under /api/<service>/",
    ),
)


def names() -> list[str]:
    return [entry.name for entry in SERVICES]


def entry(name: str) -> ServiceEntry:
    """Return the named service, or raise KeyError listing the known ones."""
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown service {name!r}; choose from {', '.join(names())}")


def topics() -> dict[str, str]:
    """The topic each producing service publishes to; the key of every message is the case id."""
    return {e.name: e.publishes for e in SERVICES if e.publishes}


def producers() -> list[str]:
    return [e.name for e in SERVICES if e.publishes]


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)
