"""The intake application (Cases): one method per command, and the queries, over case files on any store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services import clock
from services.contracts.federation import in_subtree
from services.eventstore import Claim, ClaimConflict, IndexedApplication, Put, Release
from services.eventstore.index import IndexOp
from services.eventstore.migrations import Migration, create_tables
from services.intake.case_index import CASES, PERSONS, SEARCH, index_row, search_criteria, search_row, summary
from services.intake.domain import ACTIVE_STATES, FILED, Case, InvalidValue, case_uuid
from services.intake.identity import as_stored, mask_id_number, mask_phone, person_digest
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


class Cases(IndexedApplication):
    """Open, verify, publish, approve, manage and list case files (建档立卡、动态管理).

    Each command loads the case in the caller's federation subtree (`scope`), runs the aggregate's command
    with today's date, and saves its events with the index rows in one transaction.
    """

    name = "Intake"
    tables = (CASES, PERSONS, SEARCH)
    migrations = (
        Migration(1, "create the index tables", create_tables(CASES, PERSONS)),
        Migration(2, "the case search: names as keyed digests and masked, ID numbers masked",
                  create_tables(SEARCH)),
    )

    def today(self) -> date:
        """The day business dates are checked against (the domain has no clock); tests may fix it."""
        return clock.today()

    # The filing workflow (申请、审核、公示、审批、录入).

    def open_case(
        self,
        federation: str,
        worker: dict[str, Any],
        household: dict[str, Any],
        category: str,
        causes: list[str],
        opened_by: str,
    ) -> Case:
        case = Case.open(federation, worker, household, category, causes, opened_by, today=self.today())
        self._save(case, held_before=set())
        return case

    def verify(
        self, case_id: str, scope: str, *, by: str, visitors: list[str], visited_on: date,
        per_capita_income: Decimal, findings: str,
    ) -> Case:
        with self._changing(case_id, scope) as case:
            case.verify(visitors, visited_on, per_capita_income, findings, by, today=self.today())
        return case

    def deliberate(self, case_id: str, scope: str, *, by: str, decided_on: date, outcome: str, notes: str) -> Case:
        with self._changing(case_id, scope) as case:
            case.deliberate(decided_on, outcome, notes, by, today=self.today())
        return case

    def publish_notice(self, case_id: str, scope: str, *, by: str, starts_on: date, days: int) -> Case:
        with self._changing(case_id, scope) as case:
            case.publish_notice(starts_on, days, by, today=self.today())
        return case

    def raise_objection(
        self, case_id: str, scope: str, *, objector: str, raised_on: date, reason: str
    ) -> tuple[Case, str]:
        """Record an objection raised during the notice; return the case and the objection's id."""
        with self._changing(case_id, scope) as case:
            objection_id = case.raise_objection(raised_on, reason, objector, today=self.today())
        return case, objection_id

    def resolve_objection(
        self, case_id: str, scope: str, *, by: str, objection_id: str, upheld: bool, notes: str
    ) -> Case:
        with self._changing(case_id, scope) as case:
            case.resolve_objection(objection_id, upheld, notes, by)
        return case

    def approve(self, case_id: str, scope: str, *, by: str, approved_on: date) -> Case:
        with self._changing(case_id, scope) as case:
            case.approve(approved_on, by, today=self.today())
        return case

    def reject(self, case_id: str, scope: str, *, by: str, reason: str) -> Case:
        with self._changing(case_id, scope) as case:
            case.reject(reason, by)
        return case

    def withdraw(self, case_id: str, scope: str, *, by: str, reason: str) -> Case:
        with self._changing(case_id, scope) as case:
            case.withdraw(reason, by)
        return case

    def disclose(self, case_id: str, scope: str, *, by: str, reason: str) -> Case:
        """The case with its personal data, once the read is recorded (nothing is shown if it cannot be)."""
        with self._changing(case_id, scope) as case:
            case.disclose(reason, by)
        return case

    # Dynamic management (动态管理) and the household plan (一户一计划).

    def review(
        self, case_id: str, scope: str, *, by: str, reviewed_on: date, findings: str, still_qualifies: bool
    ) -> Case:
        with self._changing(case_id, scope) as case:
            case.review(reviewed_on, findings, still_qualifies, by, today=self.today())
        return case

    def exit(self, case_id: str, scope: str, *, by: str, reason: str, exited_on: date, notes: str) -> Case:
        with self._changing(case_id, scope) as case:
            case.exit(reason, exited_on, notes, by, today=self.today())
        return case

    def refile(self, case_id: str, scope: str, *, by: str, refiled_on: date, reason: str) -> Case:
        with self._changing(case_id, scope) as case:
            case.refile(refiled_on, reason, by, today=self.today())
        return case

    def amend(self, case_id: str, scope: str, *, by: str, changes: dict[str, Any], reason: str) -> Case:
        with self._changing(case_id, scope) as case:
            case.amend(self._unmasked(case, changes), reason, by, today=self.today())
        return case

    def _unmasked(self, case: Case, changes: dict[str, Any]) -> dict[str, Any]:
        """The changes with each masked value the case shows (and a left-out worker ID) read as the stored one, so
        a caseworker amends a section without disclosing it; a mask that is not the stored value's is refused."""
        changes = dict(changes)
        if "worker" in changes:
            worker = dict(changes["worker"])
            for key, mask in (("id_number", mask_id_number), ("phone", mask_phone)):
                stored = case.worker[key]
                worker[key] = as_stored(worker.get(key, mask(stored)), stored, mask)
                if worker[key] is None:
                    raise InvalidValue(("changes", "worker", key),
                                       "a masked value must be the one the case shows; type the full new value")
            changes["worker"] = worker
        if "household" in changes:
            ids = {self.digest(m["id_number"]): m["id_number"] for m in case.household["members"] if m.get("id_number")}
            members = [dict(m) for m in changes["household"]["members"]]
            for index, member in enumerate(members):
                stored = ids.get(member.pop("id_digest", ""))
                if "id_number" in member:
                    member["id_number"] = as_stored(member["id_number"], stored, mask_id_number)
                    if member["id_number"] is None:
                        raise InvalidValue(("changes", "household", "members", index, "id_number"),
                                           "a masked ID number must be the one the case shows for this member "
                                           "(with its id_digest); type the full number to change it")
            changes["household"] = {**changes["household"], "members": members}
        return changes

    def add_measure(
        self, case_id: str, scope: str, *, by: str, kind: str, description: str, planned_on: date,
        due_on: date | None,
    ) -> tuple[Case, str]:
        """Add a measure to the household plan; return the case and the measure's id."""
        with self._changing(case_id, scope) as case:
            measure_id = case.add_measure(kind, description, planned_on, due_on, by)
        return case, measure_id

    def complete_measure(
        self, case_id: str, scope: str, *, by: str, measure_id: str, done_on: date, result: str
    ) -> Case:
        with self._changing(case_id, scope) as case:
            case.complete_measure(measure_id, done_on, result, by, today=self.today())
        return case

    # Bulk import of files from a previous system.

    def file_imported(self, entries: list[ImportedRow], job: ImportJob, by: str) -> dict[int, tuple[str, str]]:
        """File many migrated cases in one transaction; return the rows refused, with column and reason.

        People already in an active case are refused up front; if another request claims one of the
        rest meanwhile, the batch falls back to one transaction per row so only that row is refused.
        """
        digests = [d for entry in entries for d in entry.digests]
        holders = {r["digest"]: r for r in self.select_rows(PERSONS, keys=digests)} if digests else {}
        refused: dict[int, tuple[str, str]] = {}
        cases: list[tuple[ImportedRow, Case]] = []
        today = self.today()
        for entry in entries:
            held = [holders[d] for d in entry.digests if d in holders]
            if held:
                refused[entry.row] = ("id_number", f"already in active case {held[0]['case_id']} of "
                                                   f"{held[0]['federation']}")
                continue
            try:
                cases.append((entry, imported_case(entry, job, by, today)))
            except InvalidValue as problem:
                refused[entry.row] = (import_column(problem.path), str(problem))
        try:
            ops = [op for _, c in cases for op in self._save_ops(c, set())]
            # Index rows first, then the claims: a thousand case rows then go to the store in one statement.
            self.record(*(c for _, c in cases), index=sorted(ops, key=lambda op: not isinstance(op, Put)))
        except ClaimConflict:
            for entry, _ in cases:
                try:
                    self._save(imported_case(entry, job, by, today), set())
                except DuplicatePerson as conflict:
                    refused[entry.row] = ("id_number", str(conflict))
        return refused

    def save_job(self, job: ImportJob) -> None:
        self.record(job)

    def get_job(self, job_id: UUID) -> ImportJob | None:
        try:
            job: ImportJob = self.repository.get(job_id)
        except AggregateNotFoundError:
            return None
        return job

    # Queries.

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

    def find_cases(self, scope: str, *, federation: str | None = None, state: str | None = None,
                   category: str | None = None, cause: str | None = None, text: str | None = None,
                   offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """A page of the cases under `federation` that match, newest first, each with the worker's masked name
        and ID number, and how many match in all. `text` is an exact name, a masked ID number, or its last four."""
        root = federation or scope
        if not in_subtree(root, scope):
            return {"cases": [], "total": 0, "offset": offset}
        equal = {k: v for k, v in (("state", state), ("category", category)) if v}
        keys = None
        if text:
            keys = [r["case_id"] for r in self.select_rows(SEARCH, equal=search_criteria(text, self._person_key()))]
        # Filtered, ordered, counted and cut by the store: a page costs the same in a province of 100,000.
        page, total = self.page_rows(CASES, newest="opened_at", offset=offset, limit=limit,
                                     equal=equal, subtree=("federation", root), keys=keys,
                                     contains=("causes", cause) if cause else None)
        shown = {}
        for start in range(0, len(page), 5000):  # within every store's limit of parameters in a statement
            chunk = [r["case_id"] for r in page[start:start + 5000]]
            shown.update({r["case_id"]: r for r in self.select_rows(SEARCH, keys=chunk)})
        cases = [{**summary(r), "name_masked": shown.get(r["case_id"], {}).get("name_masked"),
                  "id_number_masked": shown.get(r["case_id"], {}).get("id_masked")} for r in page]
        return {"cases": cases, "total": total, "offset": offset}

    def reindex_search(self) -> int:
        """Write the search row of every case that lacks one (a store from before the case search); how many."""
        have = {r["case_id"] for r in self.select_rows(SEARCH)}
        missing = [r["case_id"] for r in self.select_rows(CASES) if r["case_id"] not in have]
        key = self._person_key()
        for start in range(0, len(missing), 500):
            cases = [self.load(UUID(case_id)) for case_id in missing[start:start + 500]]
            self.commit([], [Put(SEARCH, search_row(case, key)) for case in cases], [])
        return len(missing)

    def due_for_review(self, scope: str, federation: str | None, as_of: date) -> list[dict[str, Any]]:
        """Filed cases whose yearly review (年度复核) is due on or before `as_of`, found by the index."""
        return self.list_cases(scope, federation, FILED, until=("review_due_on", as_of.isoformat()))

    def case_rows(self, root: str) -> list[dict[str, Any]]:
        """Every index row under root, with timelines decoded, for reports."""
        return [summary(r) for r in self.select_rows(CASES, subtree=("federation", root))]

    def digest(self, id_number: str) -> str:
        return person_digest(self._person_key(), id_number)

    def _person_key(self) -> str:
        key = self.env.get("PERSON_KEY")
        if not key:
            raise RuntimeError("PERSON_KEY is not configured")
        return key

    # Saving: events, the case's index row and its person claims in one transaction.

    @contextmanager
    def _changing(self, case_id: str, scope: str) -> Iterator[Case]:
        """Load a case in the caller's scope for one command; save what it recorded unless it raised."""
        case = self.get_case(case_id, scope)
        held_before = self._held(case)
        yield case
        self._save(case, held_before)

    def claim_ops(self, case: Case, held_before: set[str]) -> list[IndexOp]:
        """Index writes that keep the person claims equal to the people of the case while it is active."""
        people = {self.digest(number): role for role, number in case.identity_numbers()}
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
        return [Put(CASES, index_row(case)), Put(SEARCH, search_row(case, self._person_key())),
                *self.claim_ops(case, held_before)]

    def _save(self, case: Case, held_before: set[str]) -> None:
        ops = self._save_ops(case, held_before)
        try:
            self.record(case, index=ops)
        except ClaimConflict as conflict:
            holder = conflict.holder
            raise DuplicatePerson(holder.get("role", "person"), holder["case_id"], holder["federation"]) from None
        except IntegrityError:
            raise ConcurrentChange("the case changed while this request ran; reload it and try again") from None


def imported_case(entry: ImportedRow, job: ImportJob, by: str, today: date) -> Case:
    body = entry.body
    origin = {"filed_on": entry.filed_on.isoformat(), "import_id": str(job.id), "row": entry.row}
    return Case.open(body["federation"], body["worker"], body["household"], body["category"], body["causes"], by,
                     today=today, imported=origin)


def import_column(path: tuple[str | int, ...]) -> str:
    """The column of an import file that holds the field at `path` of an opening."""
    if path[:1] == ("household",):
        return "members" if path[1:2] == ("members",) else str(path[1])
    return str(path[-1]) if path[:1] == ("worker",) else str(path[0])
