"""The roster import on every backend: units and cadres from CSV or XLSX, each bad row reported, nothing twice."""

import csv
import io
from uuid import UUID

import pytest
from openpyxl import Workbook

from services.pairing.roster_import import CSV, MAX_ROWS, XLSX, RosterImportError, RosterImportView, import_roster
from tests.factories import PAIRING_TODAY

TODAY = PAIRING_TODAY
HEADER = ("kind", "name", "function", "federation", "unit", "rank", "phone", "user")


def to_csv(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def to_xlsx(rows, header=HEADER):
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(app, data, content_type=CSV, scope="gs"):
    result = import_roster(app, data, content_type, scope=scope, by="admin")
    assert RosterImportView().validate(result) == {}
    return result


ROSTER = [
    ("unit", "卫健局", "health", "gs", "", "", "", ""),
    ("unit", "教育局", "education", "gs.by", "", "", "", ""),
    ("cadre", "王芳", "", "gs.by", "卫健局", "leader", "13912345678", "wangfang"),  # a unit of gs, above
    ("cadre", "李娜", "", "gs.by.pg", "教育局", "staff", "13912345679", "lina"),
    ("cadre", "张伟", "", "gs", "卫健局", "staff", "13912345680", "zhangwei"),
]


def by_user(app):
    return {c["user_name"]: c for c in app.cadres("gs")}


def test_a_csv_roster_registers_its_units_and_their_cadres(pairings):
    result = run(pairings, to_csv(ROSTER))
    assert result == {"rows": 5, "units_registered": 2, "units_existing": 0, "cadres_registered": 3, "errors": []}
    units = {u["name"]: u for u in pairings.units("gs")}
    assert {(u["name"], u["function"], u["federation"]) for u in units.values()} == {
        ("卫健局", "health", "gs"), ("教育局", "education", "gs.by")}
    cadres = by_user(pairings)
    assert cadres["wangfang"]["unit_id"] == units["卫健局"]["unit_id"]
    assert (cadres["wangfang"]["rank"], cadres["wangfang"]["federation"]) == ("leader", "gs.by")
    assert cadres["lina"]["unit_id"] == units["教育局"]["unit_id"]
    assert cadres["lina"]["function"] == "education"


def test_an_xlsx_roster_imports_like_csv_with_chinese_kinds_and_numeric_phones(pairings):
    rows = [
        ("单位", "人社局", "employment", "gs.by", None, None, None, None),
        ("干部", "刘洋", None, "gs.by", "人社局", "staff", 13912345681, "liuyang"),  # a phone typed as a number
        ("帮扶责任人", "陈静", None, "gs.by.pg", "人社局", "leader", "13912345682", "chenjing"),
    ]
    result = run(pairings, to_xlsx(rows), XLSX)
    assert result == {"rows": 3, "units_registered": 1, "units_existing": 0, "cadres_registered": 2, "errors": []}
    cadres = by_user(pairings)
    assert pairings.load(UUID(cadres["liuyang"]["cadre_id"])).phone == "13912345681"
    assert cadres["chenjing"]["function"] == "employment"


def test_a_cadre_row_before_its_unit_row_and_a_unit_named_by_id(pairings):
    existing = pairings.register_unit(name="民政局", function="civil_affairs", federation="gs", scope="gs",
                                      by="admin")
    rows = [
        ("cadre", "王芳", "", "gs.by", "司法局", "staff", "13912345678", "wangfang"),
        ("cadre", "李娜", "", "gs.by", str(existing.id).upper(), "staff", "13912345679", "lina"),
        ("unit", "司法局", "justice", "gs.by", "", "", "", ""),
    ]
    result = run(pairings, to_csv(rows))
    assert (result["units_registered"], result["cadres_registered"], result["errors"]) == (1, 2, [])
    cadres = by_user(pairings)
    assert cadres["lina"]["unit_id"] == str(existing.id)
    assert cadres["wangfang"]["function"] == "justice"


def test_each_bad_row_is_reported_by_row_and_column_and_the_others_go_on(pairings):
    pairings.register_unit(name="卫健局", function="health", federation="gs.lz", scope="gs", by="admin")
    rows = [
        ("unit", "卫健局", "health", "gs.by", "", "", "", ""),                              # 2 fine
        ("unit", "气象局", "weather", "gs.by", "", "", "", ""),                             # 3 unknown function
        ("cadre", "王芳", "", "gs.by", "卫健局", "staff", "12345", "wangfang"),              # 4 bad phone
        ("cadre", "李娜", "", "gs.by", "财政局", "staff", "13912345679", "lina"),            # 5 unknown unit
        ("cadre", "张伟", "", "gs.by", "卫健局", "boss", "13912345680", "zhangwei"),         # 6 unknown rank
        ("unit", "住建局", "housing", "gs.lz", "", "", "", ""),                              # 7 outside gs.by
        ("cadre", "刘洋", "", "gs.lz", "卫健局", "staff", "13912345681", "liuyang"),         # 8 outside gs.by
        ("member", "陈静", "", "gs.by", "", "", "", ""),                                     # 9 unknown kind
        ("cadre", "", "", "GS BY", "卫健局", "staff", "13912345682", ""),                    # 10 three columns
        ("cadre", "赵磊", "", "gs.by", "", "staff", "13912345683", "zhaolei"),               # 11 no unit
        ("cadre", "孙丽", "", "gs.by", "卫健局", "staff", "010-12345678", "sunli"),          # 12 a landline
        ("cadre", "周杰", "", "gs.by", "卫健局", "leader", "13912345684", "zhoujie"),        # 13 fine
    ]
    result = run(pairings, to_csv(rows), scope="gs.by")
    found = [(e["row"], e["column"]) for e in result["errors"]]
    assert found == [
        (3, "function"), (4, "phone"), (5, "unit"), (6, "rank"), (7, "federation"), (8, "federation"),
        (9, "kind"), (10, "federation"), (10, "name"), (10, "user"), (11, "unit"), (12, "phone"),
    ]
    reasons = {(e["row"], e["column"]): e["reason"] for e in result["errors"]}
    assert reasons[(5, "unit")] == "no unit named 财政局 at gs.by or above"
    assert reasons[(7, "federation")] == "gs.lz is outside gs.by"
    assert "member" in reasons[(9, "kind")]
    assert reasons[(12, "phone")] == "must be an 11-digit mobile number"  # the schema takes it, the domain not
    assert (result["rows"], result["units_registered"], result["cadres_registered"]) == (12, 1, 1)
    assert set(by_user(pairings)) == {"zhoujie"}
    assert {u["federation"] for u in pairings.units("gs") if u["name"] == "住建局"} == set()


def test_importing_the_same_file_again_registers_nothing_twice(pairings):
    data = to_csv(ROSTER)
    run(pairings, data)
    again = run(pairings, data)
    assert (again["units_registered"], again["units_existing"], again["cadres_registered"]) == (0, 2, 0)
    assert [(e["row"], e["column"], e["reason"]) for e in again["errors"]] == [
        (4, "user", "user already registered"), (5, "user", "user already registered"),
        (6, "user", "user already registered"),
    ]
    assert len(pairings.units("gs")) == 2
    assert len(pairings.cadres("gs")) == 3


def test_a_login_name_is_taken_anywhere_and_once_in_a_file(pairings):
    health = pairings.register_unit(name="卫健局", function="health", federation="gs.lz", scope="gs", by="admin")
    pairings.register_cadre(name="王芳", unit_id=str(health.id), rank="staff", federation="gs.lz",
                            phone="13912345678", user="wangfang", scope="gs", by="admin")
    rows = [
        ("unit", "卫健局", "health", "gs.by", "", "", "", ""),
        ("cadre", "王芳", "", "gs.by", "卫健局", "staff", "13912345679", "wangfang"),  # taken in gs.lz
        ("cadre", "李娜", "", "gs.by", "卫健局", "staff", "13912345680", "lina"),
        ("cadre", "李娜", "", "gs.by", "卫健局", "staff", "13912345681", "lina"),      # twice in the file
    ]
    result = run(pairings, to_csv(rows), scope="gs.by")
    assert [(e["row"], e["column"]) for e in result["errors"]] == [(3, "user"), (5, "user")]
    assert result["cadres_registered"] == 1


def test_a_unit_of_the_same_name_and_federation_with_another_function_is_an_error(pairings):
    pairings.register_unit(name="卫健局", function="health", federation="gs", scope="gs", by="admin")
    result = run(pairings, to_csv([("unit", "卫健局", "education", "gs", "", "", "", "")]))
    assert [(e["row"], e["column"]) for e in result["errors"]] == [(2, "function")]
    assert "already registered with function health" in result["errors"][0]["reason"]
    assert result["units_existing"] == 0 and len(pairings.units("gs")) == 1


def test_a_unit_name_two_units_share_must_be_given_by_id(pairings):
    for _ in range(2):
        pairings.register_unit(name="卫健局", function="health", federation="gs", scope="gs", by="admin")
    result = run(pairings, to_csv([("cadre", "王芳", "", "gs.by", "卫健局", "staff", "13912345678", "wangfang")]))
    assert [(e["row"], e["column"]) for e in result["errors"]] == [(2, "unit")]
    assert "give the unit_id" in result["errors"][0]["reason"]


def test_a_file_of_units_only_needs_no_cadre_columns_and_blank_rows_are_skipped(pairings):
    header = ("Kind", "Name", "Function", "Federation", "note")
    rows = [("单位", "卫健局", "health", "gs", "x"), ("", "", "", "", ""), ("unit", "教育局", "education", "gs", "")]
    result = run(pairings, to_csv(rows, header))
    assert (result["rows"], result["units_registered"], result["errors"]) == (2, 2, [])


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"kind,name\n", CSV, "missing columns: federation"),
    (b"", CSV, "missing columns: kind, name, federation"),
    (b"kind,name,federation\ncadre,x,gs\n", CSV, "missing columns for cadre rows: unit, rank, phone, user"),
    (b"kind,name,federation\nunit,x,gs\n", CSV, "missing columns for unit rows: function"),
    (b"\xff\xfekind", CSV, "CSV must be UTF-8"),
    (b"not a workbook", XLSX, "not a readable XLSX file"),
    (b"kind,name,federation\n", "application/json", "send text/csv or"),
    (b"kind,name,federation\nunit,x,gs\nunit,\"" + b"y" * 200_000 + b"\",gs\n", CSV, "row 3 cannot be read"),
])
def test_a_file_that_cannot_be_imported_raises_with_the_reason(pairings, data, content_type, reason):
    with pytest.raises(RosterImportError) as raised:
        import_roster(pairings, data, content_type, scope="gs", by="admin")
    assert reason in str(raised.value)
    assert pairings.units("gs") == []


def test_more_rows_than_the_limit_is_a_file_error_and_registers_nothing(pairings):
    rows = [("unit", f"单位{n}", "health", "gs", "", "", "", "") for n in range(MAX_ROWS + 1)]
    with pytest.raises(RosterImportError, match=f"more than {MAX_ROWS} rows"):
        import_roster(pairings, to_csv(rows), CSV, scope="gs", by="admin")
    assert pairings.units("gs") == []
