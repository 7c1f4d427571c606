"""`python -m services.audit.logcheck --store URL [--key VKEY]`: replay the whole stored trail and check it.

Where `make verify` checks one case's bundle as an auditor receives it, this checks the log as the audit
service keeps it (services/audit/log.py), after a restore, say, or before trusting a replica's copy. In one
pass over the entries in index order, a page at a time, it

* hashes each entry's bytes (RFC 6962 leaf) and compares the hash with the stored leaf;
* rebuilds the RFC 6962 tree as services/audit/merkle.py does, over a frontier (the roots of its complete
  subtrees, so O(log n) memory), and at every checkpoint's size compares the root with the checkpoint, whose
  signature it checks against the trusted key (services/audit/note.py); at the end, the size and root
  with the log's head and the right edge of the tree with the stored nodes the next append builds on;
* checks every case's chain: entries 1, 2, 3… each naming the previous one's leaf hash, ending at the
  case head the next append continues from.

It holds a page of entries, the frontier and one (seq, leaf) per case. RFC 8785 puts an entry's chain
fields first (`case_id`, `case_seq`) and last (`index`, `prev_case_hash`, `source`), so they are read from
the bytes there without parsing the event; an entry of any other shape is parsed as JSON.

Exit 0 if the log is valid; 1 with each failure named; 2 if the store cannot be read.
"""

from __future__ import annotations

import argparse
import binascii
import json
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eventsourcing.persistence import PersistenceError

from services.audit.application import Trail
from services.audit.log import (
    CASES,
    CHECKPOINT,
    CHECKPOINTS,
    ENTRIES,
    HEAD,
    Select,
    frontier,
    idx_key,
    read_head,
    read_nodes,
)
from services.audit.merkle import EMPTY_ROOT, node_hash
from services.audit.note import NoteError, Signer, Verifier, open_checkpoint
from services.config import service_config
from services.eventstore import store_env

PAGE = 10_000
KEPT = 20  # failures listed; the rest are counted
PROGRESS_EVERY = 100_000
# An entry as entry_bytes writes it: the chain fields first and last, the event between (its last `},"index":`
# is the entry's own: after the event come only digits, a hex hash and a topic whose quotes would be escaped).
_ENTRY = re.compile(rb'\{"case_id":(?:null|"([^"\\]*)"),"case_seq":(null|[0-9]+),"event":.*'
                    rb'\},"index":([0-9]+),"prev_case_hash":(?:null|"([0-9a-f]{64})"),'
                    rb'"source":\{"offset":[0-9]+,"partition":[0-9]+,"topic":"[^"\\]*"\}\}\Z', re.DOTALL)


@dataclass
class Report:
    entries: int = 0
    cases: int = 0
    checkpoints: int = 0
    newest: int | None = None  # the size of the newest checkpoint checked
    failures: list[str] = field(default_factory=list)
    unlisted: int = 0  # failures past the first KEPT
    notes: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        if len(self.failures) < KEPT:
            self.failures.append(problem)
        else:
            self.unlisted += 1

    @property
    def valid(self) -> bool:
        return not self.failures


class Frontier:
    """An RFC 6962 tree kept as the roots of its complete subtrees, largest first (the right edge of
    log.frontier): O(log n) memory. Appending is merkle.MerkleTree's, inlined: over a store of two nodes a
    level the same append costs twice as much, and a replay does it for every entry."""

    def __init__(self) -> None:
        self.size = 0
        self.roots: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        roots, value, n = self.roots, leaf, self.size
        while n & 1:  # a right child completes its parent: node_hash(left, value)
            value = sha256(b"\x01" + roots.pop() + value).digest()
            n >>= 1
        roots.append(value)
        self.size += 1

    def root(self) -> bytes:
        if not self.roots:
            return EMPTY_ROOT
        value = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            value = node_hash(left, value)
        return value


