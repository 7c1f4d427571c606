"""The trail's sequencer: the one writer that appends every consumed message to the log.

Every audit replica serves reads; exactly one appends: the one holding the sequencer's lease in the
store they share. It reads every partition of every source topic from just after the positions
recorded with the log, and commits each poll as one batch: the entries, their tree nodes, the case
chains and the positions, in one transaction, with a claim on the batch's first index so that a writer
that lost its lease without knowing it fails instead of writing over the new one. A message that is not
a valid event goes to the dead-letter topic (with the reason) and into the trail as `SourceRejected`.
Anything else that fails (an entry over 65,535 bytes, a store that does not answer) stops the sequencer
at that poll, visibly (`relief_trail_stalled`, /ready, the log) and retried with backoff: the log has
one order, so nothing after a failed message is appended before it.

A standby asks for the lease every STANDBY_POLL_SECONDS and gets it LEASE_SECONDS after the last renewal
of a sequencer that died: with Kafka's session timeout of 10 s, it reads within 15 s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import eventlet
from eventlet.greenthread import GreenThread
from nameko.extensions import DependencyProvider

from services.audit.application import Trail
from services.audit.entries import Source
from services.audit.log import Append, Head
from services.audit.note import Signer
from services.contracts import DEAD_LETTER_TOPIC, Envelope, InvalidEvent, decode
from services.contracts.topics import TOPICS
from services.metrics import (
    EVENTS_CONSUMED,
    TRAIL_APPEND_SECONDS,
    TRAIL_APPENDED,
    TRAIL_REJECTED,
    TRAIL_SEQUENCER,
    TRAIL_STALLED,
)
from services.runtime import failpoints
from services.runtime.consumer import park
from services.runtime.lag import LagReporter
from services.runtime.store import EventStore
from services.transport import Message, Publisher, Subscription, transport_for

log = logging.getLogger(__name__)

LEASE = "audit:sequencer"
LEASE_SECONDS = 4.0
RENEW_SECONDS = 1.0
STANDBY_POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
BATCH_MESSAGES = 2000  # at most this many messages a batch: polls already waiting are read into one commit
GROUP = "audit"


class Sequencer(DependencyProvider):
    """Append under the lease; sign checkpoints every N entries or T seconds (a dependency so that nameko
    runs it; a worker gets the sequencer itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.topics = sorted(TOPICS.values())
        self.stopping = False
        self.leader = False
        self.problem: str | None = None
        self.reading = False  # the lease holder has subscribed and polled the topics
        self._renewed = 0.0
        self._done = eventlet.event.Event()

    def setup(self) -> None:
        config = self.container.config
        self.replica = str(config.get("REPLICA_ID") or f"audit-{id(self)}")
        self.signer = Signer.parse(str(config["AUDIT_SIGNING_KEY"]))
        self.every = int(config.get("AUDIT_CHECKPOINT_ENTRIES", 1000))
        self.seconds = float(config.get("AUDIT_CHECKPOINT_SECONDS", 10))

    def start(self) -> None:
        self.container.spawn_managed_thread(self._run)
        self.container.spawn_managed_thread(self._report_lag)

    stops_before_store = True  # the store's stop() stops the sequencer first, so its lease is released

    def stop(self) -> None:
        """Stop appending and release the lease (at once, not after it expires); a second call does nothing."""
        self.stopping = True
        self._done.wait()
        if self.leader:
            self.leader = False
            TRAIL_SEQUENCER.set(0)
            try:
                self._trail().release_lease(LEASE, self.replica)
            except Exception as exc:
                log.warning("could not release the sequencer's lease: %s", exc)

    def kill(self) -> None:
        self.stopping = True

    def get_dependency(self, worker_ctx: Any) -> Sequencer:
        return self

    def readiness(self) -> dict[str, dict[str, Any]]:
        if self.problem is not None:
            return {"sequencer": {"ok": False, "detail": self.problem[:300]}}
        if self.leader and not self.reading:
            return {"sequencer": {"ok": False, "detail": "holds the lease; not yet reading the source topics"}}
        role = "active (appends)" if self.leader else "standby (another replica appends)"
        return {"sequencer": {"ok": True, "detail": role}}

    def _trail(self) -> Trail:
        stores = [d for d in self.container.dependencies if isinstance(d, EventStore)]
        assert len(stores) == 1 and isinstance(stores[0].app, Trail)
        return stores[0].app

    def _run(self) -> None:
        try:
            trail = self._trail()
            transport = transport_for(self.container.config["TRANSPORT_URL"])
            while not self.stopping:
                if not self._hold(trail):
                    eventlet.sleep(STANDBY_POLL_SECONDS)
                    continue
                self._lead(trail, transport)
        finally:
            self._done.send(None)

    def _hold(self, trail: Trail) -> bool:
        now = time.monotonic()
        if self.leader and now - self._renewed < RENEW_SECONDS:
            return True
        try:
            held = trail.acquire_lease(LEASE, self.replica, LEASE_SECONDS)
        except Exception as exc:
            self.problem = f"store: cannot hold the sequencer's lease: {type(exc).__name__}: {exc}"
            held = False
        if held:
            self._renewed = now
        if held != self.leader:
            log.warning("the trail's sequencer on %s is now %s", self.replica, "active" if held else "standby")
        self.leader = held
        TRAIL_SEQUENCER.set(1 if held else 0)
        return held

    def _lead(self, trail: Trail, transport: Any) -> None:
        """Append while holding the lease; on losing it, close the subscription and stand by.

        Batches are pipelined: while batch n commits (the store's round trips yield to the hub), batch n + 1
        is read, decoded and sealed on top of n in memory. It is committed only after n is, and discarded
        with everything after it if n's commit fails: the log still gains whole batches, in order, each
        with its positions, so a crash anywhere loses nothing that is not read again."""
        subscription: Subscription | None = None
        dead_letters: Publisher | None = None
        committing: Committing | None = None
        backoff = 0.5

        def subscribe() -> Subscription:  # from just after the positions recorded with the log
            return transport.subscribe(GROUP, self.topics, lambda t, p: trail.position(f"{t}:{p}"))

        try:
            transport.ensure_topics([*self.topics, DEAD_LETTER_TOPIC])
            subscription = subscribe()
            dead_letters = transport.publisher()
            self._checkpoint(trail)
            while not self.stopping and self._hold(trail):
                messages = self._poll(subscription)
                self.reading = True
                try:
                    built = self._build(trail, messages, committing) if messages else None
                    if committing is not None:
                        done, committing = committing, None
                        done.wait()  # n is committed (or its failure is raised here, and n + 1 dropped)
                    if built is not None:
                        committing = Committing(built, eventlet.spawn(self._commit_and_sign, trail, built,
                                                                      dead_letters))
                    else:
                        self._checkpoint(trail)
                except Exception as exc:
                    if committing is not None:  # a failed build: let the batch before it finish first
                        committing.settle()
                        committing = None
                    self._stalled(exc, messages, backoff)
                    subscription.close()  # read again from the recorded positions
                    subscription = None
                    eventlet.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    subscription = subscribe()
                    continue
                if self.problem is not None:
                    log.warning("the trail's sequencer appends again")
                self.problem = None
                TRAIL_STALLED.set(0)
                backoff = 0.5
        except Exception as exc:
            self._stalled(exc, [], backoff)
            eventlet.sleep(backoff)
        finally:
            if committing is not None:
                committing.settle()
            self.reading = False
            if subscription is not None:
                subscription.close()
            if dead_letters is not None:
                dead_letters.close()

    @staticmethod
    def _poll(subscription: Subscription) -> list[Message]:
        """One poll, then whatever the transport already holds, up to BATCH_MESSAGES: a backlog goes in few
        large commits (each commit's fsync and the tree's right edge are paid once a batch), a trickle at once."""
        messages = list(subscription.poll(0.5))
        while messages and len(messages) < BATCH_MESSAGES:
            more = list(subscription.poll(0))
            if not more:
                break
            messages.extend(more)
        return messages

    def _build(self, trail: Trail, messages: list[Message], before: Committing | None) -> Built | None:
        """Decode and seal the messages not appended yet into one batch, on top of `before` if it is still
        being committed; None if every message is already in the log."""
        started = time.perf_counter()
        recorded = {name: trail.position(name) for name in {m.position_name for m in messages}}
        if before is not None:  # what is being committed counts as appended
            for name, offset in before.built.positions.items():
                if name in recorded:
                    recorded[name] = max(_or_before_first(recorded[name]), offset)
        fresh = [m for m in messages if m.offset > _or_before_first(recorded[m.position_name])]
        if not fresh:
            return None
        items: list[tuple[Source, bytes | None, Envelope | None, str | None]] = []
        parked: list[tuple[Message, str, str]] = []
        for n, m in enumerate(fresh):
            if n % 50 == 49:
                eventlet.sleep(0)  # a long batch lets the replica answer its probes, and the commit go on
            failpoints.reached("consumer.before_apply")  # the points every consumer has, for crash tests
            source = Source(m.topic, m.partition, m.offset)
            try:
                items.append((source, m.value, decode(m.value), None))
            except InvalidEvent as exc:
                items.append((source, m.value, None, exc.reason))
                parked.append((m, "decode", exc.reason))
        eventlet.sleep(0)
        append = trail.append(items, self.replica, after=before.built.append if before is not None else None)
        eventlet.sleep(0)  # sealing and committing a batch each take a while: answer the probes between
        positions: dict[str, int] = {}
        for m in fresh:
            positions[m.position_name] = max(m.offset, positions.get(m.position_name, -1))
        return Built(append, positions, fresh, parked, started)

    def _append(self, trail: Trail, messages: list[Message], dead_letters: Publisher) -> Head | None:
        """Append the messages not appended yet as one batch, not pipelined; the log's head after it (None:
        nothing new)."""
        built = self._build(trail, messages, None)
        return self._commit(trail, built, dead_letters) if built is not None else None

    def _commit_and_sign(self, trail: Trail, built: Built, dead_letters: Publisher) -> Head:
        head = self._commit(trail, built, dead_letters)
        self._checkpoint(trail, head)
        return head

    def _commit(self, trail: Trail, built: Built, dead_letters: Publisher) -> Head:
        """Store one batch with its positions (its dead letters first, as every consumer does); the log's
        head after it."""
        park(dead_letters, "audit", built.parked)  # before the positions are kept
        failpoints.reached("consumer.before_record")
        trail.store(built.append, built.positions)
        failpoints.reached("consumer.after_record")
        for m, _, _ in built.parked:
            TRAIL_REJECTED.labels(m.topic).inc()
        for m in built.fresh:
            TRAIL_APPENDED.labels(m.topic).inc()
            EVENTS_CONSUMED.labels("audit", m.topic).inc()
        TRAIL_APPEND_SECONDS.observe(time.perf_counter() - built.started)
        return Head(built.append.size, built.append.root())

    def _report_lag(self) -> None:
        """Every source partition's lag against the positions recorded with the log, on every replica (a
        standby too: it shows the lag growing if the active sequencer freezes)."""
        reporter = LagReporter("audit", self.topics, self._trail().position)
        reporter.run(transport_for(self.container.config["TRANSPORT_URL"]), lambda: self.stopping)

    def _checkpoint(self, trail: Trail, head: Head | None = None) -> None:
        """Sign a checkpoint if one is due; `head`: the log's head if this sequencer just appended."""
        trail.checkpoint_if_due(self.signer, self.every, self.seconds, head=head)

    def _stalled(self, exc: Exception, messages: list[Message], backoff: float) -> None:
        where = f" at {messages[0].position_name}@{messages[0].offset}" if messages else ""
        self.problem = f"stalled{where}: {type(exc).__name__}: {exc}"
        TRAIL_STALLED.set(1)
        log.error("the trail's sequencer %s; retrying in %.1fs", self.problem, backoff)


@dataclass
class Built:
    """A batch decoded and sealed, not yet stored: its entries and rows, the positions it reaches."""

    append: Append
    positions: dict[str, int]
    fresh: list[Message]
    parked: list[tuple[Message, str, str]]
    started: float


@dataclass
class Committing:
    """A batch whose commit runs in its own green thread."""

    built: Built
    thread: GreenThread

    def wait(self) -> Head:
        return self.thread.wait()

    def settle(self) -> None:
        """Wait for the commit to end, whatever its outcome (a failure is the next read's to see)."""
        try:
            self.thread.wait()
        except Exception as exc:
            log.warning("the trail's batch being committed failed: %s: %s", type(exc).__name__, exc)


def _or_before_first(offset: int | None) -> int:
    return -1 if offset is None else offset
