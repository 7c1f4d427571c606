"""Group commit: saves that arrive together share one transaction, so one fsync serves many requests.

Each caller still returns only after its own events are committed, or raises its own error: if the
shared transaction fails, every save in it is retried alone, so one bad save fails only itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import eventlet

Put = Callable[[list[Any], list[Any]], object]  # (events, index ops) -> stored atomically, or raise


@dataclass
class _Save:
    events: list[Any]
    index: list[Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, put: Put, max_group: int = 64, gather_seconds: float = 0.002):
        """`gather_seconds`: how long a save waits for others to join it (measured best: 2 ms, see
        docs/benchmarks.md); a lone save pays it once, a busy service saves one fsync per request."""
        self._put = put
        self._max_group = max_group
        self._gather = gather_seconds
        self._waiting: list[_Save] = []
        self._leading = False

    def save(self, events: list[Any], index: Sequence[Any]) -> None:
        mine = _Save(events, list(index))
        self._waiting.append(mine)
        if self._leading:
            mine.done.wait()
        else:
            self._lead()
        if mine.error is not None:
            raise mine.error

    def _lead(self) -> None:
        """Commit what is waiting, in groups, until nothing is; saves arriving meanwhile join in."""
        self._leading = True
        try:
            eventlet.sleep(self._gather)  # let requests that are ready reach their save and join this group
            while self._waiting:
                group, self._waiting = self._waiting[: self._max_group], self._waiting[self._max_group :]
                self._commit(group)
        finally:
            self._leading = False

    def _commit(self, group: list[_Save]) -> None:
        try:
            self._put([e for s in group for e in s.events], [op for s in group for op in s.index])
        except Exception as shared:
            if len(group) == 1:
                group[0].error = shared
            else:
                for save in group:
                    try:
                        self._put(save.events, save.index)
                    except Exception as own:
                        save.error = own
        for save in group:
            save.done.set()
