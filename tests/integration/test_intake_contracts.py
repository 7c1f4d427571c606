"""Every event intake can publish matches its registered contract, so consumers never dead-letter it."""

from datetime import UTC, date, datetime
from decimal import Decimal

from services.contracts import decode, encode
from services.eventstore import store_env
from services.intake.application import Cases, ImportedRow
from services.intake.imports import ImportJob
from services.intake.outbound import TYPES, case_event
from tests.factories import application_body, id_number


def every_kind_of_event(cases):
    body = application_body()
    body["household"]["monthly_income"] = Decimal("900")
    body["household"]["members"][0]["id_number"] = id_number()
    case_id = str(cases.open_case(opened_by="li", **body).id)
    steps = [
        lambda c: c.verify(["a", "b"], date(2025, 3, 2), Decimal("600"), "f", "li"),
        lambda c: c.deliberate(date(2025, 3, 5), "recommend", "", "li"),
        lambda c: c.publish_notice(date(2025, 3, 6), 7, "li"),
        lambda c: c.resolve_objection(c.raise_objection(date(2025, 3, 7), "有车", "邻居"), False, "不属实", "li"),
        lambda c: c.approve(date(2025, 3, 13), "wang"),
        lambda c: c.review(date(2026, 3, 1), "仍困难", True, "li"),
        lambda c: c.complete_measure(c.add_measure("medical", "救助", date(2026, 3, 2), None, "li"),
                                     date(2026, 4, 1), "ok", "li"),
        lambda c: c.exit("moved", date(2026, 5, 1), "", "li"),
        lambda c: c.refile(date(2026, 6, 1), "返困", "wang"),
    ]
    for step in steps:
        cases.change(case_id, "gs", step)
    cases.amend(case_id, "gs", {"household": {**body["household"], "monthly_income": Decimal("500")}}, "失业", "li")
    for ending in ("reject", "withdraw"):
        other = str(cases.open_case(opened_by="li", **application_body()).id)
        cases.change(other, "gs", lambda c, e=ending: getattr(c, e)("原因", "li"))
    imported = application_body()
    imported["household"]["monthly_income"] = Decimal("900")
    person = cases.digest(imported["worker"]["id_number"])
    row = ImportedRow(2, imported, date(2020, 1, 1), (person,))
    assert cases.file_imported([row], ImportJob("d", "gs", "f", "li"), "li") == {}


def test_every_outbound_event_type_validates_against_its_contract(tmp_path):
    cases = Cases({**store_env("memory://"), "PERSON_KEY": "k"})
    every_kind_of_event(cases)
    seen = set()
    for notification in cases.recorder.select_notifications(start=None, limit=1000):
        envelope = case_event(cases, notification, datetime.now(UTC))
        if envelope is not None:
            assert decode(encode(envelope)) == envelope  # exactly what a consumer checks
            seen.add(envelope.type)
    assert seen == set(TYPES.values())
