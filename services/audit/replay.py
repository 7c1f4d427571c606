"""`make replay`: rebuild the audit trail from its source topics in a fresh store and compare the roots.

    python -m services.audit.replay [--store URL] [--transport URL] [--into URL]

The trail claims to be every message of the three source topics (docs/events.md; the dead-letter topic is
not one), once each. This reads every partition of those topics from offset 0 (Kafka with partitions
assigned by hand, no consumer group; or the embedded log's own reader), walks the live trail's entries in
its order, rebuilds each entry from the source message it names with the sequencer's own code
(entries.seal and rejected_event, log.Append, Trail.store) in a fresh store, and compares: every entry's
bytes and leaf hash, the root at the live size with the live root, and the root at the newest signed
checkpoint's size with that checkpoint's (its signature is `make verify`'s business, and the Go client's).

What cannot come from the source alone is taken from the live trail, and only that:
* **Salts.** An entry commits each personal value with a random salt kept (erasably) in `trail_secrets`.
  For each one the rebuilt entry takes the live entry's commitment at the same place once the salt kept
  for it, with the *source's* value, gives that commitment again ("re-derived"); where the secret was
  erased it takes the live commitment as it is ("erased, not re-derived"): what erasure removed cannot be
  checked, only counted. The fresh store keeps no personal values: a replay makes no second copy of them.
* **A rejection's reason.** A message that does not decode today is rebuilt as `SourceRejected` from its
  raw bytes (SHA-256, size); the reason is the live entry's own, because it is the wording of the decoder
  (Python's and marshmallow's messages) at the time it was appended, which a library upgrade changes
  while the bytes it judged do not. Whether the message decodes is judged again: a live entry that
  rejected what today's contracts accept, or the other way round, differs.
Everything else of an entry (index, case_id, case_seq, prev_case_hash, source, the event's other fields)
comes from the source and the replay's own chain state. An entry naming a position the source does not
hold, or one an earlier entry named, is not rebuilt; a source message no entry names is missing (or, after
the position the live trail recorded for its partition, not yet read by the sequencer).

Exit 0 if everything matches; 1 with each difference named; 2 if a store or the transport cannot be used.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # imported by the event store

import argparse  # noqa: E402
import base64  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Mapping, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Protocol  # noqa: E402

from services.audit.application import Trail  # noqa: E402
from services.audit.entries import EntryTooLarge, Source, commitment, rejected_event, seal  # noqa: E402
from services.audit.log import ENTRIES, SECRETS, Append, idx_key, stored_tree  # noqa: E402
from services.audit.note import Checkpoint, NoteError, parse_note  # noqa: E402
from services.config import service_config  # noqa: E402
from services.contracts import InvalidEvent, decode  # noqa: E402
from services.contracts.topics import TOPICS  # noqa: E402
from services.eventstore import Table, store_env  # noqa: E402
from services.transport import Message, transport_for  # noqa: E402

PAGE = 1000  # live entries read, rebuilt and stored per transaction
PROGRESS_SECONDS = 2.0
SHOWN = 10  # positions listed per kind of difference
WRITER = "replay"
Partition = tuple[str, int]
KINDS = ("missing", "unread", "extra", "duplicate")  # of source positions that do not pair with one entry


class SourceLog(Protocol):
    def partitions(self) -> list[Partition]: ...

    def bounds(self) -> dict[Partition, tuple[int, int]]:
        """The first offset each partition still holds and the one its next message will get."""

    def read(self, topic: str, partition: int, offset: int, limit: int) -> list[Message]:
        """Up to `limit` messages of one partition from `offset` on, in offset order."""

    def close(self) -> None: ...


class EmbeddedLog:
    """The embedded log's topics (one partition each), read through its own reader."""

    def __init__(self, transport: Any, topics: Sequence[str]):
        self.transport, self.topics = transport, list(topics)

    def partitions(self) -> list[Partition]:
        return [(topic, 0) for topic in self.topics]

    def bounds(self) -> dict[Partition, tuple[int, int]]:
        return {partition: (0, end) for partition, end in self.transport.end_offsets(self.topics).items()}

    def read(self, topic: str, partition: int, offset: int, limit: int) -> list[Message]:
        return list(self.transport.read({topic: offset}, limit, 0))

    def close(self) -> None:
        """The transport is the process's shared one."""


