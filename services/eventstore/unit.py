"""A unit of work: the effects of a batch of consumed events, held until they commit in one transaction.

A consumer applies a whole poll at once: each event's handler records into the unit instead of the
store, loads see what earlier events of the batch changed, and the runtime commits the effects of
every event that succeeded, with the position of every partition they came from, in one transaction.
A mark before each event lets it commit only the events before one that was refused or failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.eventstore.index import IndexOp


@dataclass
class UnitOfWork:
    events: list[Any] = field(default_factory=list)
    index: list[IndexOp] = field(default_factory=list)
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    marks: list[tuple[int, int]] = field(default_factory=list)

    def add(self, aggregates: Sequence[Aggregate], index: Sequence[IndexOp]) -> None:
        """Hold the aggregates' new events and index rows; later loads in this unit return these aggregates."""
        for aggregate in aggregates:
            self.events.extend(aggregate.collect_events())
            self.aggregates[aggregate.id] = aggregate
        self.index.extend(index)

    def mark(self) -> None:
        """Note where the next event's effects begin."""
        self.marks.append((len(self.events), len(self.index)))

    def effects_before(self, position: int | None) -> tuple[list[Any], list[IndexOp]]:
        """The events and index rows recorded before mark `position` (all of them for None)."""
        if position is None:
            return list(self.events), list(self.index)
        if position >= len(self.marks):  # no delivery reached: only what came before the first mark
            events, index = self.marks[0] if self.marks else (0, 0)
            return self.events[:events], self.index[:index]
        events, index = self.marks[position]
        return self.events[:events], self.index[:index]
