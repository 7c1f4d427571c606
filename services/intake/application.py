"""The intake application (Cases): commands and queries over case files, on any event store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.eventstore import Claim, ClaimConflict, IndexedApplication, Put, Release
from services.eventstore.index import IndexOp
from services.intake.case_index import CASES, PERSONS, index_row, summary
from services.intake.domain import ACTIVE_STATES, FILED, Case, case_uuid
from services.intake.identity import person_digest
from services.intake.imports import ImportJob


@dataclass(frozen=True)
class ImportedRow:
    """A row of an import file that passed validation, with the digests of its people."""

    row: int
    body: dict[str, Any]
    filed_on: date
    digests: tuple[str, ...]


class CaseNotFound(Exception):
    """No case with this id is visible to the caller."""


class DuplicatePerson(Exception):
    """A person in this file already appears in another active case (家庭信息对比核查)."""

    def __init__(self, role: str, case_id: str, federation: str):
        super().__init__(f"a person in this file is already the {role} of active case {case_id} in {federation}")
        self.details = {"existing_case_id": case_id, "existing_federation": federation}


class ConcurrentChange(Exception):
    """Another request changed the case after this one read it; nothing was stored."""


class RepeatedPerson(Exception):
    """The same ID number appears twice in one household."""


class Cases(IndexedApplication):
    """Open, verify, publish, approve, manage and list case files (建档立卡、动态管理)."""

    name = "Intake"
    tables = (CASES, PERSONS)

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._federations: dict[UUID, str] = {}
        super().__init__(env)

    def open_case(
        self,
        federation: str,
        worker: dict[str, Any],
        household: dict[str, Any],
        category: str,
        causes: list[str],
        opened_by: str,
    ) -> Case:
        case = Case(federation, worker, with_per_capita(household), category, sorted(set(causes)), opened_by)
        self._save(case, held_before=set())
        return case

    def amend(self, case_id: str, scope: str, changes: dict[str, Any], reason: str, by: str) -> Case:
        if "household" in changes:
            changes = {**changes, "household": with_per_capita(changes["household"])}
        if "causes" in changes:
            changes = {**changes, "causes": sorted(set(changes["causes"]))}
        case, _ = self.change(case_id, scope, lambda case: case.amend(changes, reason, by))
        return case

    def file_imported(self, entries: list[ImportedRow], job: ImportJob, by: str) -> dict[int, str]:
        """File many migrated cases in one transaction; return the rows refused, with the reason.

        People already in an active case are refused up front; if another request claims one of the
        rest meanwhile, the batch falls back to one transaction per row so only that row is refused.
        """
        digests = [d for entry in entries for d in entry.digests]
        holders = {r["digest"]: r for r in self.select_rows(PERSONS, keys=digests)} if digests else {}
        refused: dict[int, str] = {}
        cases: list[tuple[ImportedRow, Case]] = []
        for entry in entries:
            held = [holders[d] for d in entry.digests if d in holders]
            if held:
                refused[entry.row] = f"already in active case {held[0]['case_id']} of {held[0]['federation']}"
                continue
            cases.append((entry, imported_case(entry, job, by)))
        try:
            self.record(*(c for _, c in cases), index=[op for _, c in cases for op in self._save_ops(c, set())])
        except ClaimConflict:
            for entry, _ in cases:
                try:
                    self._save(imported_case(entry, job, by), set())
                except DuplicatePerson as conflict:
                    refused[entry.row] = str(conflict)
        return refused

    def save_job(self, job: ImportJob) -> None:
        self.record(job)

    def get_job(self, job_id: UUID) -> ImportJob | None:
        try:
            job: ImportJob = self.repository.get(job_id)
        except AggregateNotFoundError:
            return None
        return job

    def change(self, case_id: str, scope: str, command: Callable[[Case], Any]) -> tuple[Case, Any]:
        """Load a case in the caller's scope, run one command on it, save what it recorded.

        Returns the case and whatever the command returned (the id of a new objection or measure).
        """
        case = self.get_case(case_id, scope)
        held_before = self._held(case)
        result = command(case)
        self._save(case, held_before)
        return case, result

    def get_case(self, case_id: str, scope: str) -> Case:
        """Return the case if it lies in the caller's federation subtree, else CaseNotFound."""
        try:
            case: Case = self.repository.get(case_uuid(case_id))
        except (ValueError, AggregateNotFoundError):
            raise CaseNotFound(case_id) from None
        if not in_subtree(case.federation, scope):
            raise CaseNotFound(case_id)
        return case

    def list_cases(
        self, scope: str, federation: str | None = None, state: str | None = None, **criteria: Any
    ) -> list[dict[str, Any]]:
        """Return index rows of the cases under `federation` (default: the whole scope)."""
        root = federation or scope
        if not in_subtree(root, scope):
            return []
        equal = {"state": state} if state else {}
        return [summary(r) for r in self.select_rows(CASES, equal=equal, subtree=("federation", root), **criteria)]

    def due_for_review(self, scope: str, federation: str | None, as_of: date) -> list[dict[str, Any]]:
        """Filed cases whose yearly review (年度复核) is due on or before `as_of`, found by the index."""
        return self.list_cases(scope, federation, FILED, until=("review_due_on", as_of.isoformat()))

    def case_rows(self, root: str) -> list[dict[str, Any]]:
        """Every index row under root, with timelines decoded, for reports."""
        return [summary(r) for r in self.select_rows(CASES, subtree=("federation", root))]

    def federation_of(self, case_id: UUID) -> str | None:
        """The case's federation (it never changes), remembered for the most recent cases."""
        known = self._federations.get(case_id)
        if known is None:
            rows = self.select_rows(CASES, equal={"case_id": str(case_id)}, limit=1)
            known = rows[0]["federation"] if rows else None
            if known is not None:
                self.remember_federation(case_id, known)
        return known

    def remember_federation(self, case_id: UUID, federation: str) -> None:
        if len(self._federations) >= 100_000:
            self._federations.clear()
        self._federations[case_id] = federation

    def digest(self, id_number: str) -> str:
        key = self.env.get("PERSON_KEY")
        if not key:
            raise RuntimeError("PERSON_KEY is not configured")
        return person_digest(key, id_number)

    def claim_ops(self, case: Case, held_before: set[str]) -> list[IndexOp]:
        """Index writes that keep the person claims equal to the people of the case while it is active."""
        people = {self.digest(number): role for role, number in case.identity_numbers()}
        if len(people) < len(case.identity_numbers()):
            raise RepeatedPerson("the same ID number appears twice in this household")
        held_now = set(people) if case.state in ACTIVE_STATES else set()
        ops: list[IndexOp] = [Release(PERSONS, d) for d in sorted(held_before - held_now)]
        ops += [
            Claim(PERSONS, {"digest": d, "case_id": str(case.id), "federation": case.federation, "role": people[d]})
            for d in sorted(held_now - held_before)
        ]
        return ops

    def _held(self, case: Case) -> set[str]:
        if case.state not in ACTIVE_STATES:
            return set()
        return {self.digest(number) for _, number in case.identity_numbers()}

    def _save_ops(self, case: Case, held_before: set[str]) -> list[IndexOp]:
        return [Put(CASES, index_row(case)), *self.claim_ops(case, held_before)]

    def _save(self, case: Case, held_before: set[str]) -> None:
        ops = self._save_ops(case, held_before)
        try:
            self.record(case, index=ops)
        except ClaimConflict as conflict:
            holder = conflict.holder
            raise DuplicatePerson(holder.get("role", "person"), holder["case_id"], holder["federation"]) from None
        except IntegrityError:
            raise ConcurrentChange("the case changed while this request ran; reload it and try again") from None


def imported_case(entry: ImportedRow, job: ImportJob, by: str) -> Case:
    body = entry.body
    origin = {"filed_on": entry.filed_on.isoformat(), "import_id": str(job.id), "row": entry.row}
    household = with_per_capita(body["household"])
    return Case(body["federation"], body["worker"], household, body["category"], sorted(set(body["causes"])), by,
                imported=origin)


def with_per_capita(household: dict[str, Any]) -> dict[str, Any]:
    return {**household, "per_capita_income": per_capita(household["monthly_income"], household["members"])}


def per_capita(monthly_income: Decimal, members: list[Any]) -> Decimal:
    """Divide household income by its size: the worker plus the listed members."""
    return (Decimal(monthly_income) / (len(members) + 1)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def in_subtree(federation: str, root: str) -> bool:
    """Tell whether a federation code lies at or under root (`gs.by` covers `gs.by.pg`)."""
    return federation == root or federation.startswith(root + ".")
