"""Read the rows of an import file (CSV or XLSX) and check each one exactly as the API would."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError, fields

from services.intake.schemas import OpenCaseRequest

CSV, XLSX = "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (
    "federation", "name", "id_number", "phone", "employer", "migrant", "monthly_income",
    "subsistence_line", "category", "causes", "members", "filed_on",
)
OPTIONAL_COLUMNS = ("members",)
MEMBER_PARTS = ("name", "relation", "age", "health", "schooling", "employment", "id_number")
YES, NO = {"是", "y", "yes", "true", "1"}, {"否", "n", "no", "false", "0"}
# Where a field of the API body comes from in a row.
COLUMN_OF = {
    ("worker", "name"): "name", ("worker", "id_number"): "id_number", ("worker", "phone"): "phone",
    ("worker", "employer"): "employer", ("worker", "migrant"): "migrant",
    ("household", "monthly_income"): "monthly_income", ("household", "subsistence_line"): "subsistence_line",
    ("household", "members"): "members",
}


# An age as a cell writes it: ASCII digits only, as the API's integers (str.isdigit() takes "４１" too).
AGE = re.compile(r"[0-9]{1,12}")

# One instance for every row: building a schema deep-copies its fields and nested schemas.
ROW_SCHEMA = OpenCaseRequest()
DATE = fields.Date()


class ImportFileError(Exception):
    """The file as a whole cannot be read: wrong type, not UTF-8, or columns missing."""


def read_rows(data: bytes, content_type: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number as a spreadsheet shows it, cells by column name); row 1 is the header."""
    table = read_table(data, content_type)
    header = [str(h or "").strip().lower() for h in next(table, [])]
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        raise ImportFileError(f"missing columns: {', '.join(missing)}")
    for number, values in enumerate(table, start=2):
        cells = {name: cell_text(value) for name, value in zip(header, values, strict=False) if name}
        if any(cells.values()):
            yield number, cells


def count_rows(data: bytes, content_type: str) -> int:
    return sum(1 for _ in read_rows(data, content_type))


def parse_row(cells: dict[str, str]) -> tuple[dict[str, Any], date] | dict[str, str]:
    """Return the API body and filing date of a row, or its problems by column."""
    body = {
        "federation": cells.get("federation", ""),
        "worker": {
            "name": cells.get("name", ""),
            "id_number": cells.get("id_number", ""),
            "phone": cells.get("phone", ""),
            "employer": cells.get("employer", ""),
            "migrant": _yes_no(cells.get("migrant", "")),
        },
        "household": {
            "members": _members(cells.get("members", "")),
            "monthly_income": cells.get("monthly_income", ""),
            "subsistence_line": cells.get("subsistence_line", ""),
        },
        "category": cells.get("category", ""),
        "causes": [c.strip() for c in cells.get("causes", "").replace("、", ";").split(";") if c.strip()],
    }
    problems: dict[str, str] = {}
    try:
        loaded = ROW_SCHEMA.load(body)
    except ValidationError as exc:
        problems.update(_by_column(exc.messages))
    try:
        filed_on = DATE.deserialize(cells.get("filed_on", ""))
    except ValidationError as exc:
        problems["filed_on"] = "; ".join(exc.messages)
    return problems or (loaded, filed_on)


def read_table(data: bytes, content_type: str) -> Iterator[Any]:
    if content_type.startswith(CSV):
        try:
            text = data.decode("utf-8-sig")  # with or without a byte-order mark
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"CSV must be UTF-8: {exc}") from None
        return iter(csv.reader(io.StringIO(text, newline="")))
    if content_type.startswith(XLSX):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises several kinds for a damaged file
            raise ImportFileError(f"not a readable XLSX file: {type(exc).__name__}") from None
        return sheet.iter_rows(values_only=True)
    raise ImportFileError(f"send {CSV} or {XLSX}, not {content_type or 'no content type'}")


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _yes_no(value: str) -> Any:
    lowered = value.strip().lower()
    return True if lowered in YES else False if lowered in NO else value


def _members(value: str) -> list[dict[str, Any]]:
    members = []
    for entry in filter(None, (e.strip() for e in value.split(";"))):
        parts = [p.strip() for p in entry.split("|")]
        member: dict[str, Any] = {k: v for k, v in zip(MEMBER_PARTS, parts, strict=False) if v}
        if AGE.fullmatch(member.get("age", "")):
            member["age"] = int(member["age"])  # anything else stays text, which the schema refuses
        members.append(member)
    return members


def _by_column(messages: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for field, detail in messages.items():
        if isinstance(detail, dict) and field in ("worker", "household"):
            for inner, message in detail.items():
                found[COLUMN_OF.get((field, inner), str(inner))] = flat_message(message)
        else:
            found[str(field) if field in COLUMNS else "row"] = flat_message(detail)
    return found


def flat_message(message: Any) -> str:
    if isinstance(message, dict):
        return "; ".join(f"{k}: {flat_message(v)}" for k, v in message.items())
    if isinstance(message, list):
        return "; ".join(flat_message(m) for m in message)
    return str(message)
