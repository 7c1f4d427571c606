"""`make stack-status`: what runs, whether each service replica is ready, how far behind each consumer group
is on every partition as Kafka records it, and whether Prometheus reaches every replica."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, TopicPartition
from kafka.protocol.consumer.offsets import OffsetSpec

from deploy.stack import services
from deploy.stack.kafka import Kafka
from deploy.stack.layout import Stack
from deploy.stack.postgres import Postgres
from deploy.stack.prometheus import Prometheus


@dataclass(frozen=True)
class PartitionLag:
    """One partition of a group: the offset Kafka has committed for it, the log's end, and who reads it."""

    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group never committed one (Kafka's tools print "-")
    end: int
    owner: str

    @property
    def lag(self) -> int | None:
        if self.committed is None:
            return 0 if self.end == 0 else None
        return max(0, self.end - self.committed)


def group_lag(bootstrap: str) -> list[PartitionLag]:
    """Every consumer group's partitions: those its members are assigned and those it committed offsets for."""
    with KafkaAdminClient(bootstrap_servers=bootstrap, client_id="relief-stack-status",
                          request_timeout_ms=5000) as admin:
        groups = sorted(group["group_id"] for group in admin.list_groups())
        if not groups:
            return []
        owners: dict[tuple[str, str, int], str] = {}
        for group, description in admin.describe_groups(groups).items():
            for member in description["members"]:
                name = member["group_instance_id"] or member["member_id"]
                for assigned in (member.get("member_assignment") or {}).get("assigned_partitions", []):
                    for partition in assigned["partitions"]:
                        owners[(group, assigned["topic"], partition)] = name
        committed = {(group, tp.topic, tp.partition): meta.offset
                     for group, offsets in admin.list_group_offsets(groups).items() for tp, meta in offsets.items()}
        keys = sorted(set(owners) | set(committed))
        partitions = {TopicPartition(topic, partition) for _, topic, partition in keys}
        ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST)) if partitions else {}
    return [
        PartitionLag(group, topic, partition, committed.get((group, topic, partition)),
                     ends[TopicPartition(topic, partition)].offset, owners.get((group, topic, partition), "-"))
        for group, topic, partition in keys
    ]


def _problems(body: dict[str, Any]) -> str:
    checks = body.get("checks") or {}
    failing = [f"{name}: {check.get('detail', '')}" for name, check in checks.items() if not check.get("ok")]
    return "; ".join(failing)[:300] or "no answer"


def _processes(stack: Stack, say: Callable[[str], None]) -> bool:
    everything = True
    postgres = Postgres(stack)
    up = postgres.running()
    everything &= up
    say(f"  {'postgres':10} {'running' if up else 'STOPPED':8} 127.0.0.1:{stack.ports.postgres}")
    for daemon, where in ((Kafka(stack).daemon, stack.bootstrap), (Prometheus(stack).daemon, Prometheus(stack).url)):
        pid = daemon.pid()
        everything &= pid is not None
        say(f"  {daemon.name:10} {'running' if pid else 'STOPPED':8} {where:24} pid {pid or '-'}")
    for replica in stack.replicas():
        pid = services.daemon(stack, replica).pid()
        code, body = services.ready(replica) if pid else (None, {})
        ready = code == 200
        everything &= ready
        state = "ready" if ready else f"NOT READY ({_problems(body)})" if pid else ""
        say(f"  {replica.name:10} {'running' if pid else 'STOPPED':8} {replica.url:24} pid {pid or '-':<8} {state}"
            .rstrip())
    return everything


def report(stack: Stack, say: Callable[[str], None]) -> bool:
    """Print the stack's state; True if every process runs and every replica is ready."""
    say(f"stack in {stack.root}")
    everything = _processes(stack, say)
    say("consumer groups (offsets committed to Kafka against the end of each partition):")
    rows: list[PartitionLag] = []
    if Kafka(stack).daemon.pid() is None:
        say("  Kafka is not running")
    else:
        try:
            rows = group_lag(stack.bootstrap)
            say(f"  {'group':8} {'topic':32} {'part':>4} {'committed':>10} {'end':>10} {'lag':>8}  owner"
                if rows else "  no consumer group yet")
        except Exception as exc:
            say(f"  Kafka does not answer: {type(exc).__name__}: {exc}")
    for row in rows:
        lag = "-" if row.lag is None else row.lag
        committed = "-" if row.committed is None else row.committed
        say(f"  {row.group:8} {row.topic:32} {row.partition:>4} {committed:>10} {row.end:>10} {lag:>8}  "
            f"{row.owner[:24]}")
    say("prometheus targets:")
    targets: list[dict[str, Any]] = []
    if Prometheus(stack).daemon.pid() is None:
        say("  Prometheus is not running")
    else:
        try:
            targets = Prometheus(stack).targets()
        except Exception as exc:
            say(f"  Prometheus does not answer: {type(exc).__name__}")
    for target in targets:
        labels = target["labels"]
        error = f"  {target['lastError']}" if target.get("lastError") else ""
        say(f"  {labels.get('job', '?'):8} {labels.get('replica', '-'):10} {labels.get('instance', '?'):16} "
            f"{target['health']}{error}")
    return everything
