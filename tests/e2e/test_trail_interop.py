"""A standard client reads the live trail: the audit service, fed over 70,000 messages, checked by the Go
client on golang.org/x/mod/sumdb (signature, every tile, every entry bundle, inclusion, consistency with a
checkpoint saved earlier); then erasure leaves it verifying, and one changed byte in the store fails it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.audit.note import Signer
from services.config import DEV_AUDIT_SIGNING_KEY, DEV_JWT_SECRET, service_config
from services.contracts import Envelope, encode
from services.transport import transport_for
from services.web.auth import issue_token
from tests.harness.services import ProcessSystem, environment

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "relief.intake.case-events"
COUNT = 70_100  # three tile levels: 273 full level-0 tiles and partial ones on every level
SECRET_NAME = "欧阳待删"
PERSON = "c" * 64
VERIFIER = Signer.parse(DEV_AUDIT_SIGNING_KEY).verifier.format()


def opened(spouse: str, digest: str) -> dict:
    return {"worker": {"name": "王芳", "id_number_masked": "6204**********0012", "id_digest": "a" * 64,
                       "phone_masked": "139****5678", "employer": "白银公司", "migrant": False},
            "household": {"members": [{"name": spouse, "relation": "spouse", "age": 40, "health": "good",
                                       "schooling": "none", "id_number_masked": "6204**********1234",
                                       "id_digest": digest}],
                          "monthly_income": "1200.00", "subsistence_line": "800.00", "per_capita_income": "600.00"},
            "category": "subsistence", "causes": ["illness"], "opened_by": "li", "imported": None}


def envelopes(count: int) -> list[tuple[str, bytes]]:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    cases = [str(uuid.uuid4()) for _ in range(500)]
    out = []
    for n in range(count):
        case_id = cases[n % len(cases)]
        payload = {"filed_on": "2026-03-13"}
        kind = "CaseFiled"
        if n == 7:
            kind, payload = "CaseOpened", opened(SECRET_NAME, PERSON)
        out.append((case_id, encode(Envelope(str(uuid.uuid4()), kind, 1, at, at, "gs.by", case_id, "intake",
                                             payload))))
    return out


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    data = tmp_path_factory.mktemp("trail")
    system = ProcessSystem(environment(data), services=("audit",))
    system.start(extra={"RELIEF_AUDIT_CHECKPOINT_SECONDS": "1"})
    yield system, data
    system.stop()


def checkpoint(system: ProcessSystem) -> str:
    return system.client("audit", "auditor", "gs", "shen").get("/log/checkpoint").text


def size_of(note: str) -> int:
    return int(note.split("\n")[1])


def wait_for_size(system: ProcessSystem, size: int, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    note = checkpoint(system)
    while size_of(note) < size and time.monotonic() < deadline:
        time.sleep(0.5)
        note = checkpoint(system)
    assert size_of(note) >= size, note
    return note


def go(tlogclient: Path, system: ProcessSystem, tmp: Path, saved: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp / "saved").write_text(saved, encoding="utf-8")
    token = issue_token(DEV_JWT_SECRET, "shen", "auditor", "gs")
    return subprocess.run([str(tlogclient), "-url", system.url("audit") + "/log", "-key", VERIFIER, "-token", token,
                           "-saved", str(tmp / "saved"), *extra], capture_output=True, text=True, timeout=300)


def offline(system: ProcessSystem, case_id: str, saved: str, tmp: Path) -> subprocess.CompletedProcess:
    """The case's bundle from the service, checked by the standalone verifier as `make verify` runs it."""
    auditor = system.client("audit", "auditor", "gs", "shen")
    answer = auditor.get(f"/cases/{case_id}/bundle?since={size_of(saved)}")
    assert answer.status_code == 200, answer.text
    (tmp / "bundle.json").write_text(answer.text, encoding="utf-8")
    (tmp / "saved").write_text(saved, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "services.audit.verify", str(tmp / "bundle.json"), "--key", VERIFIER,
                           "--saved", str(tmp / "saved")], capture_output=True, text=True, timeout=120, cwd=ROOT)


