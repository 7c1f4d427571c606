"""A standard client reads our log: Go's golang.org/x/mod/sumdb (note, tlog) checks what Python wrote.

The log (over 70,000 entries, so three tile levels with partial tiles on each) is built with
services/audit/merkle.py and signed with services/audit/note.py, then served by the static fixture
tests/harness/tlog_server.py; the Go program tests/interop/tlogclient is built once per session and checks
the checkpoint's signature, every hash tile, every entry bundle, inclusion proofs and consistency with an
earlier checkpoint. Each tampered log must make it fail with a message naming the problem.
"""

from __future__ import annotations

import base64
import hashlib
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.audit.merkle import decode_entry_bundle, entries_path, tile_path
from services.audit.note import Checkpoint, Signer, sign_checkpoint
from tests.harness.tlog_server import StaticLog, TlogServer

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "relief.example/audit-interop"
SIZE = 70_123  # 273 full level-0 tiles and a partial one; a partial level-1 and level-2 tile
BOUNDARIES = [0, 1, 255, 256, 257, 65_535, 65_536, 65_537, SIZE - 1]
SAVED_SIZES = [1_000, 65_536 + 7]


def make_entries(count: int, seed: int) -> list[bytes]:
    """Deterministic entries of 0 to 400 bytes."""
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(0, 401)) for _ in range(count)]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def served(log: StaticLog, path: str) -> bytes:
    found = log.read(path)
    assert found is not None, path
    return found[0]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(ORIGIN, hashlib.sha256(b"interop test log key").digest())


@pytest.fixture(scope="module")
def log(signer) -> StaticLog:
    return StaticLog(make_entries(SIZE, seed=9), signer)


@pytest.fixture(scope="module")
def server(log) -> Iterator[TlogServer]:
    with TlogServer(log) as running:
        yield running


@pytest.fixture
def tamper(log) -> Iterator[dict[str, bytes]]:
    """Paths to serve other bytes at, for one test."""
    yield log.overrides
    log.overrides.clear()


@pytest.fixture
def client(tlogclient, server, signer, tmp_path):
    """Run the Go client against a served log; ``saved`` is a signed checkpoint to write to a file."""

    def run(
        *args: str, url: str | None = None, key: str | None = None, saved: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [str(tlogclient), "-url", url or server.url, "-key", key or signer.verifier.format(), *args]
        if saved is not None:
            (tmp_path / "saved").write_text(saved, encoding="utf-8")
            command += ["-saved", str(tmp_path / "saved")]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    return run


def passed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], check: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"FAIL {check}:")]
    assert lines, result.stdout
    return lines[0]


# --- the log as written passes every check ------------------------------------------------------------------


def test_go_client_verifies_signature_tiles_entries_inclusion_and_consistency(client, log):
    out = passed(
        client("-check-entries", "-inclusion", ",".join(map(str, BOUNDARIES)), saved=log.signed_checkpoint(1_000))
    )
    root = base64.b64encode(log.tree.root_at(SIZE)).decode()
    assert f"ok   checkpoint: origin {ORIGIN}, size {SIZE}, root {root}, signed by {ORIGIN}+" in out
    assert f"ok   hash tiles: {SIZE // 256 + 1 + 2 + 1} tiles on 3 levels" in out
    assert f"ok   entry bundles: {SIZE} entries in {SIZE // 256 + 1} bundles" in out
    for index in BOUNDARIES:
        assert f"ok   inclusion {index}: entry {index} " in out
    assert "ok   consistency: size 70123" in out and "extends the saved size 1000" in out


@pytest.mark.parametrize("size", [*SAVED_SIZES, SIZE])
def test_go_client_proves_consistency_with_an_earlier_checkpoint(client, log, size):
    out = passed(client(saved=log.signed_checkpoint(size)))
    assert "ok   consistency:" in out


