"""Import the roster from one CSV or XLSX file (POST /roster/imports): helper units and their cadres.

Each row is a unit or a cadre (column `kind`: unit/单位, cadre/干部). A row is checked by the schema the
API uses (UnitRequest, CadreRequest) and applied with the application's named command; a row that fails
is reported by row and column, as intake's import reports its rows, and the others go on. Unit rows are
applied first, so a cadre may name a unit registered further down the file.

Importing the same file again duplicates nothing: a unit with the name and federation of one already
registered is reused (counted as existing), and a cadre whose login name already belongs to a cadre is
an error of that row: Pairings keeps login names unique system-wide (DuplicateUser), retired cadres included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from marshmallow import Schema, ValidationError, fields

from services.contracts.federation import ancestors, in_subtree, is_federation_code
from services.intake.import_rows import CSV, XLSX, ImportFileError, cell_text, flat_message, read_table
from services.intake.schemas import Failure
from services.pairing.application import ConcurrentChange, DuplicateUser, NotFound, OutsideScope, Pairings
from services.pairing.domain import InvalidValue
from services.pairing.index import UNITS, unit_row
from services.pairing.schemas import CadreRequest, UnitRequest
from services.web.fields import UUID_PATTERN

__all__ = ["CSV", "MAX_ROWS", "XLSX", "RosterImportError", "RosterImportView", "import_roster", "read_roster"]

MAX_ROWS = 2000  # data rows, header not counted; answered in the request, so a larger roster is split into files
UNIT, CADRE = "unit", "cadre"
KINDS = {
    "unit": UNIT, "单位": UNIT, "帮扶单位": UNIT,
    "cadre": CADRE, "干部": CADRE, "帮扶干部": CADRE, "帮扶责任人": CADRE,
}
COLUMNS = ("kind", "name", "federation")  # every file
KIND_COLUMNS = {UNIT: ("function",), CADRE: ("unit", "rank", "phone", "user")}  # files with rows of the kind
# Where a field of the API body comes from in a row (the rest have the field's own name).
COLUMN_OF = {"unit_id": "unit"}
UNIT_ID = re.compile(UUID_PATTERN)

# One instance each for every row: building a schema deep-copies its fields.
UNIT_SCHEMA, CADRE_SCHEMA = UnitRequest(), CadreRequest()


class RosterImportError(ImportFileError):
    """The file as a whole cannot be imported: not CSV or XLSX, unreadable, columns missing, too many rows."""


class RosterImportView(Schema):
    rows = fields.Integer(required=True, metadata={"description": "data rows read (blank rows skipped)"})
    units_registered = fields.Integer(required=True)
    units_existing = fields.Integer(
        required=True, metadata={"description": "unit rows whose name and federation were already registered"})
    cadres_registered = fields.Integer(required=True)
    errors = fields.List(fields.Nested(Failure), required=True,
                         metadata={"description": "one per problem: a row may have several, one per column"})


def read_roster(data: bytes, content_type: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of the file: (row number as a spreadsheet shows it, cells by lower-case column name)."""
    try:
        table = _numbered(read_table(data, content_type))
        _, first = next(table, (1, []))
        header = [str(h or "").strip().lower() for h in first]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise RosterImportError(f"missing columns: {', '.join(missing)}")
        rows: list[tuple[int, dict[str, str]]] = []
        for number, values in table:
            cells = {name: cell_text(value) for name, value in zip(header, values, strict=False) if name}
            if any(cells.values()):
                if len(rows) == MAX_ROWS:
                    raise RosterImportError(f"more than {MAX_ROWS} rows; split the roster into several files")
                rows.append((number, cells))
    except RosterImportError:
        raise
    except ImportFileError as exc:
        raise RosterImportError(str(exc)) from None
    header_set = set(header)
    for kind, needed in KIND_COLUMNS.items():
        absent = [c for c in needed if c not in header_set]
        if absent and any(_kind(cells) == kind for _, cells in rows):
            raise RosterImportError(f"missing columns for {kind} rows: {', '.join(absent)}")
    return rows


def import_roster(pairings: Pairings, data: bytes, content_type: str, *, scope: str, by: str) -> dict[str, Any]:
    """Register the units, then the cadres, of the file; report each row that fails and go on.

    Raise RosterImportError for a file that cannot be imported at all (nothing is registered then).
    """
    rows = read_roster(data, content_type)
    run = _Run(pairings, scope, by)
    for number, cells in rows:
        if _kind(cells) is None:
            shown = cells.get("kind", "")
            run.fail(number, "kind", f"{shown!r} is not unit or cadre (单位 or 干部)" if shown else
                     "must be unit or cadre (单位 or 干部)")
    for number, cells in rows:
        if _kind(cells) == UNIT:
            run.unit(number, cells)
    for number, cells in rows:
        if _kind(cells) == CADRE:
            run.cadre(number, cells)
    return {
        "rows": len(rows),
        "units_registered": run.units_registered,
        "units_existing": run.units_existing,
        "cadres_registered": run.cadres_registered,
        "errors": sorted(run.errors, key=lambda e: e["row"]),  # stable: a row's columns keep their order
    }


