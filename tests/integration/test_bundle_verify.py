"""A case bundle checked offline by the standalone verifier (`make verify`), and every tampering of the store
or of the bundle it must catch: a changed byte, two entries reordered, an entry deleted, a log truncated and
re-appended, a checkpoint re-signed with another key, an opening that does not match."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from services.audit.application import Trail
from services.audit.log import ENTRIES, idx_key
from services.audit.note import Signer, generate_key, sign_note
from services.audit.verify import main
from services.eventstore import Put, Release, store_env
from tests.backends import TEST_CIPHER_KEY
from tests.trail_flows import SIGNER, SPOUSE_DIGEST, append, filed, opened


@pytest.fixture
def case(trail):
    """A case of three entries among others' (indexes 0, 2, 4 of six), checkpointed at 3 and at 6."""
    a = str(uuid.uuid4())
    append(trail, [(opened(a), None), (filed(str(uuid.uuid4())), None), (filed(a), None)])
    saved = trail.checkpoint_if_due(SIGNER, 1, 10)
    append(trail, [(filed(str(uuid.uuid4())), None), (filed(a), None), (None, b"junk")], first_offset=3)
    assert trail.checkpoint_if_due(SIGNER, 1, 10) is not None
    return a, saved


def verify(tmp_path: Path, bundle: dict, capsys, *, key: str | None = SIGNER.verifier.format(),
           saved: str | None = None) -> tuple[int, str]:
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    args = [str(tmp_path / "bundle.json")]
    if key is not None:
        args += ["--key", key]
    if saved is not None:
        (tmp_path / "saved").write_text(saved, encoding="utf-8")
        args += ["--saved", str(tmp_path / "saved")]
    code = main(args)
    return code, capsys.readouterr().out


def bundle_of(trail, case_id: str, since: int | None = None) -> dict:
    return {**trail.bundle(case_id, "gs", since), "verifier_key": SIGNER.verifier.format()}


def rewrite(trail, index: int, change) -> None:
    [row] = trail.select_rows(ENTRIES, keys=[idx_key(index)])
    trail.commit([], [Put(ENTRIES, {**row, "entry": change(row["entry"])})], [])


def test_a_bundle_verifies_with_the_trusted_key_and_the_checkpoint_kept_from_before(trail, case, tmp_path, capsys):
    a, saved = case
    bundle = bundle_of(trail, a, since=3)
    assert [e["index"] for e in bundle["entries"]] == [0, 2, 4] and bundle["size"] == 6
    code, out = verify(tmp_path, bundle, capsys, saved=saved)
    assert code == 0, out
    assert "3 entries included in the signed checkpoint of size 6, chained in order" in out
    assert "consistent with the saved checkpoint" in out
    trail.erase(a, SPOUSE_DIGEST)  # after erasure: fewer openings, the same entries, still valid
    assert verify(tmp_path, bundle_of(trail, a, since=3), capsys, saved=saved)[0] == 0


def test_a_changed_byte_of_an_entry_in_the_store_fails(trail, case, tmp_path, capsys):
    a, _ = case
    rewrite(trail, 2, lambda entry: entry.replace("2026-03-13", "2026-03-14"))
    code, out = verify(tmp_path, bundle_of(trail, a), capsys)
    assert code == 1 and "FAIL entry 2: its bytes do not hash to its leaf hash" in out


def test_two_entries_reordered_in_the_store_fail(trail, case, tmp_path, capsys):
    a, _ = case
    second, third = (r["entry"] for r in trail.select_rows(ENTRIES, keys=[idx_key(2), idx_key(4)]))
    rewrite(trail, 2, lambda _: third)
    rewrite(trail, 4, lambda _: second)
    code, out = verify(tmp_path, bundle_of(trail, a), capsys)
    assert code == 1 and "FAIL entry 2:" in out and "FAIL entry 4:" in out


def test_an_entry_deleted_from_the_store_breaks_the_case_chain(trail, case, tmp_path, capsys):
    a, _ = case
    trail.commit([], [Release(ENTRIES, idx_key(2))], [])
    code, out = verify(tmp_path, bundle_of(trail, a), capsys)
    assert code == 1 and "case entry 3 where 2 comes next (a gap or a reorder)" in out


def test_a_log_truncated_and_appended_again_is_not_an_extension_of_the_saved_checkpoint(trail, case, tmp_path,
                                                                                         capsys):
    _, saved = case
    forked = Trail(store_env("memory://", cipher_key=TEST_CIPHER_KEY))  # rebuilt from nothing under the same key
    try:
        b = str(uuid.uuid4())
        append(forked, [(opened(b), None), (filed(b), None), (filed(b), None), (filed(b), None)])
        forked.checkpoint_if_due(SIGNER, 1, 10)
        code, out = verify(tmp_path, {**forked.bundle(b, "gs", since=3), "verifier_key": SIGNER.verifier.format()},
                           capsys, saved=saved)
    finally:
        forked.close()
    assert code == 1 and "is not an extension of the saved one" in out


def test_a_checkpoint_re_signed_with_another_key_fails_against_the_trusted_key(trail, case, tmp_path, capsys):
    a, _ = case
    other = Signer.parse(generate_key(SIGNER.name)[0])
    bundle = bundle_of(trail, a)
    body = bundle["checkpoint"].split("\n\n")[0] + "\n"
    forged = {**bundle, "checkpoint": sign_note(body, other), "verifier_key": other.verifier.format()}
    code, out = verify(tmp_path, forged, capsys)
    assert code == 1 and "FAIL checkpoint: not signed by the trusted key" in out
    assert verify(tmp_path, forged, capsys, key=None)[0] == 0  # the bundle's own key proves only itself


def test_an_opening_that_does_not_match_its_commitment_fails(trail, case, tmp_path, capsys):
    a, _ = case
    bundle = bundle_of(trail, a)
    commitment = next(iter(bundle["openings"]))
    bundle["openings"][commitment] = {**bundle["openings"][commitment], "value": '"someone else"'}
    code, out = verify(tmp_path, bundle, capsys)
    assert code == 1 and "its value does not match the commitment" in out


def test_an_unreadable_or_malformed_bundle_is_refused_with_the_reason(trail, case, tmp_path, capsys):
    a, _ = case
    assert main([str(tmp_path / "missing.json")]) == 2
    bundle = bundle_of(trail, a)
    bundle["entries"][0]["inclusion"] = ["not hex"]
    code, out = verify(tmp_path, bundle, capsys)
    assert code == 1 and "FAIL malformed bundle" in out
