"""Read a bank's result file: one line per transfer, paid with the bank's reference or failed with a reason.

Columns (a header row, in any order; more columns are ignored): `disbursement_id`, `result` (`paid` or
`failed`), `date` (YYYY-MM-DD), `bank_reference` (for a paid line), `reason` (for a failed line). A line
that does not read is refused with the reason and applies nothing; the others are applied.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from services.intake.import_rows import CSV, ImportFileError, cell_text, read_table
from services.web.fields import TEXT_CONTROLS, UUID_PATTERN

COLUMNS = ("disbursement_id", "result", "date", "bank_reference", "reason")
MAX_LINES = 20_000
REFERENCE = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONTROL = re.compile(f"[{TEXT_CONTROLS}]")


class BankFileError(Exception):
    """The file as a whole cannot be read: not UTF-8 CSV, no header, a column missing, too many lines."""


def read_results(data: bytes, content_type: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines to apply, and the lines refused with their reason (line numbers count the header as 1)."""
    if not content_type.startswith(CSV):
        raise BankFileError(f"send {CSV}, not {content_type or 'no content type'}")
    try:
        rows = read_table(data, content_type)
        header = [cell_text(c).lower() for c in next(rows, [])]
    except ImportFileError as exc:
        raise BankFileError(str(exc)) from None
    missing = [c for c in COLUMNS[:3] if c not in header]
    if missing:
        raise BankFileError(f"the header lacks {', '.join(missing)}; columns are {', '.join(COLUMNS)}")
    lines, refused = [], []
    for number, row in enumerate(rows, start=2):
        if number - 1 > MAX_LINES:
            raise BankFileError(f"at most {MAX_LINES} lines in one file")
        cells = {name: cell_text(row[i]) if i < len(row) else "" for i, name in enumerate(header)}
        if not any(cells.values()):
            continue
        problem = line_problem(cells)
        if problem:
            refused.append({"line": number, "disbursement_id": cells.get("disbursement_id", "")[:36],
                            "outcome": "refused", "reason": problem})
            continue
        lines.append({"line": number, "disbursement_id": cells["disbursement_id"], "result": cells["result"],
                      "date": date.fromisoformat(cells["date"]), "bank_reference": cells.get("bank_reference", ""),
                      "reason": cells.get("reason", "")})
    return lines, refused


def line_problem(cells: dict[str, str]) -> str | None:
    if re.fullmatch(UUID_PATTERN, cells["disbursement_id"]) is None:
        return "disbursement_id: not an id (a lower-case UUID)"
    if cells["result"] not in ("paid", "failed"):
        return "result: must be paid or failed"
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", cells["date"]) is None:
        return "date: must be a date written YYYY-MM-DD"
    try:
        date.fromisoformat(cells["date"])
    except ValueError:
        return "date: not a real date"
    if cells["result"] == "paid" and REFERENCE.fullmatch(cells.get("bank_reference", "")) is None:
        return "bank_reference: a paid line needs the bank's reference (letters, digits, _ and -, 1 to 64)"
    reason = cells.get("reason", "")
    if cells["result"] == "failed" and (not reason.strip() or len(reason) > 500 or CONTROL.search(reason)):
        return "reason: a failed line needs the bank's reason (one line, at most 500 characters)"
    return None