class KafkaLog:
    """Kafka's partitions of the topics, read by hand by one consumer (no group, nothing committed): the
    consumer is assigned the one partition being read, at the offset asked for. (Pausing the others instead
    loses pages: kafka-python 3.0 never fetches a partition again once it was paused with a fetch in flight.)"""

    def __init__(self, settings: dict[str, Any], topics: Sequence[str], timeout: float = 10.0):
        """`settings`: the transport's client settings (brokers, TLS, SCRAM login)."""
        from kafka import KafkaConsumer, TopicPartition

        self.timeout = timeout
        self.consumer = KafkaConsumer(**{**settings, "client_id": "relief-replay"}, group_id=None,
                                      enable_auto_commit=False, max_poll_records=PAGE)
        self.tps = {(t, p): TopicPartition(t, p) for t in topics
                    for p in sorted(self.consumer.partitions_for_topic(t) or ())}
        self.current: Any = None

    def partitions(self) -> list[Partition]:
        return list(self.tps)

    def bounds(self) -> dict[Partition, tuple[int, int]]:
        tps = list(self.tps.values())
        begins, ends = self.consumer.beginning_offsets(tps), self.consumer.end_offsets(tps)
        return {key: (begins[tp], ends[tp]) for key, tp in self.tps.items()}

    def read(self, topic: str, partition: int, offset: int, limit: int) -> list[Message]:
        tp = self.tps[(topic, partition)]
        if self.current != tp:
            self.consumer.assign([tp])
            self.current = tp
        self.consumer.seek(tp, offset)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            polled = self.consumer.poll(timeout_ms=500, max_records=limit).get(tp, [])
            records = [r for r in polled if r.offset >= offset]  # not what was fetched before the seek
            if records:
                return [Message(r.topic, r.partition, r.offset, None, r.value) for r in records]
        raise TimeoutError(f"no message of {topic}:{partition} from offset {offset} within {self.timeout:.0f} s")

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def source_log(url: str, topics: Sequence[str]) -> SourceLog:
    transport: Any = transport_for(url)
    if hasattr(transport, "bootstrap"):
        return KafkaLog(transport.client_settings(), topics)
    return EmbeddedLog(transport, topics)


@dataclass
class _Cursor:
    """One partition read forward on demand; what is read and not yet named by an entry waits here."""

    begin: int
    end: int
    next: int
    waiting: dict[int, Message] = field(default_factory=dict)
    gaps: set[int] = field(default_factory=set)  # offsets inside the partition that hold no message


class Sources:
    """Hand out each source message to the one entry that names it."""

    def __init__(self, log: SourceLog, bounds: dict[Partition, tuple[int, int]]):
        self.log = log
        self.cursors = {p: _Cursor(begin, end, begin) for p, (begin, end) in bounds.items()}

    def claim(self, key: str) -> Message | tuple[str, str]:
        """The message at `key` (topic:partition:offset), or why no entry may have it: ("extra" or
        "duplicate", how)."""
        try:
            topic, partition, offset = key.rsplit(":", 2)
            cursor, at = self.cursors.get((topic, int(partition))), int(offset)
        except ValueError:
            return "extra", f"names the source {key!r}, which is no source position"
        if cursor is None:
            return "extra", f"names {key}, a partition of no source topic"
        if at in cursor.waiting:
            return cursor.waiting.pop(at)
        if at < cursor.begin:
            return "extra", f"names {key}, which the source no longer holds (it begins at offset {cursor.begin})"
        if at >= cursor.end or at in cursor.gaps:
            return "extra", f"names {key}, which the source does not hold"
        if at < cursor.next:
            return "duplicate", f"names {key}, as an earlier entry does"
        while at >= cursor.next:
            self._read(topic, int(partition), cursor)
        if at not in cursor.waiting:
            return "extra", f"names {key}, which the source does not hold"
        return cursor.waiting.pop(at)

    def _read(self, topic: str, partition: int, cursor: _Cursor) -> None:
        messages = self.log.read(topic, partition, cursor.next, PAGE)
        for m in messages:
            cursor.gaps.update(range(cursor.next, m.offset))
            cursor.waiting[m.offset] = m
            cursor.next = m.offset + 1
        if not messages:  # a partition that ends early (its end moved back): nothing further to read
            cursor.gaps.update(range(cursor.next, cursor.end))
            cursor.next = cursor.end

    def unnamed(self) -> Iterator[tuple[Partition, int]]:
        """Every source message no entry named, reading each partition to its end."""
        for partition, cursor in self.cursors.items():
            while cursor.next < cursor.end:
                self._read(*partition, cursor)
            yield from ((partition, offset) for offset in sorted(cursor.waiting))


