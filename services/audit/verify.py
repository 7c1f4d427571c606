"""`make verify BUNDLE=file [KEY=verifier key] [SAVED=checkpoint file]`: check a case bundle offline.

    python -m services.audit.verify bundle.json [--key '<origin>+<key id>+<public key>'] [--saved checkpoint.txt]

A bundle (`GET /cases/{id}/bundle[?since=<size>]`) holds a case's entries, each with its inclusion proof,
the signed checkpoint they are proved against, the log's verifier key and the openings of the personal
values the entries commit to. This checks, with nothing but the standard library and `cryptography`
(through services/audit/note.py and services/audit/merkle.py, which import nothing else):

* the checkpoint's signature, against the key the auditor trusts (`--key`; without it, the bundle's own
  key, which proves only that the bundle is consistent with itself: say so);
* every entry: its leaf hash, its index, its case, and its inclusion in the checkpoint's tree;
* the case's chain: entries 1, 2, 3… with no gap and no reordering, each naming the previous one's leaf hash;
* every opening against its commitment, and that an entry carries that commitment;
* with `--saved`, that the log is consistent with a checkpoint the auditor kept from before.

Exit 0 if everything holds; 1 with each failure named; 2 if the files cannot be read at all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from services.audit.note import Checkpoint, NoteError, Verifier, open_checkpoint

PROGRESS_EVERY = 10_000


def check(bundle: dict[str, Any], key: str | None, saved: str | None) -> Iterator[str]:
    """Every failure of the bundle, in the order found (nothing: it verifies)."""
    try:
        verifier = Verifier.parse(key or bundle["verifier_key"])
        checkpoint = open_checkpoint(bundle["checkpoint"], verifier)
    except (NoteError, KeyError, TypeError) as problem:
        yield f"checkpoint: not signed by the trusted key: {problem}"
        return
    if checkpoint.size != bundle.get("size"):
        yield f"checkpoint: size {checkpoint.size} is not the bundle's size {bundle.get('size')}"
    yield from _entries(bundle, checkpoint)
    if saved is not None:
        yield from _consistency(bundle, checkpoint, saved, verifier)


def _entries(bundle: dict[str, Any], checkpoint: Checkpoint) -> Iterator[str]:
    case_id = bundle.get("case_id")
    previous: tuple[int, str] | None = None
    seen: set[str] = set()
    entries = bundle.get("entries") or []
    for n, item in enumerate(entries, start=1):
        if n % PROGRESS_EVERY == 0:
            print(f"  {n:,} of {len(entries):,} entries checked", file=sys.stderr)
        where = f"entry {item.get('index')}"
        data = str(item.get("entry", "")).encode()
        leaf = leaf_hash(data)
        if leaf.hex() != item.get("leaf_hash"):
            yield f"{where}: its bytes do not hash to its leaf hash"
        proof = [bytes.fromhex(h) for h in item.get("inclusion") or []]
        if not verify_inclusion(leaf, int(item.get("index", -1)), checkpoint.size, proof, checkpoint.root):
            yield f"{where}: not included in the checkpoint's tree at that index"
        try:
            entry = json.loads(data)
        except ValueError:
            yield f"{where}: not JSON"
            continue
        if entry.get("index") != item.get("index"):
            yield f"{where}: the entry says it is index {entry.get('index')}"
        if entry.get("case_id") != case_id:
            yield f"{where}: belongs to case {entry.get('case_id')}, not {case_id}"
        expected_seq = 1 if previous is None else previous[0] + 1
        if entry.get("case_seq") != expected_seq:
            yield f"{where}: case entry {entry.get('case_seq')} where {expected_seq} comes next (a gap or a reorder)"
        expected_prev = None if previous is None else previous[1]
        if entry.get("prev_case_hash") != expected_prev:
            yield f"{where}: does not chain to the case's previous entry"
        previous = (entry.get("case_seq") or 0, leaf.hex())
        seen.update(_commitments(entry.get("event")))
    for commitment, opening in (bundle.get("openings") or {}).items():
        value = str(opening.get("value", "")).encode()
        if hashlib.sha256(bytes.fromhex(opening.get("salt", "")) + value).hexdigest() != commitment:
            yield f"opening {commitment[:16]}…: its value does not match the commitment"
        if commitment not in seen:
            yield f"opening {commitment[:16]}…: no entry of the bundle commits to it"


def _consistency(bundle: dict[str, Any], checkpoint: Checkpoint, saved: str, verifier: Verifier) -> Iterator[str]:
    try:
        earlier = open_checkpoint(saved, verifier)
    except NoteError as problem:
        yield f"saved checkpoint: not signed by the trusted key: {problem}"
        return
    if earlier.size > checkpoint.size:
        yield f"saved checkpoint: size {earlier.size} is newer than the bundle's {checkpoint.size}"
    elif earlier.size == checkpoint.size:
        if earlier.root != checkpoint.root:
            yield "saved checkpoint: same size, another root: the log was rewritten"
    else:
        proof = bundle.get("consistency") or {}
        if proof.get("from") != earlier.size:
            yield (f"saved checkpoint: the bundle proves consistency from size {proof.get('from')}, not "
                   f"{earlier.size}; ask for it with ?since={earlier.size}")
        elif not verify_consistency(earlier.size, checkpoint.size, earlier.root, checkpoint.root,
                                    [bytes.fromhex(h) for h in proof.get("hashes") or []]):
            yield f"saved checkpoint: the log of size {checkpoint.size} is not an extension of the saved one"


def _commitments(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {"commitment"} and isinstance(node["commitment"], str):
            yield node["commitment"]
            return
        for value in node.values():
            yield from _commitments(value)
    elif isinstance(node, list):
        for value in node:
            yield from _commitments(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--key", help="the verifier key you trust (default: the bundle's own)")
    parser.add_argument("--saved", type=Path, help="a signed checkpoint of this log you kept from before")
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(args.bundle.read_text(encoding="utf-8"))
        saved = args.saved.read_text(encoding="utf-8") if args.saved else None
    except (OSError, ValueError) as problem:
        print(f"cannot read the bundle or the saved checkpoint: {problem}", file=sys.stderr)
        return 2
    if not isinstance(bundle, dict):
        print("the bundle is not a JSON object", file=sys.stderr)
        return 2
    if args.key is None:
        print("note: no --key given; trusting the key the bundle names", file=sys.stderr)
    failures: list[str] = []
    try:
        failures.extend(check(bundle, args.key, saved))
    except (ValueError, TypeError, AttributeError) as problem:  # a field of the wrong shape: not a bundle we made
        failures.append(f"malformed bundle: {type(problem).__name__}: {problem}")
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        return 1
    print(f"ok: case {bundle.get('case_id')}: {len(bundle.get('entries') or [])} entries included in the signed "
          f"checkpoint of size {bundle.get('size')}, chained in order" + (", consistent with the saved checkpoint"
                                                                             if saved else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