class _Run:
    """One import: the counts, the errors, and the units seen at each federation so far."""

    def __init__(self, pairings: Pairings, scope: str, by: str) -> None:
        self.pairings, self.scope, self.by = pairings, scope, by
        self.units_registered = self.units_existing = self.cadres_registered = 0
        self.errors: list[dict[str, Any]] = []
        self._units: dict[str, list[dict[str, Any]]] = {}  # federation -> its unit rows (store's and ours)

    def fail(self, row: int, column: str, reason: str) -> None:
        self.errors.append({"row": row, "column": column, "reason": reason})

    def unit(self, number: int, cells: dict[str, str]) -> None:
        body = {c: cells.get(c, "") for c in ("name", "function", "federation")}
        try:
            loaded = UNIT_SCHEMA.load(body)
        except ValidationError as exc:
            self._problems(number, _by_field(exc))
            return
        name, function, federation = loaded["name"].strip(), loaded["function"], loaded["federation"]
        if not in_subtree(federation, self.scope):
            self.fail(number, "federation", f"{federation} is outside {self.scope}")
            return
        same = [u for u in self._units_at(federation) if u["name"] == name]
        if any(u["function"] == function for u in same):
            self.units_existing += 1
            return
        if same:
            self.fail(number, "function",
                      f"unit {name} of {federation} is already registered with function {same[0]['function']}")
            return
        try:
            unit = self.pairings.register_unit(name=name, function=function, federation=federation,
                                               scope=self.scope, by=self.by)
        except (InvalidValue, OutsideScope, ConcurrentChange) as problem:
            self._refused(number, problem)
            return
        self._units_at(federation).append(unit_row(unit))
        self.units_registered += 1

    def cadre(self, number: int, cells: dict[str, str]) -> None:
        body: dict[str, Any] = {c: cells.get(c, "") for c in ("name", "rank", "federation", "phone", "user")}
        unit_id, unit_problem = self._resolve(cells.get("unit", ""), body["federation"])
        if unit_id is not None:
            body["unit_id"] = unit_id
        problems: dict[str, Any] = {}
        try:
            loaded = CADRE_SCHEMA.load(body, partial=("unit_id",) if unit_id is None else ())
        except ValidationError as exc:
            problems = _by_field(exc)
        if unit_problem:
            problems.setdefault("unit_id", unit_problem)
        if problems:
            self._problems(number, problems)
            return
        federation, user = loaded["federation"], loaded["user"]
        if not in_subtree(federation, self.scope):
            self.fail(number, "federation", f"{federation} is outside {self.scope}")
            return
        try:
            self.pairings.register_cadre(name=loaded["name"], unit_id=loaded["unit_id"], rank=loaded["rank"],
                                         federation=federation, phone=loaded["phone"], user=user,
                                         scope=self.scope, by=self.by)
        except (InvalidValue, NotFound, OutsideScope, DuplicateUser, ConcurrentChange) as problem:
            self._refused(number, problem)
            return
        self.cadres_registered += 1

    def _resolve(self, reference: str, federation: str) -> tuple[str | None, str | None]:
        """The unit a cadre row names, by unit_id or by name at its federation or the nearest above it."""
        if UNIT_ID.fullmatch(reference.lower()):
            return reference.lower(), None
        if not reference:
            return None, "give the unit's name or its unit_id"
        if not is_federation_code(federation):
            return None, None  # the federation column is reported; where to look is unknown
        for above in ancestors(federation):
            found = [u for u in self._units_at(above) if u["name"] == reference]
            if len(found) == 1:
                return found[0]["unit_id"], None
            if found:
                return None, f"{len(found)} units named {reference} at {above}; give the unit_id instead"
        return None, f"no unit named {reference} at {federation} or above"

    def _units_at(self, federation: str) -> list[dict[str, Any]]:
        """Units registered at exactly `federation`, also above the caller's scope (a cadre may join one)."""
        if federation not in self._units:
            self._units[federation] = self.pairings.select_rows(UNITS, equal={"federation": federation})
        return self._units[federation]

    def _problems(self, number: int, messages: dict[str, Any]) -> None:
        for field, message in sorted(messages.items()):
            self.fail(number, COLUMN_OF.get(field, field), flat_message(message))

    def _refused(self, number: int, problem: Exception) -> None:
        if isinstance(problem, InvalidValue):
            column = COLUMN_OF.get(problem.path[-1], problem.path[-1])
            self.fail(number, column, problem.problem)
        elif isinstance(problem, NotFound):
            self.fail(number, "unit", str(problem))
        elif isinstance(problem, DuplicateUser):
            self.fail(number, "user", "user already registered")
        elif isinstance(problem, OutsideScope):
            self.fail(number, "federation", str(problem))
        else:
            self.fail(number, "row", f"{problem}")


def _kind(cells: dict[str, str]) -> str | None:
    return KINDS.get(cells.get("kind", "").strip().lower())


def _by_field(exc: ValidationError) -> dict[str, Any]:
    return dict(exc.messages) if isinstance(exc.messages, dict) else {"row": exc.messages}


def _numbered(table: Iterator[Any]) -> Iterator[tuple[int, Any]]:
    """The rows numbered as a spreadsheet shows them, the header 1; a damaged file is a file error."""
    number = 0
    while True:
        try:
            values = next(table)
        except StopIteration:
            return
        except Exception as exc:  # csv.Error, or one of the several kinds openpyxl raises mid-sheet
            raise RosterImportError(f"row {number + 1} cannot be read: {type(exc).__name__}") from None
        number += 1
        yield number, values