@dataclass
class Report:
    live_size: int = 0
    live_root: bytes = b""
    size: int = 0
    root: bytes = b""
    rederived: int = 0
    erased: int = 0
    differing: int = 0
    first: tuple[int, str] | None = None  # the first differing live index, and how it differs
    positions: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    checkpoint: tuple[int, bool] | None = None  # the newest checkpoint's size, and whether its root matches
    seconds: float = 0.0

    def differ(self, index: int, how: str) -> None:
        self.differing += 1
        if self.first is None or index < self.first[0]:
            self.first = (index, how)

    @property
    def ok(self) -> bool:
        return (not self.differing and not any(self.positions.values()) and self.size == self.live_size
                and self.root == self.live_root and (self.checkpoint is None or self.checkpoint[1]))

    def lines(self) -> list[str]:
        rate = self.size / self.seconds if self.seconds else 0.0
        out = [f"replayed {self.size:,} of the live trail's {self.live_size:,} entries in {self.seconds:.1f} s "
               f"({rate:,.0f} entries/s)",
               f"personal values: {self.rederived:,} re-derived from their source, {self.erased:,} erased, "
               f"not re-derived",
               f"root at size {self.size}: {base64.b64encode(self.root).decode()} (hex {self.root.hex()})"]
        if self.first is not None:
            out.append(f"FAIL {self.differing:,} entries differ; the first is entry {self.first[0]}: {self.first[1]}")
        for kind, what in (("missing", "source messages no entry names"),
                           ("unread", "source messages after the positions the sequencer recorded (not read yet)"),
                           ("extra", "entries naming a source position the source does not hold"),
                           ("duplicate", "entries naming a source position an earlier entry names")):
            found = self.positions[kind]
            if found:
                more = f" and {len(found) - SHOWN:,} more" if len(found) > SHOWN else ""
                out.append(f"FAIL {len(found):,} {what}: {', '.join(found[:SHOWN])}{more}")
        if self.size == self.live_size:
            out.append(("ok: equal to" if self.root == self.live_root else "FAIL differs from")
                       + f" the live root at size {self.live_size}")
        else:
            out.append(f"FAIL the replay has {self.size:,} entries, the live trail {self.live_size:,}")
        if self.checkpoint is not None:
            size, same = self.checkpoint
            out.append(("ok: equal to" if same else "FAIL differs from") + f" the signed checkpoint of size {size}")
        return out