def tool(system: ProcessSystem, module: str, *args: str) -> subprocess.CompletedProcess:
    """One of the trail's command-line tools (services/audit/<module>.py), in the system's environment."""
    return subprocess.run([sys.executable, "-m", f"services.audit.{module}", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, **system.env})


def test_the_go_client_verifies_the_live_trail_through_erasure_and_fails_on_a_changed_byte(audit, tlogclient,
                                                                                            tmp_path):
    system, data = audit
    publisher = transport_for(service_config("audit", system.env)["TRANSPORT_URL"]).publisher()
    messages = envelopes(COUNT)
    half = COUNT // 2
    for key, value in messages[:half]:
        publisher.publish(TOPIC, key, value)
    publisher.publish(TOPIC, "junk", b"\x00 not an event")  # kept as SourceRejected, dead-lettered
    publisher.flush()
    saved = wait_for_size(system, half + 1)
    for key, value in messages[half:]:
        publisher.publish(TOPIC, key, value)
    publisher.flush()
    publisher.close()
    note = wait_for_size(system, COUNT + 1)
    assert size_of(note) == COUNT + 1

    checks = ["-check-entries", "-inclusion", f"0,7,255,256,65535,65536,{half},{COUNT}"]
    result = go(tlogclient, system, tmp_path, saved, *checks)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"size {COUNT + 1}" in result.stdout and "consistency" in result.stdout

    admin = system.client("audit", "admin", "gs", "root")
    amended_case = messages[7][0]
    shown = admin.get(f"/cases/{amended_case}/history").json()["events"]
    assert any(SECRET_NAME in str(e["payload"]) for e in shown)
    erased = admin.post(f"/cases/{amended_case}/erasure", {"subject": PERSON, "reason": "本人申请删除"})
    assert erased.status_code == 200 and erased.json()["erased"] == 5, erased.text
    shown = admin.get(f"/cases/{amended_case}/history").json()["events"]
    assert not any(SECRET_NAME in str(e["payload"]) for e in shown) and any(e["erased"] for e in shown)
    stored = b"".join(p.read_bytes() for p in data.glob("audit.db*"))
    assert SECRET_NAME.encode() not in stored
    assert go(tlogclient, system, tmp_path, saved, *checks).returncode == 0
    assert offline(system, amended_case, saved, tmp_path).returncode == 0  # make verify, after the erasure too

    system.stop("audit")
    replayed = tool(system, "replay")  # make replay: the whole trail rebuilt from the embedded log, after erasure
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"replayed {COUNT + 1:,} of the live trail's {COUNT + 1:,} entries" in replayed.stdout
    assert "5 erased, not re-derived" in replayed.stdout
    checked = tool(system, "logcheck", "--store", service_config("audit", system.env)["STORE_URL"])
    assert checked.returncode == 0 and f"ok: {COUNT + 1:,} entries" in checked.stdout, checked.stdout
    with sqlite3.connect(data / "audit.db") as db:  # one byte of entry 1000: "CaseFiled" becomes "CaseFilee"
        (entry,) = db.execute("SELECT entry FROM trail_entries WHERE idx = ?", (f"{1000:012d}",)).fetchone()
        db.execute("UPDATE trail_entries SET entry = ? WHERE idx = ?",
                   (entry.replace("CaseFiled", "CaseFilee"), f"{1000:012d}"))
    system.start(extra={"RELIEF_AUDIT_CHECKPOINT_SECONDS": "1"})
    assert "FAIL entry 1000" in tool(system, "logcheck", "--store",
                                     service_config("audit", system.env)["STORE_URL"]).stdout
    tampered = go(tlogclient, system, tmp_path, saved, "-check-entries")
    assert tampered.returncode == 1 and "FAIL entry bundles" in tampered.stdout, tampered.stdout
    tampered_case = messages[1000 % 500][0]  # entry 1000 is one of this case's
    rejected = offline(system, tampered_case, saved, tmp_path)
    assert rejected.returncode == 1 and "FAIL entry 1000: its bytes do not hash to its leaf hash" in rejected.stdout
