"""The intake application (Cases): commands and queries over case files, on any event store."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.eventstore import IndexedApplication, Put, Table
from services.intake.domain import Case, case_uuid

CASES = Table(
    "intake_cases",
    key="case_id",
    columns=("federation", "state", "category", "opened_at", "updated_at"),
    indexes=(("federation", "state"),),
)


class CaseNotFound(Exception):
    """No case with this id is visible to the caller."""


class Cases(IndexedApplication):
    """Open, verify, publish, approve and list case files (建档立卡)."""

    name = "Intake"
    tables = (CASES,)

    def open_case(
        self,
        federation: str,
        worker: dict[str, Any],
        household: dict[str, Any],
        category: str,
        causes: list[str],
        opened_by: str,
    ) -> Case:
        members = household["members"]
        household = {**household, "per_capita_income": per_capita(household["monthly_income"], members)}
        case = Case(federation, worker, household, category, sorted(set(causes)), opened_by)
        self._save(case)
        return case

    def verify(self, case_id: str, scope: str, **details: Any) -> Case:
        return self._change(case_id, scope, lambda case: case.verify(**details))

    def deliberate(self, case_id: str, scope: str, **details: Any) -> Case:
        return self._change(case_id, scope, lambda case: case.deliberate(**details))

    def publish_notice(self, case_id: str, scope: str, **details: Any) -> Case:
        return self._change(case_id, scope, lambda case: case.publish_notice(**details))

    def raise_objection(self, case_id: str, scope: str, **details: Any) -> tuple[Case, str]:
        raised: list[str] = []
        case = self._change(case_id, scope, lambda c: raised.append(c.raise_objection(**details)))
        return case, raised[0]

    def resolve_objection(self, case_id: str, scope: str, **details: Any) -> Case:
        return self._change(case_id, scope, lambda case: case.resolve_objection(**details))

    def approve(self, case_id: str, scope: str, approved_on: date, approver: str) -> Case:
        return self._change(case_id, scope, lambda case: case.approve(approved_on, approver))

    def reject(self, case_id: str, scope: str, reason: str, by: str) -> Case:
        return self._change(case_id, scope, lambda case: case.reject(reason, by))

    def withdraw(self, case_id: str, scope: str, reason: str, by: str) -> Case:
        return self._change(case_id, scope, lambda case: case.withdraw(reason, by))

    def get_case(self, case_id: str, scope: str) -> Case:
        """Return the case if it lies in the caller's federation subtree, else CaseNotFound."""
        try:
            case: Case = self.repository.get(case_uuid(case_id))
        except (ValueError, AggregateNotFoundError):
            raise CaseNotFound(case_id) from None
        if not in_subtree(case.federation, scope):
            raise CaseNotFound(case_id)
        return case

    def list_cases(self, scope: str, federation: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Return index rows of the cases under `federation` (default: the whole scope)."""
        root = federation or scope
        if not in_subtree(root, scope):
            return []
        equal = {"state": state} if state else {}
        return self.select_rows(CASES, equal=equal, subtree=("federation", root))

    def federation_of(self, case_id: UUID) -> str | None:
        rows = self.select_rows(CASES, equal={"case_id": str(case_id)}, limit=1)
        return rows[0]["federation"] if rows else None

    def _change(self, case_id: str, scope: str, command: Any) -> Case:
        case = self.get_case(case_id, scope)
        command(case)
        self._save(case)
        return case

    def _save(self, case: Case) -> None:
        row = {
            "case_id": str(case.id),
            "federation": case.federation,
            "state": case.state,
            "category": case.category,
            "opened_at": case.created_on.isoformat(),
            "updated_at": case.modified_on.isoformat(),
        }
        self.record(case, index=[Put(CASES, row)])


def per_capita(monthly_income: Decimal, members: list[Any]) -> Decimal:
    """Divide household income by its size: the worker plus the listed members."""
    return (Decimal(monthly_income) / (len(members) + 1)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def in_subtree(federation: str, root: str) -> bool:
    """Tell whether a federation code lies at or under root (`gs.by` covers `gs.by.pg`)."""
    return federation == root or federation.startswith(root + ".")
