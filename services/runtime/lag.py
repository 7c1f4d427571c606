"""Consumer lag of every partition, measured the way an operator means it: the partition's end against the
position the service has recorded in its store, for every partition of its topics, on every replica.

Each replica reports every partition, not only the ones it reads: a replica that froze, died or was fenced
keeps its partitions' recorded positions where they were, so the live replicas' reports of those partitions
grow while the log moves on (`max by (service, topic, partition)` in PromQL). The positions are the store's,
recorded with the effects, so the lag is 0 only once every message has been applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import eventlet

from services.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 2.0


class LagReporter:
    def __init__(self, service: str, topics: Sequence[str], position: Callable[[str], int | None]) -> None:
        self.service, self.topics, self.position = service, list(topics), position
        self.problem: str | None = None  # why the last report could not be made

    def run(self, transport: Any, stopping: Callable[[], bool], interval: float = INTERVAL_SECONDS) -> None:
        while not stopping():
            self.report(transport)
            eventlet.sleep(interval)

    def report(self, transport: Any) -> None:
        """Export each partition's lag once; a broker or store that cannot answer leaves the last values."""
        try:
            ends = transport.end_offsets(self.topics)
            lags = {}
            for (topic, partition), end in ends.items():
                done = self.position(f"{topic}:{partition}")
                lags[(topic, partition)] = max(0, end - (0 if done is None else done + 1))
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"[:300]
            if problem != self.problem:
                log.warning("%s: consumer lag not measured: %s", self.service, problem)
            self.problem = problem
            return
        if self.problem is not None:
            log.info("%s: consumer lag measured again", self.service)
        self.problem = None
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(self.service, topic, str(partition)).set(lag)
