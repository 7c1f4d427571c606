"""The trail's log on memory, SQLite and PostgreSQL: entries, the Merkle tree, case chains, checkpoints,
a second writer refused, and erasure that leaves the log verifying."""

from __future__ import annotations

import json
import uuid

import pytest

from services.audit.application import HistoryNotFound
from services.audit.entries import EntryTooLarge, Source
from services.audit.log import ENTRIES, NODES, SECRETS
from services.audit.merkle import decode_entry_bundle, leaf_hash, root, verify_consistency, verify_inclusion
from services.audit.note import open_checkpoint
from services.eventstore import ClaimConflict, store_env
from tests.trail_flows import SIGNER, SPOUSE, SPOUSE_DIGEST, WORKER, append, filed, opened, stored_entries


def test_each_message_is_one_canonical_entry_in_one_merkle_tree_with_a_chain_per_case(trail):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    append(trail, [(opened(a), None), (opened(b), None), (None, b"\xffnot json"), (filed(a), None)])

    entries = stored_entries(trail)
    assert trail.head().size == 4 and trail.position("relief.intake.case-events:0") == 3
    assert trail.head().root == root([leaf_hash(e) for e in entries])
    parsed = [json.loads(e) for e in entries]
    assert [p["index"] for p in parsed] == [0, 1, 2, 3]
    assert all(e == json.dumps(p, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
               for e, p in zip(entries, parsed, strict=True))  # canonical: sorted keys, no spaces
    assert parsed[2]["event"]["type"] == "SourceRejected" and parsed[2]["case_id"] is None
    assert parsed[2]["source"] == {"topic": "relief.intake.case-events", "partition": 0, "offset": 2}
    assert (parsed[0]["case_seq"], parsed[0]["prev_case_hash"]) == (1, None)
    assert (parsed[3]["case_seq"], parsed[3]["prev_case_hash"]) == (2, leaf_hash(entries[0]).hex())
    assert not any(WORKER in e.decode() or SPOUSE in e.decode() or "白银公司" in e.decode() for e in entries)
    assert parsed[0]["event"]["payload"]["worker"]["name"].keys() == {"commitment"}


def test_history_shows_the_committed_values_with_proofs_against_the_signed_checkpoint(trail):
    a = str(uuid.uuid4())
    append(trail, [(opened(a), None), (filed(a), None), (opened(str(uuid.uuid4())), None)])
    note = trail.checkpoint_if_due(SIGNER, 1000, 10)
    assert note is not None
    checkpoint = open_checkpoint(note, SIGNER.verifier)
    assert (checkpoint.size, checkpoint.root) == (3, trail.head().root)

    history = trail.history(a)
    assert [e["type"] for e in history["events"]] == ["CaseOpened", "CaseFiled"]
    first = history["events"][0]
    assert first["payload"]["worker"]["name"] == WORKER
    assert first["payload"]["household"]["members"][0]["name"] == SPOUSE and first["erased"] == 0
    for e in history["events"]:
        proof = [bytes.fromhex(h) for h in e["inclusion"]]
        assert verify_inclusion(bytes.fromhex(e["leaf_hash"]), e["index"], 3, proof, checkpoint.root)
    with pytest.raises(HistoryNotFound):
        trail.history(str(uuid.uuid4()))


def test_erasing_a_person_leaves_the_log_and_its_proofs_unchanged_and_the_name_nowhere(trail):
    a = str(uuid.uuid4())
    append(trail, [(opened(a), None), (filed(a), None)])
    before, entries = trail.head(), stored_entries(trail)
    assert trail.erase(a, SPOUSE_DIGEST) == 5  # the spouse's name, relation, health, schooling, masked id
    assert trail.head() == before and stored_entries(trail) == entries
    assert trail.head().root == root([leaf_hash(e) for e in stored_entries(trail)])
    payload = trail.history(a)["events"][0]["payload"]
    assert payload["household"]["members"][0]["name"] == "erased"
    assert payload["worker"]["name"] == WORKER  # the worker's own data stays until they are erased
    kept = json.dumps(trail.select_rows(SECRETS) + trail.select_rows(ENTRIES), ensure_ascii=False)
    assert SPOUSE not in kept and WORKER in kept
    trail.erase(a, None)
    kept = json.dumps(trail.select_rows(SECRETS) + trail.select_rows(ENTRIES), ensure_ascii=False)
    assert WORKER not in kept and trail.history(a)["events"][0]["payload"]["worker"]["name"] == "erased"


def test_the_tree_grows_batch_by_batch_to_the_root_of_every_entry_and_proves_consistency(trail):
    sizes, roots = [], []
    offset = 0
    for count in (1, 2, 5, 8, 17, 300):
        append(trail, [(filed(str(uuid.uuid4())), None) for _ in range(count)], first_offset=offset)
        offset += count
        sizes.append(trail.head().size)
        roots.append(trail.head().root)
    entries = stored_entries(trail)
    leaves = [leaf_hash(e) for e in entries]
    assert sizes[-1] == len(entries) == 333
    assert roots == [root(leaves[:n]) for n in sizes]
    for old, old_root in zip(sizes, roots, strict=True):
        proof = trail.consistency(old, 333)
        assert verify_consistency(old, 333, old_root, roots[-1], [bytes.fromhex(h) for h in proof["hashes"]])
    tile = trail.tile(0, 0, None)
    assert tile == b"".join(leaves[:256])
    assert trail.tile(0, 1, 77) == b"".join(leaves[256:333])
    assert decode_entry_bundle(trail.entry_bundle(1, 77)) == entries[256:333]
    assert trail.tile(1, 0, 1) == root(leaves[:256])
    nodes = len(trail.select_rows(NODES))
    assert nodes < 2 * 333  # every complete subtree once: O(1) nodes per entry, no recompute


def test_a_batch_built_on_one_still_being_committed_makes_the_log_sequential_batches_make(trail):
    """The sequencer seals batch n + 1 while n commits: the tree, the chains and the rows are what sequential
    batches make (the entries' salted commitments differ from run to run, so the structure is compared)."""
    from services.audit.application import Trail

    cases = [str(uuid.uuid4()) for _ in range(5)]
    batches = [[opened(c) for c in cases[:3]], [filed(c) for c in cases[1:]] + [opened(cases[0])],
               [filed(cases[0]), opened(cases[4])]]

    def sources(n):
        first = sum(len(b) for b in batches[:n])
        return [(Source("t", 0, first + i), None, e, None) for i, e in enumerate(batches[n])]

    previous = None
    built = []
    for n in range(3):  # each sealed before the one before it is stored
        previous = trail.append(sources(n), "w", after=previous)
        built.append(previous)
    for n, batch in enumerate(built):
        trail.store(batch, {"t:0": sum(len(b) for b in batches[:n + 1]) - 1})

    entries = stored_entries(trail)
    leaves = [leaf_hash(e) for e in entries]
    assert trail.head().size == len(entries) == 10
    assert trail.head().root == root(leaves)
    parsed = [json.loads(e) for e in entries]
    assert [p["index"] for p in parsed] == list(range(10))
    last: dict[str, bytes] = {}
    for entry, leaf in zip(parsed, leaves, strict=True):  # every case's chain links its entries in order
        expected = last.get(entry["case_id"])
        assert entry["prev_case_hash"] == (expected.hex() if expected else None)
        last[entry["case_id"]] = leaf
    assert [e["case_seq"] for e in trail.history(cases[0])["events"]] == [1, 2, 3]
    for old in (3, 7):
        proof = [bytes.fromhex(h) for h in trail.consistency(old, 10)["hashes"]]
        assert verify_consistency(old, 10, root(leaves[:old]), root(leaves), proof)
    sequential = Trail(store_env("memory://"))
    for n in range(3):
        sequential.store(sequential.append(sources(n), "w"), {"t:0": sum(len(b) for b in batches[:n + 1]) - 1})
    assert len(trail.select_rows(NODES)) == len(sequential.select_rows(NODES))  # the same nodes stored
    sequential.close()


def test_a_writer_that_lost_the_race_for_an_index_fails_and_writes_nothing(trail):
    early = trail.append([(Source("t", 0, 0), None, filed(str(uuid.uuid4())), None)], "old-writer")
    append(trail, [(filed(str(uuid.uuid4())), None)], topic="t")  # the new writer took index 0
    head = trail.head()
    with pytest.raises(ClaimConflict):
        trail.store(early, {"u:0": 0})  # another partition: only the claim on index 0 stops it
    assert trail.head() == head and len(stored_entries(trail)) == 1


def test_an_entry_over_65535_bytes_is_refused_whole(trail):
    big = filed(str(uuid.uuid4()))
    big.payload["filed_on"] = "x" * 70_000
    with pytest.raises(EntryTooLarge):
        trail.append([(Source("t", 0, 0), None, big, None)], "writer-1")
    assert trail.head().size == 0


def test_checkpoints_come_every_n_entries_or_t_seconds_and_are_kept(trail):
    assert open_checkpoint(trail.checkpoint_if_due(SIGNER, 3, 10, now=100.0), SIGNER.verifier).size == 0
    append(trail, [(filed(str(uuid.uuid4())), None)])
    assert trail.checkpoint_if_due(SIGNER, 3, 10, now=101.0) is None  # one entry, one second
    assert trail.checkpoint_if_due(SIGNER, 3, 10, now=111.0) is not None  # ten seconds
    append(trail, [(filed(str(uuid.uuid4())), None) for _ in range(3)], first_offset=1)
    assert trail.checkpoint_if_due(SIGNER, 3, 10, now=112.0) is not None  # three entries
    assert [c["size"] for c in trail.checkpoints(0)] == [0, 1, 4]
    assert [c["size"] for c in trail.checkpoints(1)] == [1, 4]
    assert trail.latest_checkpoint()[0] == 4