def replay(live: Trail, log: SourceLog, into: Trail, progress: Callable[[int, int], None] = lambda done, total: None,
           ) -> Report:
    """Rebuild `live` from `log` into the empty trail `into`, and say how they compare."""
    if into.head().size:
        raise ValueError(f"the replay's store already holds {into.head().size:,} entries: give it a fresh one")
    started = time.monotonic()
    recorded = {p: live.position(f"{p[0]}:{p[1]}") for p in log.partitions()}  # read before the head: never past it
    head, latest = live.head(), live.latest_checkpoint_row()
    sources = Sources(log, log.bounds())  # read after the head: every entry's source is inside the bounds
    report = Report(live_size=head.size, live_root=head.root)
    consumed: dict[str, int] = {}
    done = 0
    while done < head.size:
        rows = [r for r in live.select_rows(ENTRIES, after=idx_key(done - 1) if done else None, limit=PAGE)
                if int(r["idx"]) < head.size]
        _page(live, into, sources, rows, consumed, report)
        done = int(rows[-1]["idx"]) + 1 if rows else head.size
        progress(done, head.size)
    for (topic, partition), offset in sources.unnamed():
        last = recorded.get((topic, partition))
        kind = "unread" if last is None or offset > last else "missing"
        report.positions[kind].append(f"{topic}:{partition}:{offset}")
    rebuilt = into.head()
    report.size, report.root = rebuilt.size, rebuilt.root
    if latest is not None and int(latest["size"]) <= rebuilt.size:
        size = int(latest["size"])
        rebuilt_root = stored_tree(into.select_rows, rebuilt.size).root_at(size)
        report.checkpoint = (size, _note_root(latest["note"]) == rebuilt_root)
    report.seconds = time.monotonic() - started
    return report


@dataclass
class _Rebuilt:
    """One live entry and what its source makes of it (`index`: where the replay appended it)."""

    row: dict[str, Any]
    message: Message
    case_id: str | None
    federation: str | None
    event: dict[str, Any]
    problem: str | None  # why it may differ from the live entry, if that is known before comparing
    index: int | None = None


def _page(live: Trail, into: Trail, sources: Sources, rows: list[dict[str, Any]], consumed: dict[str, int],
          report: Report) -> None:
    """Rebuild one page of live entries as one batch in the replay's store, and compare each with its rebuild."""
    entries = [_json(r["entry"]) for r in rows]
    salts = {r["commitment"]: bytes.fromhex(r["salt"])
             for r in _select_keys(live, SECRETS, sorted({c for e in entries for c in _commitments(e)}))}
    built: list[_Rebuilt] = []
    for row, entry in zip(rows, entries, strict=True):
        found = sources.claim(row["source"])
        if isinstance(found, tuple):
            kind, how = found
            report.differ(int(row["idx"]), how)
            report.positions[kind].append(row["source"])
            continue
        built.append(_Rebuilt(row, found, *_rebuild(found, entry, salts, report)))
    append = Append.start(into.select_rows, (b.case_id or "" for b in built), WRITER)
    before = dict(consumed)
    for b in built:
        try:
            b.index = append.add(b.case_id, b.federation, Source(b.message.topic, b.message.partition,
                                                                 b.message.offset), b.event)
        except EntryTooLarge as exc:
            b.problem = str(exc)
        name = f"{b.message.topic}:{b.message.partition}"
        consumed[name] = max(consumed.get(name, -1), b.message.offset)
    into.store(append, {name: offset for name, offset in consumed.items() if offset > before.get(name, -1)})
    mine = {r["idx"]: r for r in _select_keys(into, ENTRIES, [idx_key(b.index) for b in built if b.index is not None])}
    for b in built:
        rebuilt = mine.get(idx_key(b.index)) if b.index is not None else None
        if rebuilt is None or (rebuilt["entry"], rebuilt["leaf"]) != (b.row["entry"], b.row["leaf"]):
            what = "its leaf hash is not its bytes' hash" if rebuilt and rebuilt["entry"] == b.row["entry"] else \
                "its bytes differ from the entry rebuilt from its source"
            report.differ(int(b.row["idx"]), f"{what} ({b.row['source']})" + (f": {b.problem}" if b.problem else ""))


