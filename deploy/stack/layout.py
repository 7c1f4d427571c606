"""Where the stack on one machine keeps everything and which loopback ports it uses.

Everything lives under one directory (`RELIEF_STACK_DIR`, default `./var/stack`) so that `stack-down` and
`stack-up` find the data again, and a test can run a whole stack of its own in a temporary directory. The
ports are fixed and documented (README, docs/operations.md); each can be moved by a variable, and `stack-up`
writes the ones it used to `ports.json`, so the later commands (status, down, token, topics) find the stack
without the variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from services.catalog import SERVICES

HOST = "127.0.0.1"
DEFAULT_PORTS = {"kafka": 19092, "controller": 19093, "postgres": 15432, "prometheus": 19090, "services": 18000}
CONSUMER_REPLICAS = 2  # a consuming service runs two replicas, so the group and the leases have a standby
REPLICAS_KEY = "consumer_replicas"  # in ports.json: RELIEF_STACK_REPLICAS of the last stack-up
GATEWAY_REPLICAS = 2  # the gateway (no topic) too, as in Kubernetes: the console's logins on either replica


@dataclass(frozen=True)
class Ports:
    """The stack's ports: a service replica listens on `services + (catalog port - 8000) + 10 * replica`."""

    kafka: int
    controller: int
    postgres: int
    prometheus: int
    services: int


@dataclass(frozen=True)
class Replica:
    """One process of one service, named as a StatefulSet pod would be (`pairing-1`)."""

    service: str
    index: int
    port: int

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class Stack:
    root: Path
    ports: Ports
    consumer_replicas: int = CONSUMER_REPLICAS  # of each consuming service

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def kafka(self) -> Path:
        return self.root / "kafka"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def prometheus(self) -> Path:
        return self.root / "prometheus"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.ports.kafka}"

    @property
    def transport_url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def replicas(self) -> list[Replica]:
        """Every service process: one of a service that only publishes, `consumer_replicas` (two) of each
        consuming one and two of one that uses no topic (the gateway: 18000 and 18010 by default)."""
        found = []
        for entry in SERVICES:
            count = self.consumer_replicas if entry.consumes else 1 if entry.publishes else GATEWAY_REPLICAS
            for index in range(count):
                found.append(Replica(entry.name, index, self.ports.services + entry.port - 8000 + 10 * index))
        return found

    def replicas_of(self, service: str) -> list[Replica]:
        return [replica for replica in self.replicas() if replica.service == service]

    def save_ports(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        saved = {**asdict(self.ports), REPLICAS_KEY: self.consumer_replicas}
        (self.root / "ports.json").write_text(json.dumps(saved, indent=2) + "\n")


def load(env: Mapping[str, str] = os.environ) -> Stack:
    """The stack of `RELIEF_STACK_DIR`: each port from `RELIEF_STACK_<NAME>_PORT`, and the consuming services'
    replicas from `RELIEF_STACK_REPLICAS`; each else as it last ran, else the default."""
    root = Path(env.get("RELIEF_STACK_DIR", "var/stack")).resolve()
    saved_file = root / "ports.json"
    saved = json.loads(saved_file.read_text()) if saved_file.exists() else {}
    ports = {
        name: int(env.get(f"RELIEF_STACK_{name.upper()}_PORT") or saved.get(name) or default)
        for name, default in DEFAULT_PORTS.items()
    }
    replicas = int(env.get("RELIEF_STACK_REPLICAS") or saved.get(REPLICAS_KEY) or CONSUMER_REPLICAS)
    if replicas != CONSUMER_REPLICAS:
        from services.contracts.topics import PARTITIONS  # only then: `make token` loads the layout too

        if not 1 <= replicas <= PARTITIONS:
            # More replicas than a topic has partitions would leave some idle; none would leave it unread.
            raise ValueError(f"RELIEF_STACK_REPLICAS must be 1 to {PARTITIONS}, not {replicas}")
    return Stack(root, Ports(**ports), replicas)
