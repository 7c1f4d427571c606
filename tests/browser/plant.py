"""Plant what the auditor's browser test must find: one student paid twice by one education program.

Aid itself refuses a second grant to one student in one academic year, so the plant does what a buggy aid
would: it publishes aid's events for it onto aid's topic of the running system's embedded transport, for a
real filed household of gs.by. The trail takes them like any other, and its anomaly check (computed from
the trail alone) finds them.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

from services import clock
from services.contracts import Envelope, encode
from services.contracts.topics import TOPICS
from services.transport.embedded import EmbeddedTransport
from tests.import_files import stream_csv


def filed_household(gateway: str, token: str) -> str:
    """One household of gs.by, imported (filed at once); its case id."""
    headers = {"Authorization": f"Bearer {token}"}
    answer = requests.post(f"{gateway}/api/intake/imports", data=b"".join(stream_csv(1, seed=11)), timeout=60,
                           headers={**headers, "Content-Type": "text/csv"})
    answer.raise_for_status()
    job = answer.json()["import_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = requests.get(f"{gateway}/api/intake/imports/{job}", headers=headers, timeout=10).json()
        if state["state"] == "done" and state["filed"] == 1:
            return str(requests.get(f"{gateway}/api/intake/cases", params={"limit": 1}, headers=headers,
                                    timeout=10).json()["cases"][0]["case_id"])
        time.sleep(0.3)
    raise TimeoutError("the planted household was not filed")


def plant_duplicate_student(bus: Path, case_id: str, federation: str = "gs.by") -> None:
    today = clock.today().isoformat()
    now = datetime.now(UTC)
    grant, student = str(uuid.uuid4()), uuid.uuid4().hex * 2

    def envelope(kind: str, key: str, payload: dict[str, object], at: str = federation) -> Envelope:
        return Envelope(str(uuid.uuid4()), kind, 1, now, now, at, key, "aid", payload)

    events = [envelope("ProgramCreated", grant, {
        "program_id": grant, "name": "金秋助学（测试植入）", "kind": "education", "year": clock.today().year,
        "festival": None, "help": "schooling", "version": 1, "terms": {"amount": "3000.00", "rule": None,
        "eligibility": {"include_exited": False, "categories": [], "causes": [], "household_cap": None,
                        "min_members": None, "max_members": None}}, "by": "demo-admin"}, "gs")]
    events.append(envelope("BudgetAllocated", str(uuid.uuid4()), {
        "program_id": grant, "amount": "100000.00", "delta": "100000.00", "by": "demo-admin"}))
    for _ in range(2):
        did = str(uuid.uuid4())
        events.append(envelope("DisbursementRequested", case_id, {
            "disbursement_id": did, "program_id": grant, "kind": "education", "form": "money", "amount": "3000.00",
            "items": None, "delivered_on": None, "reason": "金秋助学", "beneficiary": student, "batch_id": None,
            "budget_federation": federation, "decision": {"rule_version": 1, "passed": True, "checks": []},
            "requested_on": today, "by": "demo-caseworker"}))
        for kind, by, extra in (("DisbursementApproved", "demo-approver", {}),
                                ("DisbursementPaid", "bank", {"bank_reference": f"PLANT-{did[:8]}"})):
            events.append(envelope(kind, case_id, {"disbursement_id": did, "kind": "education", "amount": "3000.00",
                                                   "rule_version": 1, "on": today, "reason": None, "by": by,
                                                   **extra}))
    transport = EmbeddedTransport(str(bus))
    try:
        publisher = transport.publisher()
        for event in events:
            publisher.publish(TOPICS["aid"], event.case_id or event.event_id, encode(event))
        publisher.flush()
        publisher.close()
    finally:
        transport.close()
