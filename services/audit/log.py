"""The trail's one global Merkle log in index tables: entries, tree nodes, case chains, checkpoints.

Everything an append writes goes into the same transaction as the consumed positions it accounts for
(the sequencer's batch): the entries, every complete subtree node they finish (RFC 6962, stored as
`(level, index)`, exactly what C2SP tlog-tiles serves), each case's chain head, the secrets beside the
log, the log's head (size and root) and a claim on the batch's first index, so that a second writer
(a sequencer that lost its lease and does not know it yet) fails instead of writing over the first.

An append reads the head and the right edge of the tree (at most log2(size) nodes), computes the new
nodes in memory, and writes O(log n) rows per entry: no full recompute, ever.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.audit.entries import Secret, Source, entry_bytes
from services.audit.merkle import EMPTY_ROOT, MerkleTree, leaf_hash
from services.eventstore import Claim, Put, Table
from services.eventstore.index import IndexOp

# `appended_at` (Unix time, beside the entry, not in it: a replay makes the same bytes) is for operators.
ENTRIES = Table("trail_entries", key="idx", columns=("source", "case_id", "case_seq", "leaf", "entry", "appended_at"),
                indexes=(("case_id",), ("source",)))
NODES = Table("trail_nodes", key="node", columns=("hash",))
CASES = Table("trail_cases", key="case_id", columns=("federation", "seq", "leaf"))
SECRETS = Table("trail_secrets", key="commitment", columns=("case_id", "subject", "salt", "value"),
                indexes=(("case_id",), ("subject",)))
CHECKPOINTS = Table("trail_checkpoints", key="size", columns=("root", "note", "made_at"))
HEAD = Table("trail_head", key="name", columns=("size", "root"))
BATCHES = Table("trail_batches", key="first", columns=("count", "writer"))
TABLES = (ENTRIES, NODES, CASES, SECRETS, CHECKPOINTS, HEAD, BATCHES)
# Who was shown a case's personal data in full, and why (查看记录): one row per PersonalDataViewed entry.
READS = Table("trail_reads", key="idx", columns=("case_id", "federation", "by", "reason", "viewed_at"),
              indexes=(("federation",), ("case_id",)))
LOG = "log"
CHECKPOINT = "checkpoint"  # the head row naming the newest signed checkpoint

Select = Callable[..., list[dict[str, Any]]]


def idx_key(index: int) -> str:
    return f"{index:012d}"


def node_key(level: int, index: int) -> str:
    return f"{level:02d}:{index:012d}"


def frontier(size: int) -> list[tuple[int, int]]:
    """The complete subtrees whose roots make up a tree of `size` leaves, largest first (its right edge)."""
    nodes, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


@dataclass
class Head:
    size: int
    root: bytes


def read_head(select: Select) -> Head:
    rows = select(HEAD, keys=[LOG])
    if not rows:
        return Head(0, EMPTY_ROOT)
    return Head(int(rows[0]["size"]), bytes.fromhex(rows[0]["root"]))


def read_nodes(select: Select, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    keys = {node_key(level, index): (level, index) for level, index in wanted}
    if not keys:
        return {}
    found = {}
    for row in select(NODES, keys=sorted(keys)):
        found[keys[row["node"]]] = bytes.fromhex(row["hash"])
    missing = set(keys.values()) - set(found)
    if missing:
        raise LookupError(f"the trail's store lacks tree nodes {sorted(missing)[:5]}")
    return found


class _Nodes:
    """A NodeStore of the nodes an append needs (the right edge) and the ones it makes."""

    def __init__(self, known: dict[tuple[int, int], bytes]):
        self.known = dict(known)
        self.made: list[tuple[int, int, bytes]] = []

    def get(self, level: int, index: int) -> bytes | None:
        return self.known.get((level, index))

    def put(self, level: int, index: int, value: bytes) -> None:
        self.known[(level, index)] = value
        self.made.append((level, index, value))


@dataclass
class Append:
    """One batch of entries on top of the stored log; `ops()` is what the transaction writes."""

    head: Head
    nodes: _Nodes
    cases: dict[str, dict[str, Any]]
    writer: str
    tree: MerkleTree = field(init=False)
    _rows: list[IndexOp] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tree = MerkleTree(self.nodes, self.head.size)

    @classmethod
    def start(cls, select: Select, case_ids: Iterable[str], writer: str) -> Append:
        head = read_head(select)
        known = read_nodes(select, frontier(head.size))
        wanted = sorted({c for c in case_ids if c})
        cases = {row["case_id"]: row for row in select(CASES, keys=wanted)} if wanted else {}
        return cls(head, _Nodes(known), cases, writer)

    @classmethod
    def after(cls, previous: Append, select: Select, case_ids: Iterable[str], writer: str) -> Append:
        """The batch after `previous`, which may not be committed yet: its tree and the case chains it touched
        continue from `previous` in memory (if `previous` is not committed, neither may this one be)."""
        head = Head(previous.size, previous.root())
        known = {spot: previous.nodes.known[spot] for spot in frontier(head.size)}
        wanted = sorted({c for c in case_ids if c})
        cases = {c: dict(previous.cases[c]) for c in wanted if c in previous.cases}
        unread = [c for c in wanted if c not in cases]
        cases.update({row["case_id"]: row for row in select(CASES, keys=unread)} if unread else {})
        return cls(head, _Nodes(known), cases, writer)

    @property
    def size(self) -> int:
        return self.tree.size

    def add(self, case_id: str | None, federation: str | None, source: Source, event: dict[str, Any],
            secrets: Sequence[Secret] = (), event_plain: bool = False) -> int:
        """Append one entry (EntryTooLarge if it cannot be one: nothing of it is kept); its index.
        `event_plain`: the event is known to be plain JSON (entries.seal_checked)."""
        index = self.tree.size
        seq, prev = None, None
        if case_id:
            known = self.cases.get(case_id)
            seq = 1 if known is None else int(known["seq"]) + 1
            prev = None if known is None else known["leaf"]
        data = entry_bytes(index, case_id or None, seq, prev, source, event, event_plain)
        leaf = leaf_hash(data)
        self.tree.append(leaf)
        if case_id:
            self.cases[case_id] = {"case_id": case_id, "federation": federation or "", "seq": str(seq),
                                   "leaf": leaf.hex()}
        self._rows.append(Put(ENTRIES, {"idx": idx_key(index), "source": source.key, "case_id": case_id or "",
                                        "case_seq": str(seq or 0), "leaf": leaf.hex(), "entry": data.decode(),
                                        "appended_at": repr(time.time())}))
        for secret in secrets:
            self._rows.append(Put(SECRETS, {"commitment": secret.commitment, "case_id": secret.case_id,
                                            "subject": secret.subject, "salt": secret.salt, "value": secret.value}))
        return index

    def also(self, op: IndexOp) -> None:
        """Write `op` with the batch: an index row that derives from an entry just added (see READS)."""
        self._rows.append(op)

    def root(self) -> bytes:
        return self.tree.root_at()

    def ops(self) -> list[IndexOp]:
        count = self.tree.size - self.head.size
        if not count:
            return []
        claim: list[IndexOp] = [Claim(BATCHES, {"first": idx_key(self.head.size), "count": str(count),
                                                "writer": self.writer})]
        nodes: list[IndexOp] = [Put(NODES, {"node": node_key(level, index), "hash": value.hex()})
                                for level, index, value in self.nodes.made]
        cases: list[IndexOp] = [Put(CASES, self.cases[c]) for c in sorted(self.cases)]  # the batch's cases
        head: list[IndexOp] = [Put(HEAD, {"name": LOG, "size": str(self.tree.size), "root": self.root().hex()})]
        return claim + self._rows + nodes + cases + head


def stored_tree(select: Select, size: int) -> MerkleTree:
    """The stored log read as a Merkle tree of `size` leaves: roots, proofs and tiles of any size up to it."""
    return MerkleTree(_Reader(select), size)


class _Reader:
    """A NodeStore that reads nodes from the index on demand (and remembers them for this request)."""

    def __init__(self, select: Select):
        self.select = select
        self.cache: dict[tuple[int, int], bytes | None] = {}

    def get(self, level: int, index: int) -> bytes | None:
        if (level, index) not in self.cache:
            rows = self.select(NODES, keys=[node_key(level, index)])
            self.cache[(level, index)] = bytes.fromhex(rows[0]["hash"]) if rows else None
        return self.cache[(level, index)]

    def put(self, level: int, index: int, value: bytes) -> None:
        raise TypeError("the stored log is read-only here")


def tile_bytes(select: Select, level: int, index: int, width: int) -> bytes | None:
    """The hashes of tile (level, index) of `width` (1..256), or None if its nodes are not all stored."""
    node_level, first = 8 * level, index * 256
    keys = [node_key(node_level, first + i) for i in range(width)]
    rows = {r["node"]: r["hash"] for r in select(NODES, keys=keys)}
    if len(rows) != width:
        return None
    return b"".join(bytes.fromhex(rows[k]) for k in keys)


def entry_rows(select: Select, first: int, count: int) -> list[dict[str, Any]]:
    return select(ENTRIES, keys=[idx_key(first + i) for i in range(count)])
