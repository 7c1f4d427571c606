"""Signed checkpoints of the audit trail (issue 9): C2SP signed-note and tlog-checkpoint with Ed25519.

A *note* is UTF-8 text ending in a newline, a blank line, then one or more signature lines
``"— <key name> <base64(key id || signature)>\\n"`` (U+2014 and one space). The signature covers the text
including its final newline and nothing else. The key id is the first four bytes, big-endian, of
``SHA-256(name || 0x0A || 0x01 || public key)``. A *checkpoint* is a note whose text is
``"<origin>\\n<size>\\n<base64 root>\\n"`` (plus optional extension lines); the log signs it under a key whose
name is the origin. Keys travel as one string each, in the form Go's ``golang.org/x/mod/sumdb/note`` uses:
``<name>+<hex id>+<base64(0x01 || public key)>`` and ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``.

Specs: https://c2sp.org/signed-note and https://c2sp.org/tlog-checkpoint. Standard library and
``cryptography`` only, so a standalone offline verifier can import this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
_MAX_SIZE = (1 << 63) - 1  # Go's tlog counts leaves in an int64


class NoteError(ValueError):
    """A key, note or checkpoint that must not be trusted; the message says why."""


class MalformedKeyError(NoteError):
    """A signer or verifier key string that does not parse, or whose key id does not match its key."""


class MalformedNoteError(NoteError):
    """Bytes that are not a signed note: framing, encoding or a signature line is wrong."""


class MalformedCheckpointError(NoteError):
    """A note text that is not a checkpoint body (origin, decimal size, base64 root, newline-terminated)."""


class UnknownKeyError(NoteError):
    """No signature line of the note is by the trusted key (name and key id)."""


class BadSignatureError(NoteError):
    """A signature line by the trusted key whose signature does not verify."""


class OriginMismatchError(NoteError):
    """A checkpoint whose origin is not the name of the key that signs it."""


def _b64decode(text: str, what: str, error: type[NoteError]) -> bytes:
    """Strict standard base64 with padding; anything else (spaces, URL alphabet, loose bits) is refused."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not standard base64: {text!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise error(f"{what} is not canonical base64: {text!r}")
    return raw


def check_key_name(name: str) -> str:
    """Return ``name`` if it can name a key: non-empty, no Unicode space, no plus."""
    if not name or any(c.isspace() for c in name) or "+" in name or _CONTROL.search(name):
        raise MalformedKeyError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public_key: bytes) -> int:
    """The 32-bit key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 public key and its name: what an auditor configures to check the log's notes."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.public_key) != 32:
            raise MalformedKeyError(f"an Ed25519 public key is 32 bytes, got {len(self.public_key)}")

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Read a verifier key string ``<name>+<8 hex key id>+<base64(0x01 || public key)>``."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not _HEX_ID.fullmatch(parts[1]):
            raise MalformedKeyError(f"a verifier key is <name>+<8 hex digits>+<base64 key>, got {vkey!r}")
        name, hex_id, key64 = parts
        raw = _b64decode(key64, "verifier key data", MalformedKeyError)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise MalformedKeyError("verifier key data must be 0x01 (Ed25519) followed by a 32-byte public key")
        verifier = cls(name, raw[1:])
        if verifier.key_id != int(hex_id, 16):
            raise MalformedKeyError(f"verifier key id {hex_id} does not match its name and key ({verifier.key_id:08x})")
        return verifier

    def format(self) -> str:
        """The verifier key string, to hand to auditors."""
        key64 = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{key64}"

    def __str__(self) -> str:
        return self.format()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """The log's Ed25519 signing key, built from its name and 32-byte private seed."""

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if len(seed) != 32:
            raise MalformedKeyError(f"an Ed25519 private seed is 32 bytes, got {len(seed)}")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._seed = bytes(seed)
        self.verifier = Verifier(name, self._key.public_key().public_bytes_raw())

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """Read a signer key string ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX_ID.fullmatch(parts[3]):
            raise MalformedKeyError("a signer key is PRIVATE+KEY+<name>+<8 hex digits>+<base64 seed>")
        raw = _b64decode(parts[4], "signer key data", MalformedKeyError)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise MalformedKeyError("signer key data must be 0x01 (Ed25519) followed by a 32-byte seed")
        signer = cls(parts[2], raw[1:])
        if signer.key_id != int(parts[3], 16):
            raise MalformedKeyError(f"signer key id {parts[3]} does not match the key's public half")
        return signer

    def format(self) -> str:
        """The signer key string: a secret, for configuration only."""
        seed64 = base64.b64encode(bytes([ALG_ED25519]) + self._seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{seed64}"

    def __repr__(self) -> str:  # never print the seed
        return f"Signer({self.verifier.format()!r})"

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)


def generate_key(name: str) -> tuple[str, str]:
    """A new random key named ``name``: its signer key string (secret) and its verifier key string."""
    signer = Signer(name, os.urandom(32))
    return signer.format(), signer.verifier.format()


# --- notes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line of a note, not yet verified."""

    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A note's text (ending in a newline) and its signature lines, as parsed."""

    text: str
    signatures: tuple[Signature, ...]


