"""The stack's Kafka: one KRaft node (broker and controller) from the Maven Central jars, data in `kafka/`.

The storage is formatted once, with a cluster id kept beside it; every later start reuses it, so the topics
and everything on them survive `stack-down`. The topics are created up front with their partitions and
configs (docs/events.md): the trail's sources are kept forever (`retention.ms=-1`), because a new audit
store, or `make replay`, reads them from offset 0.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient

from deploy.stack.layout import HOST, Stack
from deploy.stack.procs import Daemon
from services.contracts.topics import DEAD_LETTER_TOPIC, PARTITIONS, TOPICS

DEPLOY_KAFKA = Path(__file__).resolve().parents[1] / "kafka"
DEAD_LETTER_RETENTION_MS = 90 * 24 * 3600 * 1000  # long enough to read a dead letter and re-drive it
SOURCE_CONFIGS = {"cleanup.policy": "delete", "retention.ms": "-1"}


def topic_configs() -> dict[str, dict[str, str]]:
    """Every topic of docs/events.md with its configs: the trail's sources forever, dead letters 90 days."""
    configs = {topic: SOURCE_CONFIGS for topic in TOPICS.values()}
    configs[DEAD_LETTER_TOPIC] = {"cleanup.policy": "delete", "retention.ms": str(DEAD_LETTER_RETENTION_MS)}
    return configs


def libs() -> Path:
    """The broker's and the tools' jars, fetched from Maven Central once (deploy/kafka/fetch-jars.sh)."""
    out = subprocess.run(["bash", str(DEPLOY_KAFKA / "fetch-jars.sh")], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return Path(out.strip().splitlines()[-1])


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found:
        raise RuntimeError("java not found: install a JRE 17 or later (apt-get install default-jre-headless)")
    return found


class Kafka:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.daemon = Daemon("kafka", stack.run, stack.logs)
        self.config = stack.kafka / "server.properties"
        self.data = stack.kafka / "data"

    def start(self) -> None:
        """Format the storage on the first start, then start the node and wait until a client gets answers."""
        jars = libs()
        self.stack.kafka.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self._properties())  # the ports may have moved since the last start
        jvm = [java(), f"-Dlog4j2.configurationFile={DEPLOY_KAFKA / 'log4j2.properties'}", "-cp", f"{jars}/*"]
        if not (self.data / "meta.properties").exists():
            storage_format = ["kafka.tools.StorageTool", "format", "-t", self._cluster_id(), "-c", str(self.config)]
            formatted = subprocess.run([*jvm, "-XX:TieredStopAtLevel=1", *storage_format],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if formatted.returncode:
                raise RuntimeError(f"Kafka storage format failed:\n{formatted.stdout}")
        self.daemon.start([*jvm, "-Xms256m", "-Xmx512m", "kafka.Kafka", str(self.config)], os.environ,
                          self.stack.kafka)
        self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.daemon.pid() is None:
                raise RuntimeError(f"Kafka exited; the end of {self.daemon.log}:\n{self.daemon.tail(40)}")
            if self.answers():
                return
            time.sleep(0.5)
        raise RuntimeError(f"Kafka not ready after {timeout:.0f} s; see {self.daemon.log}")

    def answers(self) -> bool:
        try:
            with KafkaAdminClient(bootstrap_servers=self.stack.bootstrap, request_timeout_ms=3000) as admin:
                admin.list_topics()
            return True
        except Exception:
            return False

    def ensure_topics(self) -> list[str]:
        """Create the missing topics with their partitions and configs; the names of those created."""
        wanted = topic_configs()
        with KafkaAdminClient(bootstrap_servers=self.stack.bootstrap, client_id="relief-stack") as admin:
            missing = sorted(set(wanted) - set(admin.list_topics()))
            if missing:
                admin.create_topics(
                    {name: {"num_partitions": PARTITIONS, "replication_factor": 1, "configs": wanted[name]}
                     for name in missing},
                    timeout_ms=30000, wait_for_metadata=True,
                )
        return missing

    def _cluster_id(self) -> str:
        """The cluster's id, made once and kept (formatting again would need it)."""
        path = self.stack.kafka / "cluster-id"
        if not path.exists():
            while True:  # an id starting with '-' would be taken for an option
                made = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
                if not made.startswith("-"):
                    break
            path.write_text(made + "\n")
        return path.read_text().strip()

    def _properties(self) -> str:
        ports = self.stack.ports
        props = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@{HOST}:{ports.controller}",
            "listeners": f"PLAINTEXT://{HOST}:{ports.kafka},CONTROLLER://{HOST}:{ports.controller}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{ports.kafka}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data,
            "num.partitions": PARTITIONS,
            "auto.create.topics.enable": "false",  # every topic is created up front, with its configs
            "offsets.topic.num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,  # of a 512 MiB heap; only the offsets are compacted
        }
        return "# Written by deploy/stack/kafka.py at every start.\n" + "".join(f"{k}={v}\n" for k, v in props.items())
