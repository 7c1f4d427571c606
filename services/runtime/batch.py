"""What a consumer's handler is given: the validated events of one poll, in order, as one batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from services.contracts import Envelope
from services.eventstore.unit import UnitOfWork
from services.runtime import failpoints
from services.transport import Message


@dataclass(frozen=True)
class Delivery:
    """One consumed event: the validated envelope and the message it came in."""

    envelope: Envelope
    message: Message


@dataclass
class Batch:
    """The deliveries of one poll, in partition order; their effects go into one unit of work.

    The handler iterates over the batch and applies each delivery with the application's named
    commands; it raises `EventRefused` to park one delivery. The runtime knows which delivery was
    current when the handler stopped, and commits the effects of those before it.
    """

    deliveries: Sequence[Delivery]
    unit: UnitOfWork = field(default_factory=UnitOfWork)
    current: int | None = None  # the index of the delivery being applied
    finished: bool = False  # the handler went through every delivery
    resends: int = 0  # deliveries the handler recognised as events it already had (same event id)

    def __iter__(self) -> Iterator[Delivery]:
        for position, delivery in enumerate(self.deliveries):
            self.current = position
            self.unit.mark()
            failpoints.reached("consumer.before_apply")
            yield delivery
        self.current = None
        self.finished = True

    def already_had(self, delivery: Delivery) -> None:
        """Say that this delivery is a resend of an event already applied (counted as a duplicate)."""
        self.resends += 1

    def __len__(self) -> int:
        return len(self.deliveries)
