"""Tampering with the trail's store itself (SQL on SQLite and PostgreSQL) is caught by both verifiers.

A real trail of 640 entries over 40 cases is built as the sequencer builds it (Trail.append and store), an
auditor keeps its checkpoint at size 400, the newest is signed at 640, and the audit HTTP service serves the
store. Each test first checks that the untouched log verifies, then changes the tables with SQL as someone
with access to the database would, and runs both of the auditor's tools against what the service then
serves: the Go client (golang.org/x/mod/sumdb, tests/interop/tlogclient) with the trusted key and the saved
checkpoint, and `make verify` (services/audit/verify.py) on the audited case's bundle. Each must fail and
say what is wrong.

The audited case has entries 3, 43, 83, …, 603 (one every 40); the tampered entries are its 6th and 7th
(indexes 203 and 243), so that both tools have something to check: the Go client checks every entry of the
log against the hash tiles, `make verify` only the bundle's case (a change to another case's entry is caught
by the Go client alone).
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from services.audit.application import Trail
from services.audit.log import idx_key, node_key, stored_tree
from services.audit.note import Signer, generate_key, sign_note
from services.config import DEV_JWT_SECRET, service_config
from services.eventstore import store_env
from services.web.auth import issue_token
from tests.backends import TEST_CIPHER_KEY
from tests.e2e.flows import wait_for
from tests.harness.postgres import free_port
from tests.trail_flows import append, filed, opened

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "test.relief/audit-tamper"
SIGNING_KEY, TRUSTED_KEY = generate_key(ORIGIN)
SIGNER = Signer.parse(SIGNING_KEY)
CASES, BATCH, BATCHES = 40, 80, 8  # 640 entries: two full tiles and a partial one on level 0
SAVED = 400  # the size of the checkpoint the auditor keeps
AUDITED = 3  # the audited case's first entry; it has one every CASES entries
SIXTH, SEVENTH = AUDITED + 5 * CASES, AUDITED + 6 * CASES  # 203 and 243
TRUNCATED, FORGED = 300, 400  # (d): back to 300 entries, then 400 others: 700 > SAVED
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class World:
    trail: Trail
    cases: list[str]
    saved: str  # the checkpoint at SAVED, as the auditor kept it

    @property
    def audited(self) -> str:
        return self.cases[AUDITED]


class Store:
    """The store's database reached past the application, as someone with SQL access would."""

    def __init__(self, url: str):
        self.url = url

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in one transaction, committed at the end; `?` placeholders on both databases."""
        if self.url.startswith("sqlite"):
            conn: Any = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=10)
            mark = "?"
        else:
            conn, mark = psycopg.connect(self.url), "%s"
        try:
            cursor = conn.cursor()
            yield _Cursor(cursor, mark)
            conn.commit()
        finally:
            conn.close()

    def run(self, sql: str, *params: Any) -> None:
        with self.transaction() as cursor:
            cursor.execute(sql, params)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self.transaction() as cursor:
            return cursor.execute(sql, params)


class _Cursor:
    def __init__(self, cursor: Any, mark: str):
        self.cursor, self.mark = cursor, mark

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql.replace("?", self.mark), params)
        return list(self.cursor.fetchall()) if self.cursor.description else []


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path}/audit.db")
    cluster = request.getfixturevalue("postgres")
    return Store(f"postgresql://{cluster.user}:{cluster.password}@{cluster.host}:{cluster.port}/"
                 f"{cluster.create_database()}")


@pytest.fixture
def world(store) -> Iterator[World]:
    """640 entries in 8 batches (a rejected message among them), checkpoints signed at SAVED and at 640."""
    trail = Trail(store_env(store.url, cipher_key=TEST_CIPHER_KEY))
    cases = [str(uuid.uuid4()) for _ in range(CASES)]
    items: list[tuple[Any, bytes | None]] = [
        (opened(cases[n]) if n < CASES else filed(cases[n % CASES]), None) for n in range(BATCH * BATCHES)]
    items[100] = (None, b"\x00 not an event")  # another case's place: kept as SourceRejected
    saved = None
    for b in range(BATCHES):
        append(trail, items[b * BATCH:(b + 1) * BATCH], first_offset=b * BATCH)
        if (b + 1) * BATCH == SAVED:
            saved = trail.checkpoint_if_due(SIGNER, 1, 0)
    assert saved is not None and trail.checkpoint_if_due(SIGNER, 1, 0) is not None
    yield World(trail, cases, saved)
    trail.close()


@dataclass
class Served:
    url: str
    token: str  # an auditor's

    def bundle(self, case_id: str, since: int) -> str:
        answer = requests.get(f"{self.url}/cases/{case_id}/bundle", params={"since": since},
                              headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.text


@pytest.fixture
def served(store, world, tmp_path) -> Iterator[Served]:
    """The audit HTTP service (its sequencer idle: nothing is published) on the world's store, in this process."""
    from nameko.containers import ServiceContainer

    from services.audit.service import AuditService
    from services.transport.factory import forget

    address = f"127.0.0.1:{free_port()}"
    config = service_config("audit", {
        "RELIEF_DATA_DIR": str(tmp_path), "RELIEF_AUDIT_ADDRESS": address, "RELIEF_AUDIT_STORE": store.url,
        "RELIEF_AUDIT_CIPHER_KEY": TEST_CIPHER_KEY, "RELIEF_AUDIT_SIGNING_KEY": SIGNING_KEY,
        "RELIEF_AUDIT_CHECKPOINT_ENTRIES": "1000000", "RELIEF_AUDIT_CHECKPOINT_SECONDS": "3600"})
    container = ServiceContainer(AuditService, config)
    container.start()
    url = f"http://{address}"
    try:
        wait_for(lambda: _answers(url), 20, "the audit service answering")
        yield Served(url, issue_token(DEV_JWT_SECRET, "shen", "auditor", "gs"))
    finally:
        container.stop()
        forget(config["TRANSPORT_URL"])


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=1).ok
    except requests.RequestException:  # not listening yet, or too busy starting to answer
        return False


