"""The one interface both transports implement, so service code never knows which it runs on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Where a consumer resumes: given (topic, partition), the last offset it processed, or None.
StartAt = Callable[[str, int], int | None]


class PublishFailed(Exception):
    """The transport did not acknowledge every message; none may be counted as sent.

    `pending`: the messages are still queued in the publisher, which goes on delivering them (each once: the
    producer is idempotent). Flush the same publisher again; sending them again, or from a new publisher,
    could put them on the topic twice."""

    def __init__(self, message: str, pending: bool = False):
        super().__init__(message)
        self.pending = pending


class Fenced(Exception):
    """Another process joined the consumer group under this replica's instance id: this one must stop."""


@dataclass(frozen=True)
class Message:
    """One message as a consumer receives it, with the position it came from."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def position_name(self) -> str:
        """Name under which a consumer tracks how far it has read this partition."""
        return f"{self.topic}:{self.partition}"


class Publisher(Protocol):
    def publish(self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None) -> None:
        """Queue a message; it counts as sent only after flush() returns."""

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued message is acknowledged, or raise PublishFailed."""

    def partition_for(self, topic: str, key: str) -> int:
        """The partition a message with this key goes to (the same for every publisher of the topic)."""

    def close(self) -> None: ...


class Subscription(Protocol):
    def poll(self, timeout: float) -> Sequence[Message]:
        """Return the next messages in partition order, waiting up to timeout seconds for one."""

    def commit(self, messages: Sequence[Message]) -> None:
        """Tell the transport these were processed (an operator's view; consumers track their own)."""

    def assigned(self) -> set[tuple[str, int]] | None:
        """The partitions this replica reads now, or None before the group has assigned any."""

    def pause(self, topic: str, partition: int) -> None:
        """Stop returning messages of this partition until resume()."""

    def resume(self, topic: str, partition: int, offset: int) -> None:
        """Return messages of this partition again, starting at `offset`."""

    def close(self) -> None: ...


class Transport(Protocol):
    def publisher(self) -> Publisher: ...

    def subscribe(
        self, group: str, topics: Sequence[str], start_at: StartAt, instance: str | None = None
    ) -> Subscription:
        """Read topics from just after the position start_at gives, or from the beginning.

        `group` shares the partitions among a service's replicas; `instance` names this replica.
        """

    def ensure_topics(self, topics: Sequence[str]) -> None: ...

    def last_headers(self, topic: str) -> dict[int, dict[str, str]]:
        """The headers of the newest message of each partition of the topic that has one."""

    def end_offsets(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """The end (the offset the next message will get) of every partition of these topics that exists."""

    def close(self) -> None: ...
