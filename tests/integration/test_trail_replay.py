"""`make replay`: the trail rebuilt from its source topics has the live root, the same every time, also after an
erasure; a source message the trail lacks, an entry with no source, a second entry for one source, a changed
byte of an entry and a personal value that is not the source's each fail it, named."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.audit.application import Trail
from services.audit.entries import Source
from services.audit.log import ENTRIES, SECRETS
from services.audit.replay import PAGE, EmbeddedLog, KafkaLog, main, replay
from services.audit.sequencer import Sequencer
from services.contracts import InvalidEvent, decode, encode
from services.contracts.topics import TOPICS
from services.eventstore import Put, store_env
from services.transport import Message
from services.transport.embedded import EmbeddedTransport
from services.transport.kafka import KafkaTransport
from tests.backends import TEST_CIPHER_KEY
from tests.harness.kafka_broker import create_topics
from tests.trail_flows import SIGNER, SPOUSE_DIGEST, WORKER, filed, opened

INTAKE, PAIRING, AID = TOPICS["intake"], TOPICS["pairing"], TOPICS["aid"]
SOURCES = sorted(TOPICS.values())
PERSONAL_VALUES = 9  # in one CaseOpened of tests.trail_flows: the worker's 4, the spouse's 5 (under her digest)


def messages(a: str, b: str, topics: Sequence[str] = (INTAKE, PAIRING, AID)) -> list[tuple[str, str, bytes]]:
    """Seven messages over the three topics, two with personal data and one that is no event."""
    intake, pairing, aid = topics
    return [(intake, a, encode(opened(a))), (intake, b, encode(opened(b))), (pairing, a, encode(filed(a))),
            (intake, "junk", b"\xffnot an event"), (aid, a, encode(filed(a))), (intake, a, encode(filed(a))),
            (aid, b, encode(filed(b)))]


def publish(transport, items: list[tuple[str, str, bytes]]) -> None:
    publisher = transport.publisher()
    for topic, key, value in items:
        publisher.publish(topic, key, value)
    publisher.flush()
    publisher.close()


def sequence(trail: Trail, transport, expected: int, topics: Sequence[str] = SOURCES, group: str = "audit") -> None:
    """Append what the topics hold as the audit service does: the sequencer's own append, poll by poll."""
    sequencer = Sequencer()
    sequencer.replica = "sequencer-1"
    subscription = transport.subscribe(group, list(topics), lambda t, p: trail.position(f"{t}:{p}"))
    dead_letters = transport.publisher()
    deadline = time.monotonic() + 30
    try:
        while trail.head().size < expected and time.monotonic() < deadline:
            polled = list(subscription.poll(0.5))
            if polled:
                sequencer._append(trail, polled, dead_letters)
    finally:
        subscription.close()
        dead_letters.close()
    assert trail.head().size == expected


@pytest.fixture
def bus(tmp_path):
    transport = EmbeddedTransport(str(tmp_path / "bus.db"))
    yield transport
    transport.close()


@pytest.fixture
def live(trail, bus):
    """The trail of seven messages, checkpointed; the id of the case whose spouse has personal data."""
    a = str(uuid.uuid4())
    publish(bus, messages(a, str(uuid.uuid4())))
    sequence(trail, bus, 7)
    assert trail.checkpoint_if_due(SIGNER, 1, 10) is not None
    return a


def fresh() -> Trail:
    return Trail(store_env("memory://"))


def test_a_replay_rebuilds_the_live_root_and_the_same_root_twice(trail, bus, live):
    first, second = replay(trail, EmbeddedLog(bus, SOURCES), fresh()), replay(trail, EmbeddedLog(bus, SOURCES), fresh())
    assert first.ok, first.lines()
    assert (first.size, first.root) == (second.size, second.root) == (7, trail.head().root)
    assert (first.rederived, first.erased, first.checkpoint) == (2 * PERSONAL_VALUES, 0, (7, True))
    assert "ok: equal to the live root at size 7" in first.lines()


def test_after_a_person_is_erased_the_replay_still_matches_and_counts_what_it_could_not_rederive(trail, bus, live):
    assert trail.erase(live, SPOUSE_DIGEST) == 5
    report = replay(trail, EmbeddedLog(bus, SOURCES), fresh())
    assert report.ok, report.lines()
    assert (report.rederived, report.erased, report.root) == (2 * PERSONAL_VALUES - 5, 5, trail.head().root)
    assert "personal values: 13 re-derived from their source, 5 erased, not re-derived" in report.lines()


def item(m: Message) -> tuple[Source, bytes | None, object, str | None]:
    try:
        return Source(m.topic, m.partition, m.offset), m.value, decode(m.value), None
    except InvalidEvent as exc:
        return Source(m.topic, m.partition, m.offset), m.value, None, exc.reason