def go(tlogclient: Path, served: Served, world: World, tmp: Path) -> subprocess.CompletedProcess[str]:
    """The Go client: signature, every tile and entry, inclusion of the audited entries, consistency with SAVED."""
    (tmp / "saved").write_text(world.saved, encoding="utf-8")
    return subprocess.run([str(tlogclient), "-url", served.url + "/log", "-key", TRUSTED_KEY, "-token", served.token,
                           "-saved", str(tmp / "saved"), "-check-entries", "-inclusion", f"{SIXTH},{SEVENTH}"],
                          capture_output=True, text=True, timeout=120)


def verify(served: Served, world: World, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`make verify BUNDLE=… KEY=<trusted> SAVED=…` on the audited case's bundle, asked since SAVED."""
    (tmp / "bundle.json").write_text(served.bundle(world.audited, SAVED), encoding="utf-8")
    (tmp / "saved").write_text(world.saved, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "services.audit.verify", str(tmp / "bundle.json"),
                           "--key", TRUSTED_KEY, "--saved", str(tmp / "saved")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def both_verify(tlogclient: Path, served: Served, world: World, tmp: Path) -> None:
    """Before the tampering: the log as written passes both tools."""
    client, offline = go(tlogclient, served, world, tmp), verify(served, world, tmp)
    assert client.returncode == 0, client.stdout + client.stderr
    assert offline.returncode == 0 and "consistent with the saved checkpoint" in offline.stdout, offline.stdout


def failures(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1, result.stdout + result.stderr
    found = [line for line in result.stdout.splitlines() if line.startswith("FAIL ")]
    assert found, result.stdout
    return found


def has(lines: list[str], *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in lines)


@pytest.fixture
def checked(tlogclient, served, world, tmp_path):
    """Both tools pass the log as written; then a call that runs them again (after the tampering) and gives each
    one's FAIL lines, having checked that each failed."""
    both_verify(tlogclient, served, world, tmp_path)
    return lambda: (failures(go(tlogclient, served, world, tmp_path)), failures(verify(served, world, tmp_path)))


# (a) Go: the entry no longer hashes to its leaf in the level-0 hash tile. make verify: the entry's bytes no
# longer hash to the leaf hash beside it (and the tree still holds the old leaf).
def test_one_changed_byte_of_an_entry_fails_both(store, checked):
    [(entry,)] = store.rows("SELECT entry FROM trail_entries WHERE idx = ?", idx_key(SIXTH))
    assert entry.count('"CaseFiled"') == 1
    store.run("UPDATE trail_entries SET entry = ? WHERE idx = ?", entry.replace('"CaseFiled"', '"CaseFilee"'),
              idx_key(SIXTH))
    client, offline = checked()
    print("\n".join(["Go client:", *client, "make verify:", *offline]))
    assert has(client, "FAIL entry bundles:", f"entry {SIXTH} (item {SIXTH} of tile/entries/000) hashes to",
               "but hash tile tile/0/000 has")
    assert has(client, f"FAIL inclusion {SIXTH}:", "is not in the tree of size 640")
    assert offline == [f"FAIL entry {SIXTH}: its bytes do not hash to its leaf hash",
                       f"FAIL entry {SIXTH}: not included in the checkpoint's tree at that index",
                       f"FAIL entry {SEVENTH}: does not chain to the case's previous entry"]


# (b) Go: entry 203's place serves entry 243's bytes, which do not hash to the tile's leaf 203. make verify:
# the rows at 203 and 243 are not included at those indexes, say other indexes, and break the case's order.
def test_two_entries_swapped_in_the_store_fail_both(store, checked):
    with store.transaction() as cursor:  # swap the two rows' keys, each keeping its bytes and leaf hash
        cursor.execute("UPDATE trail_entries SET idx = ? WHERE idx = ?", ("swapping", idx_key(SIXTH)))
        cursor.execute("UPDATE trail_entries SET idx = ? WHERE idx = ?", (idx_key(SIXTH), idx_key(SEVENTH)))
        cursor.execute("UPDATE trail_entries SET idx = ? WHERE idx = ?", (idx_key(SEVENTH), "swapping"))
    client, offline = checked()
    print("\n".join(["Go client:", *client, "make verify:", *offline]))
    assert has(client, "FAIL entry bundles:", f"entry {SIXTH} (item {SIXTH} of tile/entries/000) hashes to")
    assert has(client, f"FAIL inclusion {SIXTH}:") and has(client, f"FAIL inclusion {SEVENTH}:")
    for index, other in ((SIXTH, SEVENTH), (SEVENTH, SIXTH)):
        assert f"FAIL entry {index}: not included in the checkpoint's tree at that index" in offline
        assert f"FAIL entry {index}: the entry says it is index {other}" in offline
    assert f"FAIL entry {SIXTH}: case entry 7 where 6 comes next (a gap or a reorder)" in offline
    assert f"FAIL entry {SIXTH}: does not chain to the case's previous entry" in offline


# (c) Go: the log no longer serves the entry bundle that held it (404 for tile/entries/000), so neither the
# entries nor the inclusion of 203 can be shown. make verify: the case's chain has a gap (6 is missing).
# Deleting a case's *newest* entry would leave its chain whole: only the Go client would see it.
def test_an_entry_deleted_from_the_store_fails_both(store, checked):
    store.run("DELETE FROM trail_entries WHERE idx = ?", idx_key(SIXTH))
    client, offline = checked()
    print("\n".join(["Go client:", *client, "make verify:", *offline]))
    assert has(client, "FAIL entry bundles:", "tile/entries/000", "not found (404)")
    assert has(client, f"FAIL inclusion {SIXTH}:", "tile/entries/000", "not found (404)")
    assert f"FAIL entry {SEVENTH}: case entry 7 where 6 comes next (a gap or a reorder)" in offline
    assert f"FAIL entry {SEVENTH}: does not chain to the case's previous entry" in offline


# (d) A careful forger: the log cut back to 300 entries (entries, nodes, case heads, batches, checkpoints and
# the head), 400 other entries appended and a checkpoint of 700 signed with the log's own key. Every entry,
# tile, chain and signature holds; only the checkpoint the auditor kept shows it: both tools find that the
# log of 700 does not extend the saved 400.
def test_a_log_truncated_and_appended_again_fails_consistency_in_both(store, world, checked):
    truncate(store, world.trail, TRUNCATED)
    forged: list[tuple[Any, bytes | None]] = [(filed(world.cases[n % CASES]), None) for n in range(FORGED)]
    append(world.trail, forged, topic="relief.intake.case-events", first_offset=10_000)
    assert world.trail.checkpoint_if_due(SIGNER, 1, 0) is not None
    assert world.trail.latest_checkpoint()[0] == TRUNCATED + FORGED
    client, offline = checked()
    print("\n".join(["Go client:", *client, "make verify:", *offline]))
    assert len(client) == 1 and has(client, "FAIL consistency:", f"the tree of size {TRUNCATED + FORGED} does not "
                                    f"extend the saved tree of size {SAVED} with root {world.saved.splitlines()[2]}",
                                    "(the log forked)")
    assert offline == [f"FAIL saved checkpoint: the log of size {TRUNCATED + FORGED} is not an extension of the "
                       "saved one"]


# (e) Go: the checkpoint carries no signature by the trusted key, and nothing else is checked. make verify:
# the same, before anything else (the bundle names the service's key, but KEY= is the one trusted).
def test_the_newest_checkpoint_re_signed_with_another_key_fails_both(store, checked):
    impostor = Signer(ORIGIN, hashlib.sha256(b"impostor").digest())
    [(note,)] = store.rows("SELECT note FROM trail_checkpoints WHERE size = ?", idx_key(BATCH * BATCHES))
    forged = sign_note(note.split("\n\n")[0] + "\n", impostor)
    store.run("UPDATE trail_checkpoints SET note = ? WHERE size = ?", forged, idx_key(BATCH * BATCHES))
    client, offline = checked()
    print("\n".join(["Go client:", *client, "make verify:", *offline]))
    trusted = SIGNER.verifier
    assert client == [f"FAIL checkpoint: no signature by the trusted key {ORIGIN}+{trusted.key_id:08x} (signed only "
                      f"by {ORIGIN}+{impostor.verifier.key_id:08x})"]
    assert offline == [f"FAIL checkpoint: not signed by the trusted key: note is not signed by key "
                       f"{ORIGIN}+{trusted.key_id:08x} (signed by {ORIGIN}+{impostor.verifier.key_id:08x})"]


def truncate(store: Store, trail: Trail, size: int) -> None:
    """Cut the log back to `size` entries in one transaction, leaving it self-consistent at that size."""
    root = stored_tree(trail.select_rows, trail.head().size).root_at(size)
    kept = store.rows("SELECT case_id, case_seq, leaf FROM trail_entries WHERE idx < ? AND case_id <> '' "
                      "ORDER BY idx", idx_key(size))
    federations = dict(store.rows("SELECT case_id, federation FROM trail_cases"))
    heads = {case_id: (seq, leaf) for case_id, seq, leaf in kept}  # each case's last entry below `size`
    covering = [key for (key,) in store.rows("SELECT node FROM trail_nodes")
                if (int(key[3:]) + 1) << int(key[:2]) > size]  # nodes over a leaf at or after `size`
    assert node_key(0, size) in covering and node_key(0, size - 1) not in covering
    with store.transaction() as cursor:
        cursor.execute("DELETE FROM trail_entries WHERE idx >= ?", (idx_key(size),))
        for key in covering:
            cursor.execute("DELETE FROM trail_nodes WHERE node = ?", (key,))
        cursor.execute("DELETE FROM trail_cases")
        for case_id, (seq, leaf) in heads.items():
            cursor.execute("INSERT INTO trail_cases (case_id, federation, seq, leaf) VALUES (?, ?, ?, ?)",
                           (case_id, federations[case_id], seq, leaf))
        cursor.execute("DELETE FROM trail_batches WHERE first >= ?", (idx_key(size),))
        cursor.execute("DELETE FROM trail_checkpoints WHERE size > ?", (idx_key(size),))
        cursor.execute("DELETE FROM trail_head WHERE name = 'checkpoint'")
        cursor.execute("UPDATE trail_head SET size = ?, root = ? WHERE name = 'log'", (str(size), root.hex()))