def chain_fields(data: bytes) -> tuple[int, bytes | None, int | None, bytes | None]:
    """An entry's index, case id, case seq and previous case hash (the id and the hash as the entry's UTF-8);
    ValueError if it is not an entry."""
    found = _ENTRY.match(data)
    if found is not None:
        case_id, seq, index, prev = found.groups()
        return int(index), case_id, None if seq == b"null" else int(seq), prev
    entry = json.loads(data)
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    index, case_id, seq, prev = (entry.get(k) for k in ("index", "case_id", "case_seq", "prev_case_hash"))
    if not (type(index) is int and isinstance(case_id, str | None) and (seq is None or type(seq) is int)
            and isinstance(prev, str | None)):
        raise ValueError("its index, case_id, case_seq or prev_case_hash is of the wrong type")
    return index, _utf8(case_id), seq, _utf8(prev)


def _utf8(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _pages(select: Select, table: Any, page: int) -> Iterator[list[dict[str, Any]]]:
    after = None
    while True:
        rows = select(table, after=after, limit=page)
        if rows:
            yield rows
        if len(rows) < page:
            return
        after = rows[-1][table.key]


Entry = tuple[str, bytes, bytes, bytes, bytes]  # idx, and as UTF-8 case_id, case_seq, leaf (the stored columns), entry
Entries = Callable[[str | None, int], list[Entry]]  # the entries after a key, in key order, at most so many


def stored_entries(select: Select) -> Entries:
    """Entries read through the application's index (any backend)."""
    def read(after: str | None, limit: int) -> list[Entry]:
        return [(r["idx"], r["case_id"].encode(), r["case_seq"].encode(), r["leaf"].encode(), r["entry"].encode())
                for r in select(ENTRIES, after=after, limit=limit)]
    return read


def sqlite_entries(db: sqlite3.Connection) -> Entries:
    """Entries read straight from a SQLite store's file: only the columns checked, as bytes (a third of the time
    stored_entries takes)."""
    sql = (f"SELECT {ENTRIES.key}, CAST(case_id AS BLOB), CAST(case_seq AS BLOB), CAST(leaf AS BLOB), "
           f"CAST(entry AS BLOB) FROM {ENTRIES.name} WHERE {ENTRIES.key} > ? ORDER BY {ENTRIES.key} LIMIT ?")

    def read(after: str | None, limit: int) -> list[Entry]:
        return db.execute(sql, (after or "", limit)).fetchall()
    return read


def check(select: Select, verifier: Verifier, page: int = PAGE, entries: Entries | None = None,
          progress: Callable[[int], None] | None = None) -> Report:
    """Replay the stored log up to its head (read first: a log appended meanwhile is checked as it was).
    `entries`: how to read the entries, if not through `select`."""
    report = Report()
    head = read_head(select)
    read = entries or stored_entries(select)
    checkpoints = (row for rows in _pages(select, CHECKPOINTS, 1000) for row in rows)
    due = next(checkpoints, None)
    due_at = -1 if due is None else int(due["size"])
    tree = Frontier()
    cases: dict[bytes, tuple[int, bytes]] = {}  # case id -> its last entry's seq and leaf hash (hex)
    fail, append, match, hexlify = report.fail, tree.append, _ENTRY.match, binascii.hexlify
    size, after = 0, None
    while size < head.size:
        rows = read(after, min(page, head.size - size))
        if not rows:
            break
        after = rows[-1][0]
        if (rows[0][0], after) != (idx_key(size), idx_key(size + len(rows) - 1)):  # keys ascend: none missing
            fail(f"entries {size}–{size + len(rows) - 1}: the store's keys there run {rows[0][0]}–{after}: an entry "
                 f"is missing or out of place")
        for _, stored_case, stored_seq, stored_leaf, data in rows:
            while size == due_at:
                _checkpoint(report, due, size, tree.root(), verifier)
                due = next(checkpoints, None)
                due_at = -1 if due is None else int(due["size"])
            leaf = sha256(b"\x00" + data).digest()
            append(leaf)
            hex_leaf = hexlify(leaf)
            if hex_leaf != stored_leaf:
                fail(f"entry {size}: its bytes do not hash to its stored leaf hash")
            found = match(data)  # chain_fields, inlined: the common case costs a third less
            if found is not None:
                case_id, seq_text, index_text, prev = found.groups()
                index, seq = int(index_text), None if seq_text == b"null" else int(seq_text)
            else:
                try:
                    index, case_id, seq, prev = chain_fields(data)
                except ValueError as problem:
                    fail(f"entry {size}: not an entry of the trail ({str(problem)[:100]})")
                    size += 1
                    continue
                seq_text = b"null" if seq is None else b"%d" % seq
            if index != size:
                fail(f"entry {size}: the entry there says it is index {index}")
            if case_id is None:
                if seq_text != b"null" or prev is not None:
                    fail(f"entry {size}: of no case, yet it has a case_seq or a prev_case_hash")
                if stored_case or stored_seq != b"0":
                    fail(f"entry {size}: its stored case columns disagree with its bytes")
            else:
                known = cases.get(case_id)
                want_seq, want_prev = (1, None) if known is None else (known[0] + 1, known[1])
                if seq != want_seq:
                    fail(f"entry {size}: case {case_id.decode(errors='replace')}'s entry {seq} where {want_seq} "
                         f"comes next (a gap or a reorder)")
                elif prev != want_prev:
                    fail(f"entry {size}: does not chain to case {case_id.decode(errors='replace')}'s previous entry")
                cases[case_id] = (seq or 0, hex_leaf)
                if stored_case != case_id or stored_seq != seq_text:
                    fail(f"entry {size}: its stored case columns disagree with its bytes")
            size += 1
        if progress is not None and size // PROGRESS_EVERY > (size - len(rows)) // PROGRESS_EVERY:
            progress(size)
    report.entries, report.cases = size, len(cases)
    while due is not None and size == due_at:
        _checkpoint(report, due, size, tree.root(), verifier)
        due = next(checkpoints, None)
        due_at = -1 if due is None else int(due["size"])
    if size < head.size:
        fail(f"head: the log's head says {head.size:,} entries; the store holds {size:,}")
    elif tree.root() != head.root:
        fail(f"head: the log's root is {tree.root().hex()[:16]}…; its head says {head.root.hex()[:16]}…")
    _right_edge(report, select, tree)
    if read_head(select) == head:  # the log is at rest: its tables must end where the replay did
        _at_rest(report, select, cases, size, due)
    else:
        report.notes.append(f"the log grew during the check: checked up to its size then, {head.size:,}")
    if report.checkpoints == 0:
        fail("checkpoints: none is signed: nothing ties the log to the key")
    return report


def _checkpoint(report: Report, row: dict[str, Any] | None, size: int, root: bytes, verifier: Verifier) -> None:
    """Compare a checkpoint with the root of the replayed tree at the checkpoint's `size`."""
    assert row is not None
    at = int(row["size"])
    report.checkpoints, report.newest = report.checkpoints + 1, at
    if row["root"] != root.hex():
        report.fail(f"checkpoint {at}: the log's root at that size is {root.hex()[:16]}…; the checkpoint's row "
                    f"says {str(row['root'])[:16]}…")
    try:
        signed = open_checkpoint(row["note"], verifier)
    except NoteError as problem:
        report.fail(f"checkpoint {at}: not signed by the trusted key: {problem}")
        return
    if signed.size != at:
        report.fail(f"checkpoint {at}: its signed note is of size {signed.size}")
    elif signed.root != root:
        report.fail(f"checkpoint {at}: it signs the root {signed.root.hex()[:16]}…, not the log's "
                    f"{root.hex()[:16]}… at that size")


def _right_edge(report: Report, select: Select, tree: Frontier) -> None:
    """The stored nodes the next append reads must be the replay's: else every later root is wrong."""
    wanted = frontier(tree.size)
    try:
        stored = read_nodes(select, wanted)
    except LookupError as problem:
        report.fail(f"tree: {problem}")
        return
    for (level, index), replayed in zip(wanted, tree.roots, strict=True):
        if stored[(level, index)] != replayed:
            report.fail(f"tree: the stored node ({level}, {index}) is not the hash of its entries")


def _at_rest(report: Report, select: Select, cases: dict[bytes, tuple[int, bytes]], size: int,
             beyond: dict[str, Any] | None) -> None:
    """Nothing past the head; each case's head as its chain ended; the newest checkpoint named as such."""
    if select(ENTRIES, after=idx_key(size - 1) if size else None, limit=1):
        report.fail(f"head: the store holds entries past the head's {size:,}")
    stored = 0
    for rows in _pages(select, CASES, PAGE):
        for row in rows:
            stored += 1
            ended = cases.get(row["case_id"].encode())
            if ended is None:
                report.fail(f"case {row['case_id']}: has a head but no entry")
            elif (str(ended[0]), ended[1].decode()) != (row["seq"], row["leaf"]):
                report.fail(f"case {row['case_id']}: its head (entry {row['seq']}) is not its last entry "
                            f"(entry {ended[0]})")
    if stored != len(cases):
        report.fail(f"cases: {len(cases) - stored:,} cases of the log have no head")
    named = select(HEAD, keys=[CHECKPOINT])
    if named and int(named[0]["size"]) != report.newest:
        report.fail(f"checkpoints: the head names checkpoint {named[0]['size']} as the newest, not {report.newest}")
    if beyond is not None:
        report.fail(f"checkpoint {int(beyond['size'])}: past the log's {size:,} entries")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True, help="the audit service's store: sqlite:///… or postgresql://…")
    parser.add_argument("--key", help="the verifier key you trust (default: the configured signing key's)")
    parser.add_argument("--page", type=int, default=PAGE, help="entries read per query")
    args = parser.parse_args(argv)
    if args.page < 1:
        parser.error("--page must be at least 1")
    try:
        verifier = Verifier.parse(args.key) if args.key else _configured_verifier()
    except NoteError as problem:
        print(f"not a verifier key: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        with _opened(args.store) as (select, entries):
            report = check(select, verifier, args.page, entries,
                           lambda n: print(f"  {n:,} entries checked", file=sys.stderr, flush=True))
    except (OSError, PersistenceError, sqlite3.Error, ValueError) as problem:
        print(f"cannot read the store: {type(problem).__name__}: {problem}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    for note in report.notes:
        print(f"note: {note}")
    for failure in report.failures:
        print(f"FAIL {failure}")
    if report.unlisted:
        print(f"FAIL … and {report.unlisted:,} more")
    if not report.valid:
        return 1
    print(f"ok: {report.entries:,} entries of {report.cases:,} cases, {report.checkpoints:,} signed checkpoints "
          f"(the newest at {report.newest:,}): every leaf, case chain and root checked in {seconds:.1f}s "
          f"({report.entries / seconds:,.0f} entries/s)")
    return 0


def _configured_verifier() -> Verifier:
    print("note: no --key given; trusting the configured signing key's verifier (make audit-key)", file=sys.stderr)
    return Signer.parse(str(service_config("audit")["AUDIT_SIGNING_KEY"])).verifier


@contextmanager
def _opened(url: str) -> Iterator[tuple[Select, Entries | None]]:
    """The store at `url` (never made where there is none): its index, and a SQLite file's entries read-only."""
    env = store_env(url)
    if env["PERSISTENCE_MODULE"].startswith("services.eventstore.memory"):
        raise ValueError("a memory store lives in its own process: nothing to check here")
    path = env.get("SQLITE_DBNAME")
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(f"no SQLite store at {path}")
    trail = Trail(env)
    try:
        if path is None:
            yield trail.select_rows, None
        else:
            with closing(sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)) as db:
                yield trail.select_rows, sqlite_entries(db)
    finally:
        trail.close()


if __name__ == "__main__":
    raise SystemExit(main())