def test_go_client_reads_full_tiles_when_the_partial_tiles_of_an_older_checkpoint_are_gone(client, log):
    older = SIZE - 300  # tile 272 was partial at this size and is full now
    behind = StaticLog(log.entries, log.signer, size=older)
    assert behind.read(tile_path(0, older // 256, older % 256)) is None
    assert behind.read(entries_path(older // 256, older % 256)) is None
    with TlogServer(behind) as stale:
        out = passed(client("-check-entries", "-inclusion", f"0,{older - 1}", url=stale.url))
    assert f"ok   entry bundles: {older} entries in {older // 256 + 1} bundles" in out


# --- tampered logs fail, naming what is wrong ---------------------------------------------------------------


def test_a_flipped_byte_in_an_entry_bundle_fails_the_entries(client, log, tamper):
    path = entries_path(100)
    bundle = served(log, path)
    entries = decode_entry_bundle(bundle)
    item = next(i for i, e in enumerate(entries) if e)  # the first non-empty entry
    offset = sum(2 + len(e) for e in entries[:item]) + 2
    tamper[path] = flip(bundle, offset)
    line = failed(client("-check-entries"), "entry bundles")
    assert f"entry {100 * 256 + item} (item {item} of {path})" in line
    failed(client("-inclusion", str(100 * 256 + item)), f"inclusion {100 * 256 + item}")


@pytest.mark.parametrize(("level", "index"), [(0, 100), (0, SIZE // 256 - 1), (1, 0)])
def test_a_flipped_byte_in_a_hash_tile_fails_the_tiles(client, log, tamper, level, index):
    path = tile_path(level, index)
    tamper[path] = flip(served(log, path), 5)
    line = failed(client(), "hash tiles")
    assert f"hash tile {path}: downloaded inconsistent tile" in line


def test_a_partial_tile_on_the_right_edge_fails_against_the_root(client, log, tamper):
    path = tile_path(0, SIZE // 256, SIZE % 256)
    tamper[path] = flip(served(log, path), 0)
    failed(client(), "hash tiles")


def test_a_checkpoint_resigned_with_another_key_fails_the_signature(client, log, tamper):
    impostor = Signer(ORIGIN, hashlib.sha256(b"impostor").digest())
    body = Checkpoint.parse(log.checkpoint.split("\n\n")[0] + "\n")
    tamper["checkpoint"] = sign_checkpoint(body, impostor).encode()
    result = client()
    line = failed(result, "checkpoint")
    assert f"no signature by the trusted key {ORIGIN}+" in line and f"signed only by {ORIGIN}+" in line
    assert "hash tiles" not in result.stdout


def test_a_checkpoint_with_a_changed_size_fails_the_signature(client, log, tamper):
    tamper["checkpoint"] = log.checkpoint.replace(f"\n{SIZE}\n", f"\n{SIZE - 1}\n").encode()
    assert "bad signature" in failed(client(), "checkpoint")


@pytest.mark.parametrize("size", SAVED_SIZES)
def test_a_saved_checkpoint_of_a_forked_log_fails_consistency(client, signer, size):
    entries = make_entries(size, seed=9)
    entries[size // 2] += b"forked"
    fork = StaticLog(entries, signer)  # the same key signed a split view
    line = failed(client(saved=fork.checkpoint), "consistency")
    assert f"does not extend the saved tree of size {size}" in line and "forked" in line


def test_a_saved_checkpoint_larger_than_the_log_fails_consistency(client, signer):
    fork = StaticLog(make_entries(SIZE + 1, seed=9), signer)
    assert "the log shrank or forked" in failed(client(saved=fork.checkpoint), "consistency")


def test_a_wrong_verifier_key_fails_the_signature(client):
    stranger = Signer(ORIGIN, hashlib.sha256(b"stranger").digest())
    line = failed(client(key=stranger.verifier.format()), "checkpoint")
    assert f"no signature by the trusted key {stranger.verifier.format().rsplit('+', 1)[0]}" in line


def test_a_key_named_for_another_origin_fails_the_signature(client, signer):
    other = Signer("other.example/log", hashlib.sha256(b"interop test log key").digest())
    assert "no signature by the trusted key other.example/log+" in failed(
        client(key=other.verifier.format()), "checkpoint"
    )