def test_a_source_message_the_trail_lacks_fails_though_the_roots_agree(trail, bus):
    publish(bus, messages(str(uuid.uuid4()), str(uuid.uuid4())))
    polled = bus.read({topic: 0 for topic in SOURCES}, 100, 0)
    batch = trail.append([item(m) for m in polled if (m.topic, m.offset) != (INTAKE, 1)], "writer-1")
    trail.store(batch, {f"{topic}:0": max(m.offset for m in polled if m.topic == topic) for topic in SOURCES})
    report = replay(trail, EmbeddedLog(bus, SOURCES), fresh())
    assert not report.ok and report.root == trail.head().root and report.size == 6
    assert report.positions == {"missing": [f"{INTAKE}:0:1"], "unread": [], "extra": [], "duplicate": []}
    assert f"FAIL 1 source messages no entry names: {INTAKE}:0:1" in report.lines()


def cli(tmp_path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["--store", f"sqlite:///{tmp_path}/audit.db", "--transport", f"embedded:///{tmp_path}/bus.db",
                 *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def stored(tmp_path, bus):
    """The live trail in sqlite:///<tmp>/audit.db (as `make run` keeps it) over the bus; the trail and a case."""
    trail = Trail(store_env(f"sqlite:///{tmp_path}/audit.db", TEST_CIPHER_KEY))
    a = str(uuid.uuid4())
    publish(bus, messages(a, str(uuid.uuid4())))
    sequence(trail, bus, 7)
    trail.checkpoint_if_due(SIGNER, 1, 10)
    yield trail, a
    trail.close()


def test_make_replay_reads_both_from_the_environment_of_make_run_and_prints_the_root(tmp_path, stored, capsys,
                                                                                    monkeypatch):
    trail, _ = stored
    monkeypatch.setenv("RELIEF_DATA_DIR", str(tmp_path))  # var/audit.db and var/bus.db under it
    monkeypatch.setenv("RELIEF_CIPHER_KEY", TEST_CIPHER_KEY)
    into = tmp_path / "rebuilt.db"
    assert main(["--into", f"sqlite:///{into}"]) == 0
    out, err = capsys.readouterr()
    root = trail.head().root
    assert "replay: 7/7 entries" in err and "entries/s" in err
    assert f"root at size 7: {base64.b64encode(root).decode()} (hex {root.hex()})" in out
    assert "ok: equal to the live root at size 7" in out and "ok: equal to the signed checkpoint of size 7" in out
    assert "personal values: 18 re-derived from their source, 0 erased, not re-derived" in out
    assert WORKER.encode() not in into.read_bytes()  # the rebuilt store keeps no personal values
    rebuilt = Trail(store_env(f"sqlite:///{into}"))
    assert rebuilt.head().root == root and rebuilt.position(f"{INTAKE}:0") == 3
    rebuilt.close()
    assert cli(tmp_path, capsys, "--into", f"sqlite:///{into}")[0] == 2  # a store that is not fresh


def test_an_entry_whose_source_does_not_exist_fails_and_is_named(tmp_path, stored, capsys):
    trail, a = stored
    trail.store(trail.append([(Source(INTAKE, 0, 99), None, filed(a), None)], "writer-1"), {f"{INTAKE}:0": 99})
    code, out, _ = cli(tmp_path, capsys)
    assert code == 1
    assert f"FAIL 1 entries naming a source position the source does not hold: {INTAKE}:0:99" in out
    assert f"the first is entry 7: names {INTAKE}:0:99, which the source does not hold" in out
    assert "FAIL the replay has 7 entries, the live trail 8" in out


def test_a_second_entry_for_one_source_message_fails_and_is_named(tmp_path, stored, bus, capsys):
    trail, _ = stored
    [first] = bus.read({INTAKE: 0}, 1, 0)
    trail.store(trail.append([item(first)], "writer-1"), {})
    code, out, _ = cli(tmp_path, capsys)
    assert code == 1
    assert f"FAIL 1 entries naming a source position an earlier entry names: {INTAKE}:0:0" in out
    assert f"the first is entry 7: names {INTAKE}:0:0, as an earlier entry does" in out


def test_a_message_published_after_the_sequencer_read_fails_as_not_read_yet(tmp_path, stored, bus, capsys):
    publish(bus, [(AID, "late", encode(filed(str(uuid.uuid4()))))])
    code, out, _ = cli(tmp_path, capsys)
    assert code == 1 and f"(not read yet): {AID}:0:2" in out and "ok: equal to the live root at size 7" in out


def test_a_changed_byte_of_an_entry_in_the_live_store_fails_at_that_entry(tmp_path, stored, capsys):
    trail, _ = stored
    row = next(r for r in trail.select_rows(ENTRIES) if '"CaseFiled"' in r["entry"])
    trail.commit([], [Put(ENTRIES, {**row, "entry": row["entry"].replace("CaseFiled", "CaseFilee")})], [])
    code, out, _ = cli(tmp_path, capsys)
    assert code == 1 and "ok: equal to the live root at size 7" in out  # the tree's nodes were left as they were
    assert (f"FAIL 1 entries differ; the first is entry {int(row['idx'])}: its bytes differ from the entry rebuilt "
            f"from its source ({row['source']})") in out


def test_a_personal_value_that_is_not_the_sources_fails_and_says_where_it_is(tmp_path, stored, capsys):
    trail, _ = stored
    [index] = [int(r["idx"]) for r in trail.select_rows(ENTRIES, equal={"source": f"{INTAKE}:0:0"})]
    with sqlite3.connect(tmp_path / "bus.db") as db:  # the source's first message names another worker
        (value,) = db.execute("SELECT value FROM log WHERE topic = ? AND offset = 0", (INTAKE,)).fetchone()
        changed = json.loads(value)
        changed["payload"]["worker"]["name"] = "李四"
        db.execute("UPDATE log SET value = ? WHERE topic = ? AND offset = 0", (json.dumps(changed).encode(), INTAKE))
    code, out, _ = cli(tmp_path, capsys)
    assert code == 1
    assert (f"FAIL 3 entries differ; the first is entry {index}: its bytes differ from the entry rebuilt from its "
            f"source ({INTAKE}:0:0): the personal value at event.payload.worker.name is not the source's") in out
    assert "FAIL differs from the live root at size 7" in out  # and the case's two later entries chain on from it
    assert WORKER not in out and "李四" not in out


def test_a_kept_salt_that_no_longer_opens_its_commitment_fails(tmp_path, stored, capsys):
    trail, a = stored
    [kept] = [r for r in trail.select_rows(SECRETS, equal={"case_id": a}) if r["value"] == f'"{WORKER}"']
    trail.commit([], [Put(SECRETS, {**kept, "salt": "00" * 16})], [])
    code, out, _ = cli(tmp_path, capsys)
    assert code == 1 and "the personal value at event.payload.worker.name is not the source's" in out


@pytest.mark.kafka
def test_a_trail_read_from_kafka_replays_from_kafka_to_the_same_root(kafka):
    prefix = f"test.replay.{uuid.uuid4().hex[:8]}"
    topics = [f"{prefix}.intake", f"{prefix}.pairing", f"{prefix}.aid"]
    create_topics(kafka, topics, partitions=3)
    transport = KafkaTransport(kafka)
    items = [m for n in range(4) for m in messages(str(uuid.uuid4()), str(uuid.uuid4()), topics)]
    publish(transport, items)
    trail = fresh()
    sequence(trail, transport, len(items), topics, group=f"audit-{prefix}")
    log = KafkaLog(transport.client_settings(), topics)
    try:
        report = replay(trail, log, fresh())
        assert report.ok, report.lines()
        assert (report.size, report.root, report.rederived) == (28, trail.head().root, 8 * PERSONAL_VALUES)
        assert len(log.partitions()) == 9
    finally:
        log.close()


@pytest.mark.kafka
def test_kafka_partitions_longer_than_a_page_are_read_to_their_end_in_turn(kafka):
    """Found by the province benchmark: a partition's second page (from offset PAGE on) never came."""
    prefix = f"test.replay-pages.{uuid.uuid4().hex[:8]}"
    topics = [f"{prefix}.a", f"{prefix}.b"]
    create_topics(kafka, topics, partitions=1)
    transport = KafkaTransport(kafka)
    publisher = transport.publisher()
    for n in range(2 * (2 * PAGE + 300)):
        publisher.publish(topics[n % 2], f"key-{n % 7}", f"message {n}".encode())
    publisher.flush()
    publisher.close()
    log = KafkaLog(transport.client_settings(), topics)
    try:
        bounds = log.bounds()
        assert [end - begin for begin, end in bounds.values()] == [2 * PAGE + 300] * 2
        for _ in range(2):  # the partitions read a page at a time in turn, as a replay in the trail's order does
            at = {key: begin for key, (begin, _) in bounds.items()}
            offsets: dict[tuple[str, int], list[int]] = {key: [] for key in bounds}
            while any(at[key] < bounds[key][1] for key in bounds):
                for key in sorted(bounds):
                    if at[key] < bounds[key][1]:
                        page = log.read(*key, at[key], PAGE)
                        offsets[key] += [m.offset for m in page]
                        at[key] = page[-1].offset + 1
            assert offsets == {key: list(range(begin, end)) for key, (begin, end) in bounds.items()}
    finally:
        log.close()
