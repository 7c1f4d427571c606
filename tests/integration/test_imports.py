"""Bulk import through the HTTP API: every bad row reported, duplicates caught, nothing filed twice."""

import time

from services.intake.import_rows import CSV, XLSX
from tests.import_files import import_rows, to_csv, to_xlsx, valid_row


def upload(staff, data, content_type, timeout=120):
    response = staff.post("/imports?filename=cases", data=data, headers={"Content-Type": content_type})
    assert response.status_code in (200, 202), response.text
    view = response.json()
    deadline = time.monotonic() + timeout
    while view["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        view = staff.get(f"/imports/{view['import_id']}").json()
    return response.status_code, view


def filed_count(system):
    return len(system.client("intake", "admin", "gs").get("/cases", params={"state": "filed"}).json()["cases"])


def test_ten_thousand_rows_with_bad_rows_and_duplicates_are_reported_row_by_row(system, staff):
    rows, broken, copies = import_rows(10_000, bad=0.05, duplicates=0.02)
    before = filed_count(system)
    status, view = upload(staff, to_csv(rows, bom=True), CSV)
    assert status == 202 and view["state"] == "done"
    by_row = {}
    for failure in view["failures"]:
        by_row.setdefault(failure["row"], []).append(failure)
    assert set(by_row) == set(broken) | set(copies)
    for row, column in broken.items():
        assert [f["column"] for f in by_row[row]] == [column], by_row[row]
    for row, original in copies.items():
        assert by_row[row][0]["reason"] == f"duplicate of row {original} in this file"
    assert view["filed"] == 10_000 - len(broken) - len(copies)
    assert filed_count(system) == before + view["filed"]
    assert 400 <= len(broken) <= 600 and 150 <= len(copies) <= 250


def test_the_same_file_twice_files_nothing_twice(system, staff):
    data = to_csv(import_rows(300, bad=0, duplicates=0, seed=9)[0])
    _, first = upload(staff, data, CSV)
    before = filed_count(system)
    status, second = upload(staff, data, CSV)
    assert status == 200 and second["import_id"] == first["import_id"]
    assert filed_count(system) == before


def test_rows_of_people_already_filed_are_reported_with_the_existing_case(system, staff):
    rows = import_rows(20, bad=0, duplicates=0, seed=11)[0]
    upload(staff, to_csv(rows), CSV)
    again = [dict(row, phone="13800000000") for row in rows[:5]]  # a different file with the same people
    _, view = upload(staff, to_csv(again), CSV)
    assert view["filed"] == 0
    assert all(f["reason"].startswith("already in active case") for f in view["failures"])


def test_an_xlsx_file_imports_like_csv(system, staff):
    import random

    rng = random.Random(5)
    rows = [valid_row(rng) for _ in range(40)]
    rows[3]["category"] = "poorest"
    _, view = upload(staff, to_xlsx(rows), XLSX)
    assert view["filed"] == 39
    assert view["failures"] == [{"row": 5, "column": "category", "reason": "Must be one of: subsistence, marginal, "
                                 "accident."}]


def test_rows_outside_the_importers_federation_are_refused(system):
    import random

    rows = [valid_row(random.Random(21), federation="gs.ln")]
    _, view = upload(system.client("intake", "caseworker", "gs.by", "li"), to_csv(rows), CSV)
    assert view["failures"] == [{"row": 2, "column": "federation", "reason": "gs.ln is outside gs.by"}]


def test_a_file_that_is_not_a_table_is_a_400(staff):
    response = staff.post("/imports", data=b"\x00\x01", headers={"Content-Type": XLSX})
    assert response.status_code == 400
    assert "file" in response.json()["fields"]
    response = staff.post("/imports", data=b"name,phone\n", headers={"Content-Type": CSV})
    assert response.status_code == 400
    assert "missing columns" in response.json()["message"]