def _rebuild(message: Message, entry: Any, salts: Mapping[str, bytes], report: Report,
             ) -> tuple[str | None, str | None, dict[str, Any], str | None]:
    """(case id, federation, sealed event, why it may differ) of the entry for one source message."""
    live = entry.get("event") if isinstance(entry, dict) else None
    live = live if isinstance(live, dict) else {}
    rejected = live.get("type") == "SourceRejected"
    try:
        envelope = decode(message.value)
    except InvalidEvent as exc:
        reason = live["reason"] if rejected and isinstance(live.get("reason"), str) else exc.reason
        return None, None, rejected_event(message.value, reason), None if rejected else "today's contracts refuse it"
    sealed, secrets = seal(envelope.to_dict())
    opened = {s.commitment: s.value.encode() for s in secrets}
    unmatched: list[str] = []

    def walk(node: Any, kept: Any, path: str) -> Any:
        if isinstance(node, dict):
            if node.keys() == {"commitment"} and node["commitment"] in opened:
                theirs = kept.get("commitment") if isinstance(kept, dict) and kept.keys() == {"commitment"} else None
                if isinstance(theirs, str) and theirs not in salts:
                    report.erased += 1
                    return {"commitment": theirs}
                if isinstance(theirs, str) and commitment(salts[theirs], opened[node["commitment"]]) == theirs:
                    report.rederived += 1
                    return {"commitment": theirs}
                unmatched.append(path)
                return node
            return {k: walk(v, kept.get(k) if isinstance(kept, dict) else None, f"{path}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, kept[i] if isinstance(kept, list) and i < len(kept) else None, f"{path}[{i}]")
                    for i, v in enumerate(node)]
        return node

    event = walk(sealed, live, "event")
    problem = "the live entry is SourceRejected, but today's contracts accept its source" if rejected else (
        f"the personal value at {', '.join(unmatched)} is not the source's" if unmatched else None)
    return envelope.case_id, envelope.federation, event, problem


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _commitments(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.keys() == {"commitment"} and isinstance(node["commitment"], str):
            yield node["commitment"]
        for value in node.values():
            yield from _commitments(value)
    elif isinstance(node, list):
        for value in node:
            yield from _commitments(value)


def _select_keys(trail: Trail, table: Table, keys: Sequence[str], chunk: int = 5000) -> list[dict[str, Any]]:
    """Rows by key, a few thousand keys per query (SQLite's limit on parameters)."""
    return [row for i in range(0, len(keys), chunk) for row in trail.select_rows(table, keys=list(keys[i:i + chunk]))]


def _note_root(note: str) -> bytes | None:
    try:
        return Checkpoint.parse(parse_note(note).text).root
    except NoteError:
        return None


class Progress:
    """A line on stderr every PROGRESS_SECONDS: entries done of all, and entries per second."""

    def __init__(self) -> None:
        self.started = self.shown = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown >= PROGRESS_SECONDS or done == total:
            self.shown = now
            rate = done / (now - self.started) if now > self.started else 0.0
            print(f"replay: {done:,}/{total:,} entries, {rate:,.0f} entries/s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    config = service_config("audit")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=config["STORE_URL"], help="the live trail's store (RELIEF_AUDIT_STORE)")
    parser.add_argument("--transport", default=config["TRANSPORT_URL"], help="the source topics (RELIEF_TRANSPORT)")
    parser.add_argument("--into", help="a fresh store for the rebuilt trail (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="relief-replay-") as scratch, contextlib.ExitStack() as opened:
        try:
            live = opened.enter_context(contextlib.closing(Trail(store_env(args.store, config["CIPHER_KEY"]))))
            into = opened.enter_context(contextlib.closing(Trail(store_env(args.into or f"sqlite:///{scratch}/replay.db"))))
            log = opened.enter_context(contextlib.closing(source_log(args.transport, sorted(TOPICS.values()))))
        except Exception as problem:
            print(f"cannot open the trail's stores or the transport: {type(problem).__name__}: {problem}",
                  file=sys.stderr)
            return 2
        try:
            report = replay(live, log, into, Progress())
        except (ValueError, TimeoutError) as problem:
            print(f"cannot replay: {problem}", file=sys.stderr)
            return 2
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
