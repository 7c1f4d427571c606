"""Build the audit trail's world in tests: events with personal data, and batches appended as the sequencer
appends them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.audit.application import Trail
from services.audit.entries import Source
from services.audit.log import ENTRIES, Append
from services.audit.note import Signer, generate_key
from services.contracts import Envelope

SIGNER = Signer.parse(generate_key("test.relief/audit")[0])
WORKER, SPOUSE = "王芳", "张秀兰"
SPOUSE_DIGEST = "b" * 64


def opened(case_id: str) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(str(uuid.uuid4()), "CaseOpened", 1, now, now, "gs.by", case_id, "intake", {
        "worker": {"name": WORKER, "id_number_masked": "6204**********0012", "id_digest": "a" * 64,
                   "phone_masked": "139****5678", "employer": "白银公司", "migrant": False},
        "household": {"members": [{"name": SPOUSE, "relation": "spouse", "age": 40, "health": "chronic",
                                   "schooling": "none", "id_number_masked": "6204**********1234",
                                   "id_digest": SPOUSE_DIGEST}],
                      "monthly_income": "1200.00", "subsistence_line": "800.00", "per_capita_income": "600.00"},
        "category": "subsistence", "causes": ["illness"], "opened_by": "li", "imported": None})


def filed(case_id: str) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(str(uuid.uuid4()), "CaseFiled", 1, now, now, "gs.by", case_id, "intake", {"filed_on": "2026-03-13"})


def append(trail: Trail, items: list[tuple[Envelope | None, bytes | None]], topic: str = "relief.intake.case-events",
           first_offset: int = 0) -> Append:
    batch = trail.append([(Source(topic, 0, first_offset + n), raw, e, None if e else "not JSON")
                          for n, (e, raw) in enumerate(items)], "writer-1")
    trail.store(batch, {f"{topic}:0": first_offset + len(items) - 1})
    return batch


def stored_entries(trail: Trail) -> list[bytes]:
    return [r["entry"].encode() for r in trail.select_rows(ENTRIES)]
