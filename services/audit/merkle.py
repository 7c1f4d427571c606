"""Merkle log building block for the audit trail (issue 9): RFC 6962 / RFC 9162 hashing and C2SP tlog-tiles.

What is here, all pure Python (``hashlib`` only) and independent of any service:

* RFC 6962 hashing: :func:`leaf_hash` ``SHA-256(0x00 || entry)``, :func:`node_hash`
  ``SHA-256(0x01 || left || right)`` and :func:`root`, the Merkle Tree Hash of a list of leaf hashes by the
  RFC's recursive definition (the empty tree hashes to ``SHA-256("")``).
* :class:`MerkleTree`, an append-only tree that stores every *complete* subtree node ``(level, index)`` the
  moment it completes: the node at level ``L``, index ``N`` is the hash of leaves ``[N * 2**L, (N+1) * 2**L)``.
  These are exactly the hashes that C2SP tlog-tiles serves (a level-``L`` tile holds level-``8L`` nodes).
  An append writes one leaf plus at most ``log2(n)`` parents and reads at most ``log2(n)`` left siblings; a
  root, an inclusion proof (RFC 9162 §2.1.3.1) or a consistency proof (§2.1.4.1) for any earlier size is
  computed from stored nodes only, never by rehashing the whole tree. Nodes live behind the small
  :class:`NodeStore` protocol (:class:`MemoryNodeStore` here; a SQL table can back it later).
* :func:`verify_inclusion` and :func:`verify_consistency`: RFC 9162 §2.1.3.2 / §2.1.4.2, standalone (they
  never look at a tree), as an auditor would run them.
* C2SP tlog-tiles (https://c2sp.org/tlog-tiles): :func:`tile_path`, :func:`entries_path`,
  :func:`tile_width`, :func:`tiles_for_size`, :meth:`MerkleTree.tile` (the bytes of a hash tile) and the
  entry bundle codec :func:`encode_entry_bundle` / :func:`decode_entry_bundle` (big-endian uint16 length
  prefix per entry, so an entry is at most 65,535 bytes).

The tree size is not kept in the store: whoever persists the nodes persists the size next to them (e.g.
in the same transaction) and passes it to :class:`MerkleTree` when reopening.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes per full tile
MAX_ENTRY_SIZE = 0xFFFF  # entry bundles use a uint16 length prefix


# --- RFC 6962 hashing ---------------------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): the RFC's split point ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle Tree Hash (RFC 9162 §2.1.1) of a list of leaf hashes, by the recursive definition."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


# --- storage ------------------------------------------------------------------------------------------------


class NodeStore(Protocol):
    """Where a :class:`MerkleTree` keeps its complete subtree nodes, keyed by ``(level, index)``."""

    def get(self, level: int, index: int) -> bytes | None:
        """The 32-byte hash of node ``(level, index)``, or ``None`` if it is not stored."""
        ...

    def put(self, level: int, index: int, value: bytes) -> None:
        """Store the 32-byte hash of node ``(level, index)`` (nodes are immutable once written)."""
        ...


class MemoryNodeStore:
    """A :class:`NodeStore` in a dict, for tests and for replaying a log in memory."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}

    def get(self, level: int, index: int) -> bytes | None:
        return self.nodes.get((level, index))

    def put(self, level: int, index: int, value: bytes) -> None:
        self.nodes[(level, index)] = value


# --- the incremental tree -----------------------------------------------------------------------------------


