"""Build aid's world in tests: intake's events for a household, programs, budgets and requests."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from services.contracts import Envelope

AID_TODAY = date(2026, 12, 1)
_moments = itertools.count(1)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def envelope(case_id: str, kind: str, payload: dict[str, Any], federation: str = "gs.by") -> Envelope:
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_moments))
    return Envelope(event_id=str(uuid4()), type=kind, version=1, occurred_at=at, recorded_at=at,
                    federation=federation, case_id=case_id, service="intake", payload=payload)


def opened_payload(category: str = "subsistence", causes: tuple[str, ...] = ("illness",), children: int = 1,
                   imported_on: date | None = None) -> dict[str, Any]:
    worker_digest = digest(str(uuid4()))
    members = [{"name": "张三", "relation": "spouse", "age": 40, "health": "good", "schooling": "none",
                "id_number_masked": "6204**********1234", "id_digest": digest(str(uuid4()))}]
    members += [{"name": f"孩子{n}", "relation": "child", "age": 18, "health": "good", "schooling": "college",
                 "id_number_masked": "6204**********5678", "id_digest": digest(str(uuid4()))} for n in range(children)]
    return {
        "worker": {"name": "王芳", "id_number_masked": "6204**********0012", "id_digest": worker_digest,
                   "phone_masked": "139****5678", "employer": "白银公司", "migrant": False},
        "household": {"members": members, "monthly_income": "1200.00", "subsistence_line": "800.00",
                      "per_capita_income": "400.00"},
        "category": category, "causes": list(causes), "opened_by": "li",
        "imported": {"filed_on": imported_on.isoformat(), "import_id": str(uuid4()), "row": 2} if imported_on else None,
    }


def file_case(app: Any, federation: str = "gs.by", filed_on: date = date(2026, 3, 1), verifier: str = "li",
              **opened: Any) -> str:
    """Open, verify and file a case in aid's view, as intake's events would; its case id."""
    case_id = str(uuid4())
    app.apply_intake_event(envelope(case_id, "CaseOpened", opened_payload(**opened), federation))
    app.apply_intake_event(envelope(case_id, "CaseVerified", {
        "visitors": ["赵", "钱"], "visited_on": "2026-02-01", "per_capita_income": "400.00", "findings": "ok",
        "by": verifier}, federation))
    app.apply_intake_event(envelope(case_id, "CaseFiled", {"filed_on": filed_on.isoformat()}, federation))
    return case_id


def exit_case(app: Any, case_id: str, exited_on: date = date(2026, 11, 1), federation: str = "gs.by") -> None:
    app.apply_intake_event(envelope(case_id, "CaseExited", {"reason": "stable_employment", "exited_on":
                                                           exited_on.isoformat(), "notes": "", "by": "li"},
                                    federation))


def program(app: Any, kind: str = "festival", amount: int | None = 100_000, rule: dict[str, Any] | None = None,
            federation: str = "gs", year: int = 2026, **eligibility: Any) -> str:
    festival = "spring_festival" if kind == "festival" else None
    return str(app.create_program(name=f"{kind} {year}", kind=kind, year=year, federation=federation,
                                  festival=festival, help_kind=None, amount=amount, rule=rule,
                                  eligibility=eligibility, scope="gs", by="admin").id)


def fund(app: Any, program_id: str, amounts: dict[str, int]) -> None:
    """Allocate down the tree, parents first: {"gs": 1_000_000, "gs.by": 500_000}."""
    for federation, amount in sorted(amounts.items(), key=lambda item: item[0].count(".")):
        app.allocate(program_id=program_id, federation=federation, amount=amount, scope="gs", by="admin")


def ask(app: Any, case_id: str, program_id: str, key: str | None = None, by: str = "caseworker1", **extra: Any):
    fields = {"amount": None, "beneficiary": None, "out_of_pocket": None, **extra}
    return app.request(case_id=case_id, program_id=program_id, idempotency_key=key or str(uuid4()),
                       reason="送温暖", scope="gs", by=by, **fields)[0]
