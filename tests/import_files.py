"""Build import files for tests and benchmarks: valid rows, with bad rows and duplicates where asked."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from typing import Any

from services.intake.import_rows import COLUMNS
from tests.factories import random_id_number

# A bad row: which column is wrong, and how.
BREAKAGES = [
    ("id_number", lambda r: r["id_number"][:-1] + ("0" if r["id_number"][-1] != "0" else "1")),
    ("id_number", lambda r: r["id_number"][:10]),
    ("phone", lambda r: "12345"),
    ("monthly_income", lambda r: "-300"),
    ("category", lambda r: "poorest"),
    ("causes", lambda r: ""),
    ("filed_on", lambda r: "2023-02-30"),
    ("federation", lambda r: "GS BY"),
    ("migrant", lambda r: "maybe"),
    ("members", lambda r: "李娜|spouse|forty|healthy|junior"),
]


def valid_row(rng: random.Random, federation: str = "gs.by", with_member_id: bool = False) -> dict[str, str]:
    spouse_id = random_id_number(rng) if with_member_id else ""
    return {
        "federation": federation,
        "name": rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]),
        "id_number": random_id_number(rng),
        "phone": f"139{rng.randrange(10**8):08d}",
        "employer": "白银有色集团",
        "migrant": rng.choice(["是", "否"]),
        "monthly_income": str(rng.randrange(600, 3000)),
        "subsistence_line": "700",
        "category": rng.choice(["subsistence", "marginal", "accident"]),
        "causes": rng.choice(["illness", "illness;education", "low_income", "unemployment;disability"]),
        "members": f"李娜|spouse|41|chronic_illness|junior|flexible|{spouse_id}".rstrip("|"),
        "filed_on": f"202{rng.randrange(0, 5)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
    }


def import_rows(n: int, bad: float, duplicates: float, seed: int = 1) -> tuple[
    list[dict[str, str]], dict[int, str], dict[int, int]
]:
    """Rows, the expected bad column by spreadsheet row, and each duplicate row's original row."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    broken: dict[int, str] = {}
    copies: dict[int, int] = {}
    originals: list[int] = []
    for index in range(n):
        number = index + 2  # row 1 is the header
        roll = rng.random()
        row = valid_row(rng)
        if roll < bad:
            column, breaking = BREAKAGES[index % len(BREAKAGES)]
            row[column] = breaking(row)
            broken[number] = column
        elif roll < bad + duplicates and originals:
            original = rng.choice(originals[-50:])
            row["id_number"] = rows[original - 2]["id_number"]
            copies[number] = original
        else:
            originals.append(number)
        rows.append(row)
    return rows, broken, copies


def to_csv(rows: list[dict[str, Any]], bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def to_xlsx(rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def stream_csv(n: int, seed: int = 3) -> Iterator[bytes]:
    """Valid rows as CSV lines, for benchmarks that must not build the whole file in Python objects."""
    rng = random.Random(seed)
    yield ",".join(COLUMNS).encode() + b"\n"
    for _ in range(n):
        out = io.StringIO()
        csv.writer(out).writerow(valid_row(rng).values())
        yield out.getvalue().encode()
