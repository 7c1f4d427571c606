"""Trail entries: the canonical bytes the log hashes, with personal data kept out of them.

An entry is the RFC 8785 canonical JSON of

    {"index", "case_id", "case_seq", "prev_case_hash", "source": {"topic", "partition", "offset"}, "event"}

where `event` is the consumed envelope *sealed*: every personal value in it (names, relations, health,
employer, phones, masked ID numbers, free text about the household) is replaced by a commitment
`{"commitment": hex SHA-256(salt ‖ canonical value)}` with a random 16-byte salt per value. The value and
its salt are kept beside the log in an erasable store (`Secret`); a view that shows the value proves it
matches its commitment (`reveal`), and once the secret is erased the same view says "erased" while the
entry, and so the log, is unchanged.

`case_seq` counts a case's entries from 1 and `prev_case_hash` is the leaf hash (hex) of the case's
previous entry: a chain per case inside the global log. A message that is not a valid event is still one
entry (`rejected_entry`: its source, the SHA-256 of its raw bytes, the reason), so every source offset
maps to exactly one entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

from services.audit.merkle import MAX_ENTRY_SIZE

# Keys whose values are personal data wherever they appear in an event's payload (any service). A value
# under one of them is committed to, never written into an entry.
PERSONAL_KEYS = frozenset({
    "name", "relation", "health", "schooling", "employment", "employer", "phone", "phone_masked",
    "id_number_masked", "contact", "address", "findings", "notes", "description", "result", "changes",
    "certificate", "position",
})
ERASED = "erased"
SAFE_INTEGER = 2**53 - 1  # RFC 8785 (I-JSON) numbers are IEEE doubles: integers beyond are refused


class EntryTooLarge(Exception):
    """An entry over the tile format's 65,535 bytes: the trail refuses it (the partition stalls), never truncates."""


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    @property
    def key(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class Secret:
    """A personal value kept beside the log: its commitment, salt, canonical value, and whose it is."""

    commitment: str
    salt: str  # hex
    value: str  # canonical JSON of the value
    case_id: str
    subject: str  # the person's id digest, or the case id for the household's own data


def canonical(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON value.

    For a value without floats, without integers beyond ±2^53 and with ASCII object keys — every event the
    contracts accept — RFC 8785 is exactly Python's sorted, compact, non-ASCII-preserving JSON: keys sorted
    by code unit, strings escaped only where JSON must (`"`, `\\`, control characters, as \\n or lower-case
    \\u00XX), integers as digits. That costs a tenth of the rfc8785 package's pure-Python encoder; any other
    value goes to the package. tests/unit/test_canonical.py holds the two to the same bytes."""
    if _plain(value):
        return _JSON.encode(value).encode()
    return rfc8785.dumps(value)


_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # one, not one a call


def _plain(value: Any) -> bool:
    """Whether json.dumps gives the value's RFC 8785 bytes (a loop, not a recursion: every entry is checked)."""
    stack = [value]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is str or node is None or kind is bool:
            continue
        if kind is int:
            if not -SAFE_INTEGER <= node <= SAFE_INTEGER:
                return False
        elif kind is dict:
            for key in node:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(node.values())
        elif kind is list:
            stack.extend(node)
        else:
            return False
    return True


def commitment(salt: bytes, value: bytes) -> str:
    """SHA-256(salt ‖ canonical value), hex: what an entry holds in place of a personal value."""
    return hashlib.sha256(salt + value).hexdigest()


def seal(envelope: Mapping[str, Any], salt: Callable[[], bytes] = lambda: os.urandom(16)) -> tuple[dict[str, Any],
                                                                                                    list[Secret]]:
    """The envelope with every personal value replaced by its commitment, and the secrets to keep aside."""
    sealed, secrets, _ = seal_checked(envelope, salt)
    return sealed, secrets


def seal_checked(envelope: Mapping[str, Any], salt: Callable[[], bytes] = lambda: os.urandom(16)
                 ) -> tuple[dict[str, Any], list[Secret], bool]:
    """`seal`, and whether the sealed envelope is plain JSON (`_plain`: json.dumps gives its RFC 8785 bytes),
    found on the same walk, so that `entry_bytes` need not walk the event a second time."""
    case_id = str(envelope.get("case_id") or "")
    secrets: list[Secret] = []
    plain = True

    def walk(node: Any, subject: str) -> Any:
        nonlocal plain
        kind = type(node)
        if kind is dict:
            digest = node.get("id_digest")
            owner = digest if isinstance(digest, str) else subject
            sealed: dict[str, Any] = {}
            for key, value in node.items():
                if type(key) is not str or not key.isascii():
                    plain = False
                if key in PERSONAL_KEYS and value is not None:
                    s, text = salt(), canonical(value)
                    c = commitment(s, text)
                    secrets.append(Secret(c, s.hex(), text.decode(), case_id, owner))
                    sealed[key] = {"commitment": c}
                else:
                    sealed[key] = walk(value, owner)
            return sealed
        if kind is list:
            return [walk(item, subject) for item in node]
        if isinstance(node, dict | list):  # a subclass: sealed alike, but left to rfc8785 to encode
            plain = False
            return walk(dict(node), subject) if isinstance(node, dict) else [walk(i, subject) for i in node]
        if not (kind is str or node is None or kind is bool or (kind is int and -SAFE_INTEGER <= node <= SAFE_INTEGER)):
            plain = False
        return node

    payload = envelope.get("payload")
    sealed_envelope = {k: v for k, v in envelope.items() if k != "payload"}
    plain = _plain(sealed_envelope)
    sealed_envelope["payload"] = walk(payload, case_id)
    return sealed_envelope, secrets, plain


def entry_bytes(
    index: int, case_id: str | None, case_seq: int | None, prev_case_hash: str | None, source: Source,
    event: Mapping[str, Any], event_plain: bool = False,
) -> bytes:
    """The canonical bytes of one entry; EntryTooLarge over 65,535 bytes. `event_plain`: `seal_checked` found
    the event plain JSON, so only the entry's own fields are checked before json.dumps writes it."""
    entry = {"index": index, "case_id": case_id, "case_seq": case_seq, "prev_case_hash": prev_case_hash,
             "source": source.as_dict()}
    if event_plain and type(event) is dict and _plain(entry):
        entry["event"] = event
        data = _JSON.encode(entry).encode()
    else:
        entry["event"] = dict(event)
        data = canonical(entry)
    if len(data) > MAX_ENTRY_SIZE:
        raise EntryTooLarge(f"the entry for {source.key} is {len(data):,} bytes; a trail entry is at most "
                            f"{MAX_ENTRY_SIZE:,}")
    return data


def rejected_event(raw: bytes | None, reason: str) -> dict[str, Any]:
    """What stands in the trail for a source message that is not a valid event."""
    data = raw or b""
    return {"type": "SourceRejected", "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "reason": reason[:1000]}


def reveal(event: Mapping[str, Any], secrets: Mapping[str, Secret]) -> tuple[dict[str, Any], int]:
    """The sealed event with each commitment replaced by its value where the secret is kept and matches it,
    or by "erased"; and how many were erased. A kept secret that does not match its commitment is an error
    (ValueError): the store beside the log was tampered with."""
    erased = 0

    def walk(node: Any) -> Any:
        nonlocal erased
        if isinstance(node, dict):
            if set(node) == {"commitment"} and isinstance(node["commitment"], str):
                secret = secrets.get(node["commitment"])
                if secret is None:
                    erased += 1
                    return ERASED
                if commitment(bytes.fromhex(secret.salt), secret.value.encode()) != node["commitment"]:
                    raise ValueError(f"the kept value of commitment {node['commitment'][:16]}… does not match it")
                return json.loads(secret.value)
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(dict(event)), erased