def _check_text(text: str, what: str, error: type[NoteError]) -> None:
    if _CONTROL.search(text):
        raise error(f"{what} must not contain control characters other than newline")
    if not text.endswith("\n"):
        raise error(f"{what} must end with a newline")


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note: ``text``, a blank line, and one signature line per signer."""
    _check_text(text, "a note's text", MalformedNoteError)
    if not signers:
        raise ValueError("a note needs at least one signer")
    message = text.encode("utf-8")
    lines = []
    for signer in signers:
        sig64 = base64.b64encode(signer.key_id.to_bytes(4, "big") + signer.sign(message)).decode("ascii")
        lines.append(f"{SIGNATURE_PREFIX}{signer.name} {sig64}\n")
    return text + "\n" + "".join(lines)


def _signature_line(line: str, number: int) -> Signature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line {number} does not start with an em dash and a space: {line!r}")
    name, _, sig64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        check_key_name(name)
    except MalformedKeyError as exc:
        raise MalformedNoteError(f"signature line {number}: {exc}") from exc
    raw = _b64decode(sig64, f"signature line {number}", MalformedNoteError)
    if len(raw) < 5:
        raise MalformedNoteError(f"signature line {number} is too short to hold a key id and a signature")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def parse_note(message: bytes | str) -> Note:
    """Split a signed note into its text and signature lines, checking the framing but no signature."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNoteError(f"a note must be valid UTF-8: {exc}") from exc
    if _CONTROL.search(message):
        raise MalformedNoteError("a note must not contain control characters other than newline")
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("no blank line separates the note's text from its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("a note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"a note may carry at most {MAX_SIGNATURES} signatures, this one has {len(lines)}")
    return Note(text, tuple(_signature_line(line, i) for i, line in enumerate(lines, 1)))


def open_note(message: bytes | str, verifier: Verifier) -> str:
    """The text of ``message`` once a signature by ``verifier`` checks; other keys' lines are ignored."""
    note = parse_note(message)
    mine = [s for s in note.signatures if s.name == verifier.name and s.key_id == verifier.key_id]
    if not mine:
        found = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.signatures)
        raise UnknownKeyError(f"note is not signed by key {verifier.name}+{verifier.key_id:08x} (signed by {found})")
    body = note.text.encode("utf-8")
    for sig in mine:
        if not verifier.verify(body, sig.signature):
            raise BadSignatureError(f"signature by key {verifier.name}+{verifier.key_id:08x} does not verify")
    return note.text


# --- checkpoints --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, size and RFC 6962 root, with optional extension lines (not recommended)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or _CONTROL.search(self.origin):
            raise MalformedCheckpointError(f"invalid checkpoint origin {self.origin!r}")
        if not 0 <= self.size <= _MAX_SIZE:
            raise MalformedCheckpointError(f"checkpoint size {self.size} is outside 0..{_MAX_SIZE}")
        if len(self.root) != 32:
            raise MalformedCheckpointError(f"a root hash is 32 bytes, got {len(self.root)}")
        for line in self.extensions:
            if not line or "\n" in line or _CONTROL.search(line):
                raise MalformedCheckpointError(f"invalid checkpoint extension line {line!r}")

    def format(self) -> str:
        """The checkpoint body: ``"<origin>\\n<size>\\n<base64 root>\\n"`` and any extension lines."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint body, refusing anything the spec does not allow."""
        _check_text(text, "a checkpoint", MalformedCheckpointError)
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not all(lines):
            raise MalformedCheckpointError("a checkpoint is at least three non-empty lines: origin, size, root")
        origin, size, root64, *extensions = lines
        if not _DECIMAL.fullmatch(size):
            raise MalformedCheckpointError(f"checkpoint size {size!r} is not a decimal number without leading zeros")
        if len(root64) != 44:
            raise MalformedCheckpointError(f"checkpoint root {root64!r} is not 44 base64 characters")
        root = _b64decode(root64, "checkpoint root", MalformedCheckpointError)
        return cls(origin, int(size), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a note signed by the log's key, whose name must be the origin."""
    if signer.name != checkpoint.origin:
        raise OriginMismatchError(f"key {signer.name!r} cannot sign checkpoints of origin {checkpoint.origin!r}")
    return sign_note(checkpoint.format(), signer)


def open_checkpoint(message: bytes | str, verifier: Verifier) -> Checkpoint:
    """The checkpoint in a signed note, once the log's key (named for the origin) has verified it."""
    checkpoint = Checkpoint.parse(open_note(message, verifier))
    if checkpoint.origin != verifier.name:
        raise OriginMismatchError(f"checkpoint origin {checkpoint.origin!r} is not the key name {verifier.name!r}")
    return checkpoint
