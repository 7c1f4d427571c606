"""The whole stored trail replayed and checked (`python -m services.audit.logcheck`): a valid log passes on every
backend, and a changed byte, a deleted entry, a broken case chain, a checkpoint of a wrong root or by another
key, and a corrupted tree node each fail with what is wrong."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing

import pytest

from services.audit.application import Trail
from services.audit.log import CASES, CHECKPOINTS, ENTRIES, NODES, frontier, idx_key, node_key
from services.audit.logcheck import Frontier, Report, chain_fields, check, main, sqlite_entries, stored_entries
from services.audit.merkle import leaf_hash, root
from services.audit.note import Checkpoint, Signer, generate_key, sign_checkpoint
from services.eventstore import Put, Release
from tests.backends import backend_env
from tests.trail_flows import SIGNER, append, filed, opened


@pytest.fixture
def log(trail):
    """Case a's three entries among others' and a rejected message (indexes 0, 2, 4 of seven), checkpoints
    at 0, 3 and 7; the case id of a."""
    a = str(uuid.uuid4())
    trail.checkpoint_if_due(SIGNER, 1, 10)
    append(trail, [(opened(a), None), (filed(str(uuid.uuid4())), None), (filed(a), None)])
    trail.checkpoint_if_due(SIGNER, 1, 10)
    append(trail, [(opened(str(uuid.uuid4())), None), (filed(a), None), (None, b"junk"), (filed(str(uuid.uuid4())),
                                                                                          None)], first_offset=3)
    trail.checkpoint_if_due(SIGNER, 1, 10)
    return a


def replay(trail: Trail, page: int = 2) -> Report:
    return check(trail.select_rows, SIGNER.verifier, page=page)


def failures(trail: Trail) -> str:
    report = replay(trail)
    assert not report.valid
    return "\n".join(report.failures)


def rewrite(trail: Trail, index: int, **columns: str) -> None:
    [row] = trail.select_rows(ENTRIES, keys=[idx_key(index)])
    trail.commit([], [Put(ENTRIES, {**row, **columns})], [])


def test_a_valid_log_passes_whatever_the_page_size(trail, log):
    for page in (1, 2, 3, 1000):
        report = replay(trail, page)
        assert report.valid, report.failures
        assert (report.entries, report.cases, report.checkpoints, report.newest) == (7, 4, 3, 7)
    append(trail, [(filed(log), None)], first_offset=7)  # past the newest checkpoint: still checked to the head
    assert replay(trail).valid


def test_the_chain_fields_read_from_the_bytes_are_those_of_the_parsed_entry(trail, log):
    for row in trail.select_rows(ENTRIES):
        entry = json.loads(row["entry"])
        fields = (entry["index"], entry["case_id"] and entry["case_id"].encode(), entry["case_seq"],
                  entry["prev_case_hash"] and entry["prev_case_hash"].encode())
        assert chain_fields(row["entry"].encode()) == fields
        assert chain_fields(json.dumps(entry, indent=1).encode()) == fields  # another shape: parsed as JSON


def test_the_frontier_has_the_root_of_every_size_and_the_right_edge_of_the_stored_tree():
    leaves = [leaf_hash(str(n).encode()) for n in range(300)]
    tree = Frontier()
    assert tree.root() == root([])
    for n, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.root() == root(leaves[:n])
        assert len(tree.roots) == len(frontier(n)) == bin(n).count("1")


def test_a_sqlite_file_read_directly_gives_the_entries_the_index_gives(sqlite_trail):
    trail, url = sqlite_trail
    append(trail, [(opened(str(uuid.uuid4())), None), (None, b"junk"), (filed(str(uuid.uuid4())), None)])
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
        assert sqlite_entries(db)(None, 10) == stored_entries(trail.select_rows)(None, 10)
        assert sqlite_entries(db)(idx_key(0), 1) == stored_entries(trail.select_rows)(idx_key(0), 1)


def test_a_changed_byte_of_an_entry_fails_at_its_leaf_and_at_every_later_checkpoint(trail, log):
    [row] = trail.select_rows(ENTRIES, keys=[idx_key(2)])
    rewrite(trail, 2, entry=row["entry"].replace("2026-03-13", "2026-03-14"))
    found = failures(trail)
    assert "entry 2: its bytes do not hash to its stored leaf hash" in found
    assert "entry 4: does not chain to case" in found  # the next entry of the case names the old hash
    assert "checkpoint 3: the log's root at that size is" in found and "checkpoint 7:" in found
    assert "checkpoint 3: it signs the root" in found


def test_a_changed_entry_with_its_leaf_hash_rewritten_still_fails_against_the_signed_checkpoint(trail, log):
    [row] = trail.select_rows(ENTRIES, keys=[idx_key(5)])
    changed = row["entry"].replace('"size":4', '"size":5')
    rewrite(trail, 5, entry=changed, leaf=leaf_hash(changed.encode()).hex())
    found = failures(trail)
    assert "entry 5" not in found
    assert "checkpoint 7: it signs the root" in found and "checkpoint 3" not in found


def test_a_deleted_entry_is_missing(trail, log):
    trail.commit([], [Release(ENTRIES, idx_key(2))], [])
    found = failures(trail)
    assert "entries 2–3: the store's keys there run 000000000003–000000000004" in found
    assert "entry 2: the entry there says it is index 3" in found
    assert "head: the log's head says 7 entries; the store holds 6" in found


def test_a_broken_case_chain_fails_though_every_root_is_signed(trail, log):
    trail.commit([], [Release(CASES, log)], [])  # the next append forgets the case's earlier entries
    append(trail, [(filed(log), None)], first_offset=7)
    trail.checkpoint_if_due(SIGNER, 1, 10)
    assert failures(trail) == f"entry 7: case {log}'s entry 1 where 4 comes next (a gap or a reorder)"


def test_a_checkpoint_of_a_wrong_root_fails(trail, log):
    [row] = trail.select_rows(CHECKPOINTS, keys=[idx_key(3)])
    wrong = bytes(32)
    note = sign_checkpoint(Checkpoint(SIGNER.name, 3, wrong), SIGNER)
    trail.commit([], [Put(CHECKPOINTS, {**row, "root": wrong.hex(), "note": note})], [])
    found = failures(trail)
    assert "checkpoint 3: the log's root at that size is" in found and "the checkpoint's row says 0000" in found
    assert "checkpoint 3: it signs the root 0000000000000000…, not the log's" in found
    assert "checkpoint 7" not in found


def test_checkpoints_by_another_key_fail_against_the_trusted_key(trail, log):
    other = Signer.parse(generate_key(SIGNER.name)[0])
    report = check(trail.select_rows, other.verifier)
    assert len(report.failures) == 3
    assert all("not signed by the trusted key" in f for f in report.failures)


def test_a_corrupted_node_on_the_right_edge_fails(trail, log):
    trail.commit([], [Put(NODES, {"node": node_key(2, 0), "hash": "00" * 32})], [])  # leaves 0..3
    assert failures(trail) == "tree: the stored node (2, 0) is not the hash of its entries"


@pytest.fixture
def sqlite_trail(request, tmp_path):
    app = Trail(backend_env(request, tmp_path, "sqlite"))
    yield app, f"sqlite:///{tmp_path}/store.db"
    app.close()


def test_the_command_exits_0_for_a_valid_log_1_with_the_failures_and_2_without_a_store(sqlite_trail, tmp_path,
                                                                                       capsys):
    trail, url = sqlite_trail
    a = str(uuid.uuid4())
    trail.checkpoint_if_due(SIGNER, 1, 10)
    append(trail, [(opened(a), None), (filed(a), None), (None, b"junk")])
    trail.checkpoint_if_due(SIGNER, 1, 10)
    key = ["--key", SIGNER.verifier.format()]
    assert main(["--store", url, *key]) == 0
    assert "ok: 3 entries of 1 cases, 2 signed checkpoints (the newest at 3)" in capsys.readouterr().out
    rewrite(trail, 1, entry=trail.select_rows(ENTRIES, keys=[idx_key(1)])[0]["entry"].replace("2026", "2027"))
    assert main(["--store", url, *key]) == 1
    out = capsys.readouterr().out
    assert "FAIL entry 1: its bytes do not hash to its stored leaf hash" in out and "ok:" not in out
    assert main(["--store", f"sqlite:///{tmp_path}/none.db", *key]) == 2
    assert "no SQLite store at" in capsys.readouterr().err
    assert main(["--store", url, "--key", "not a key"]) == 2