class MerkleTree:
    """An append-only RFC 6962 Merkle tree over a :class:`NodeStore` of complete subtree nodes."""

    def __init__(self, store: NodeStore | None = None, size: int = 0) -> None:
        """Open a tree on ``store`` whose first ``size`` leaves (and their complete subtrees) are stored."""
        if size < 0:
            raise ValueError("tree size must be non-negative")
        self.store: NodeStore = store if store is not None else MemoryNodeStore()
        self._size = size

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> int:
        """Append a leaf hash; store it and every subtree it completes. Returns the new leaf's index."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        index = self._size
        self.store.put(0, index, leaf)
        level, i, value = 0, index, leaf
        while i & 1:  # a right child completes its parent
            value = node_hash(self._node(level, i - 1), value)
            level, i = level + 1, i >> 1
            self.store.put(level, i, value)
        self._size = index + 1
        return index

    def append_entry(self, entry: bytes) -> int:
        """Append raw entry bytes (hashed with :func:`leaf_hash`). Returns the new leaf's index."""
        return self.append(leaf_hash(entry))

    def _node(self, level: int, index: int) -> bytes:
        value = self.store.get(level, index)
        if value is None:
            raise LookupError(f"merkle node ({level}, {index}) is missing from the store")
        return value

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)`` where ``start`` is aligned to the RFC split (always true in proofs).

        The left part of every split is a complete, stored node; only the right edge recurses, so this takes
        one read per set bit of ``end - start``.
        """
        n = end - start
        if n & (n - 1) == 0:  # complete subtree: stored
            level = n.bit_length() - 1
            return self._node(level, start >> level)
        k = _split(n)
        return node_hash(self._range_hash(start, start + k), self._range_hash(start + k, end))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is outside 0..{self._size}")

    def root_at(self, size: int | None = None) -> bytes:
        """Root hash of the tree at ``size`` leaves (default: the current size)."""
        size = self._size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 §2.1.3.1), leaf to root."""
        size = self._size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside 0..{size - 1}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:  # PATH(m, D[start:end]), siblings collected root first
            k = _split(end - start)
            if index < start + k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._range_hash(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof between sizes ``old_size`` and ``new_size`` (RFC 9162 §2.1.4.1).

        Requires ``0 < old_size <= new_size``; equal sizes give the empty proof.
        """
        new_size = self._size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 < old_size <= new_size:
            raise ValueError(f"consistency needs 0 < old_size <= new_size, got {old_size}, {new_size}")
        proof: list[bytes] = []
        m, start, end, whole = old_size, 0, new_size, True  # SUBPROOF(m, D[start:end], whole)
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self._range_hash(start, start + k))
                m, start, whole = m - k, start + k, False
        if not whole:
            proof.append(self._range_hash(start, end))
        proof.reverse()
        return proof

    def tile(self, level: int, index: int, size: int | None = None) -> bytes:
        """Bytes of hash tile ``(level, index)`` as served for a tree of ``size`` leaves (C2SP tlog-tiles).

        The concatenated hashes of level-``8 * level`` nodes ``index * 256 ...``: full (8,192 bytes) or the
        partial tile of width :func:`tile_width`. Raises ``LookupError`` for a tile that does not exist at
        that size (tlog-tiles forbids serving empty tiles).
        """
        size = self._size if size is None else size
        self._check_size(size)
        width = tile_width(level, index, size)
        if width == 0:
            raise LookupError(f"tile {level}/{index} does not exist at tree size {size}")
        node_level, first = TILE_HEIGHT * level, index * TILE_WIDTH
        return b"".join(self._node(node_level, first + i) for i in range(width))


# --- RFC 9162 verification ----------------------------------------------------------------------------------


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """Check an inclusion proof for ``leaf`` at ``index`` in a tree of ``size`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Check a consistency proof between two tree heads (RFC 9162 §2.1.4.2).

    A proof from the empty tree is meaningless and is rejected, as transparency-dev's verifier does.
    """
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree: its root is implied
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# --- C2SP tlog-tiles ----------------------------------------------------------------------------------------


def _index_path(index: int) -> str:
    """Tile index as zero-padded 3-digit path elements, ``x`` on all but the last: 1234067 → x001/x234/067."""
    if index < 0:
        raise ValueError("tile index must be non-negative")
    digits = str(index)
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def _width_suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width must be 1..{TILE_WIDTH}, got {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Path of a hash tile, ``tile/<L>/<N>[.p/<W>]`` (the suffix only for a partial tile, width < 256)."""
    if not 0 <= level <= 63:
        raise ValueError(f"tile level must be 0..63, got {level}")
    return f"tile/{level}/{_index_path(index)}{_width_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """Path of an entry bundle, ``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{_index_path(index)}{_width_suffix(width)}"


def tile_width(level: int, index: int, size: int) -> int:
    """Number of hashes in tile ``(level, index)`` at tree ``size``: 256, a partial width, or 0 (no tile)."""
    hashes = size >> (TILE_HEIGHT * level)  # complete level-8L nodes
    full = hashes >> TILE_HEIGHT
    if index < full:
        return TILE_WIDTH
    if index == full:
        return hashes % TILE_WIDTH
    return 0


def tiles_for_size(size: int) -> list[tuple[int, int, int]]:
    """Every tile ``(level, index, width)`` that represents a tree of ``size`` leaves, level by level."""
    tiles: list[tuple[int, int, int]] = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes = size >> (TILE_HEIGHT * level)
        tiles.extend((level, n, TILE_WIDTH) for n in range(hashes >> TILE_HEIGHT))
        if hashes % TILE_WIDTH:
            tiles.append((level, hashes >> TILE_HEIGHT, hashes % TILE_WIDTH))
        level += 1
    return tiles


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length, then its bytes."""
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise ValueError(
                f"entry {i} is {len(entry)} bytes; an entry bundle entry is at most {MAX_ENTRY_SIZE} bytes"
            )
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def decode_entry_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle back into its entries; raises ``ValueError`` if it is truncated."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError(f"entry bundle truncated in a length prefix at byte {pos}")
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + n > len(data):
            raise ValueError(f"entry bundle truncated: entry at byte {pos - 2} needs {n} bytes")
        entries.append(data[pos : pos + n])
        pos += n
    return entries
