"""Tests for services/audit/note.py: C2SP signed notes and tlog checkpoints with Ed25519.

The fixed vector is the example in the package documentation of Go's golang.org/x/mod/sumdb/note
(v0.43.0, note.go): the PeterNeumann signer and verifier keys, the note it signs, and a second signature by
an EnochRoot key whose verifier key that page does not give. The checkpoint body is the example of
https://c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from services.audit.note import (
    BadSignatureError,
    Checkpoint,
    MalformedCheckpointError,
    MalformedKeyError,
    MalformedNoteError,
    NoteError,
    OriginMismatchError,
    Signer,
    UnknownKeyError,
    Verifier,
    generate_key,
    key_id,
    open_checkpoint,
    open_note,
    parse_note,
    sign_checkpoint,
    sign_note,
)

GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
GO_NOTE = GO_TEXT + "\n" + GO_SIGNATURE

C2SP_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

ORIGIN = "relief.example/audit"
SEED = hashlib.sha256(b"test log key").digest()
OTHER_SEED = hashlib.sha256(b"another key").digest()


@pytest.fixture
def signer() -> Signer:
    return Signer(ORIGIN, SEED)


def checkpoint(size: int = 7) -> Checkpoint:
    return Checkpoint(ORIGIN, size, hashlib.sha256(b"root %d" % size).digest())


# --- the Go package's vector --------------------------------------------------------------------------------


def test_go_verifier_key_parses_and_its_key_id_is_computed_the_same():
    verifier = Verifier.parse(GO_VERIFIER_KEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id == 0xC74F20A3 == key_id("PeterNeumann", verifier.public_key)
    assert verifier.format() == GO_VERIFIER_KEY


def test_go_signed_note_opens_with_its_verifier_key():
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER_KEY)) == GO_TEXT
    assert open_note(GO_NOTE.encode("utf-8"), Verifier.parse(GO_VERIFIER_KEY)) == GO_TEXT


def test_go_signer_key_round_trips_and_signs_the_same_note():
    signer = Signer.parse(GO_SIGNER_KEY)
    assert signer.format() == GO_SIGNER_KEY
    assert signer.verifier.format() == GO_VERIFIER_KEY
    assert sign_note(GO_TEXT, signer) == GO_NOTE  # Ed25519 is deterministic


def test_a_cosignature_by_an_unknown_key_is_ignored():
    doubly_signed = GO_NOTE + GO_ENOCH
    assert [s.name for s in parse_note(doubly_signed).signatures] == ["PeterNeumann", "EnochRoot"]
    assert open_note(doubly_signed, Verifier.parse(GO_VERIFIER_KEY)) == GO_TEXT


# --- keys ---------------------------------------------------------------------------------------------------


def test_key_strings_round_trip(signer):
    assert Signer.parse(signer.format()).verifier == signer.verifier
    assert Verifier.parse(signer.verifier.format()) == signer.verifier
    assert signer.verifier.format().startswith(f"{ORIGIN}+{signer.key_id:08x}+")


def test_generated_keys_pair_up():
    skey, vkey = generate_key(ORIGIN)
    signer = Signer.parse(skey)
    assert signer.verifier == Verifier.parse(vkey)
    assert open_note(sign_note("hello\n", signer), Verifier.parse(vkey)) == "hello\n"
    assert generate_key(ORIGIN)[0] != skey


def test_repr_of_a_signer_hides_its_seed(signer):
    assert signer.format().split("+")[-1] not in repr(signer)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # key id does not match
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
        "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # algorithm 2
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in the name
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # empty name
        "PeterNeumann+c74f20a3",
        GO_SIGNER_KEY,
    ],
)
def test_malformed_verifier_keys_are_refused(vkey):
    with pytest.raises(MalformedKeyError):
        Verifier.parse(vkey)


@pytest.mark.parametrize(
    "skey",
    [
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",  # key id
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD",  # short seed
        "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        GO_VERIFIER_KEY,
    ],
)
def test_malformed_signer_keys_are_refused(skey):
    with pytest.raises(MalformedKeyError):
        Signer.parse(skey)


def test_a_signer_needs_a_32_byte_seed_and_a_valid_name():
    with pytest.raises(MalformedKeyError):
        Signer(ORIGIN, SEED[:31])
    with pytest.raises(MalformedKeyError):
        Signer("a+b", SEED)


# --- signing and opening notes ------------------------------------------------------------------------------


def test_signature_covers_the_text_with_its_final_newline_only(signer):
    body = checkpoint().format()
    note = sign_note(body, signer)
    text, _, line = note.partition("\n\n")
    assert text + "\n" == body
    assert line.startswith(f"— {ORIGIN} ") and line.endswith("\n") and line.count("\n") == 1
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == signer.key_id.to_bytes(4, "big") and len(raw) == 68
    assert signer.verifier.verify(body.encode(), raw[4:])


def test_a_flipped_body_byte_fails_the_signature(signer):
    note = sign_note(checkpoint().format(), signer)
    tampered = note.replace("\n7\n", "\n8\n", 1)
    with pytest.raises(BadSignatureError, match="does not verify"):
        open_note(tampered, signer.verifier)


def test_a_signature_by_another_key_of_the_same_name_is_unknown(signer):
    note = sign_note(checkpoint().format(), Signer(ORIGIN, OTHER_SEED))
    with pytest.raises(UnknownKeyError, match=f"not signed by key {ORIGIN}"):
        open_note(note, signer.verifier)


def test_a_wrong_key_id_makes_the_line_unknown(signer):
    body = checkpoint().format()
    sig = (signer.key_id ^ 1).to_bytes(4, "big") + signer.sign(body.encode())
    note = f"{body}\n— {ORIGIN} {base64.b64encode(sig).decode()}\n"
    with pytest.raises(UnknownKeyError):
        open_note(note, signer.verifier)


def test_a_known_key_id_with_a_bad_signature_rejects_the_whole_note(signer):
    body = checkpoint().format()
    sig = signer.key_id.to_bytes(4, "big") + Signer(ORIGIN, OTHER_SEED).sign(body.encode())
    note = f"{body}\n— {ORIGIN} {base64.b64encode(sig).decode()}\n" + sign_note(body, signer).split("\n\n")[1]
    with pytest.raises(BadSignatureError):
        open_note(note, signer.verifier)


def test_a_note_signed_by_several_keys_opens_with_either(signer):
    other = Signer("witness.example", OTHER_SEED)
    note = sign_note(checkpoint().format(), signer, other)
    assert open_note(note, signer.verifier) == open_note(note, other.verifier) == checkpoint().format()


def _resigned(signer: Signer, transform) -> str:
    body, _, line = sign_note(checkpoint().format(), signer).partition("\n\n")
    return body + "\n\n" + transform(line)


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda line: line[2:], id="missing em dash"),
        pytest.param(lambda line: "- " + line[2:], id="hyphen instead of em dash"),
        pytest.param(lambda line: "– " + line[2:], id="en dash instead of em dash"),
        pytest.param(lambda line: "—" + line[2:], id="no space after the dash"),
        pytest.param(lambda line: "— " + line[1:], id="two spaces after the dash"),
        pytest.param(lambda line: line.replace(f"{ORIGIN} ", f"{ORIGIN}  "), id="two spaces before the signature"),
        pytest.param(lambda line: line[:-1] + " \n", id="trailing space"),
        pytest.param(lambda line: line[:-1], id="no final newline"),
        pytest.param(lambda line: line[:-1] + "\r\n", id="carriage return"),
        pytest.param(lambda line: line.replace("=", ""), id="unpadded base64"),
        pytest.param(lambda line: line.split(" ")[0] + " " + line.split(" ")[1] + " AAAA\n", id="too short"),
        pytest.param(lambda line: "", id="no signature line"),
    ],
)
def test_malformed_signature_lines_are_refused(signer, transform):
    with pytest.raises(MalformedNoteError):
        open_note(_resigned(signer, transform), signer.verifier)


def test_a_note_without_a_blank_line_is_malformed(signer):
    with pytest.raises(MalformedNoteError, match="blank line"):
        open_note(sign_note(checkpoint().format(), signer).replace("\n\n", "\n"), signer.verifier)


def test_a_note_that_is_not_utf8_is_malformed(signer):
    with pytest.raises(MalformedNoteError, match="UTF-8"):
        parse_note(b"\xff\n\n" + GO_SIGNATURE.encode())


def test_text_without_a_final_newline_cannot_be_signed(signer):
    with pytest.raises(MalformedNoteError, match="newline"):
        sign_note(checkpoint().format()[:-1], signer)


def test_a_body_without_a_final_newline_does_not_verify(signer):
    """Signed without its final newline, the body no longer matches what the signature covers."""
    body = checkpoint().format()
    sig = signer.key_id.to_bytes(4, "big") + signer.sign(body[:-1].encode())
    note = f"{body}\n— {ORIGIN} {base64.b64encode(sig).decode()}\n"
    with pytest.raises(BadSignatureError):
        open_note(note, signer.verifier)


def test_all_errors_are_note_errors():
    assert all(
        issubclass(e, NoteError)
        for e in (MalformedKeyError, MalformedNoteError, MalformedCheckpointError, UnknownKeyError, BadSignatureError)
    )


# --- checkpoints --------------------------------------------------------------------------------------------


def test_c2sp_example_checkpoint_parses_and_formats_back():
    cp = Checkpoint.parse(C2SP_BODY)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.format() == C2SP_BODY


def test_empty_log_checkpoint():
    cp = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    assert cp.format() == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert Checkpoint.parse(cp.format()) == cp


def test_extension_lines_are_kept():
    body = C2SP_BODY + "ext one\next two\n"
    assert Checkpoint.parse(body).extensions == ("ext one", "ext two")
    assert Checkpoint.parse(body).format() == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(C2SP_BODY[:-1], id="no final newline"),
        pytest.param(C2SP_BODY.replace("20852163", "020852163"), id="leading zero"),
        pytest.param(C2SP_BODY.replace("20852163", "+20852163"), id="sign"),
        pytest.param(C2SP_BODY.replace("20852163", "2085216x"), id="not decimal"),
        pytest.param(C2SP_BODY.replace("20852163", "２０８"), id="non-ASCII digits"),
        pytest.param(C2SP_BODY.replace("20852163", ""), id="empty size"),
        pytest.param(C2SP_BODY.replace("20852163", str(1 << 63)), id="size beyond int64"),
        pytest.param(C2SP_BODY.replace("jxq2I=", "jxq2I"), id="root without padding"),
        pytest.param(C2SP_BODY.replace("jxq2I=", "jxq2Iw=="), id="root too long"),
        pytest.param(C2SP_BODY.replace("CsUYapGGPo4dkMgIAUqom/", "CsUYapGGPo4dkMgIAUqom_"), id="url-safe base64"),
        pytest.param(C2SP_BODY.replace("jxq2I=", "jxq2J="), id="non-canonical base64"),
        pytest.param("\n" + C2SP_BODY.split("\n", 1)[1], id="empty origin"),
        pytest.param(C2SP_BODY + "\n", id="empty extension line"),
        pytest.param("example.com\n5\n", id="two lines"),
        pytest.param(C2SP_BODY.replace("\n", "\r\n"), id="CRLF"),
    ],
)
def test_malformed_checkpoints_are_refused(body):
    with pytest.raises(MalformedCheckpointError):
        Checkpoint.parse(body)


def test_signed_checkpoint_opens_to_the_same_checkpoint(signer):
    assert open_checkpoint(sign_checkpoint(checkpoint(70_123), signer), signer.verifier) == checkpoint(70_123)


def test_a_checkpoint_is_signed_only_by_the_key_named_for_its_origin(signer):
    with pytest.raises(OriginMismatchError):
        sign_checkpoint(Checkpoint("other.example/log", 1, SEED), signer)
    note = sign_note(Checkpoint("other.example/log", 1, SEED).format(), signer)
    with pytest.raises(OriginMismatchError, match="is not the key name"):
        open_checkpoint(note, signer.verifier)


def test_an_opened_checkpoint_with_a_wrong_key_fails(signer):
    with pytest.raises(UnknownKeyError):
        open_checkpoint(sign_checkpoint(checkpoint(), signer), Signer(ORIGIN, OTHER_SEED).verifier)
