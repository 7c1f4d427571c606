"""Integration events are built field by field: a payload holds exactly the fields its contract names."""

from datetime import date
from decimal import Decimal

from services.contracts.intake_events import SCHEMAS
from services.intake.outbound import BUILDERS
from tests.factories import id_number, opened_case

TODAY = date(2026, 12, 1)


def filed_case_events():
    case = opened_case(household={"members": [{"name": "李娜", "relation": "spouse", "age": 46, "health": "healthy",
                                               "schooling": "junior", "id_number": id_number()}],
                                  "monthly_income": "900.00", "subsistence_line": "700.00"}, today=TODAY)
    case.verify(["a", "b"], date(2026, 3, 2), Decimal("600"), "ok", "li", today=TODAY)
    case.deliberate(date(2026, 3, 5), "recommend", "", "li", today=TODAY)
    case.publish_notice(date(2026, 3, 6), 7, "li", today=TODAY)
    case.approve(date(2026, 3, 13), "wang", today=TODAY)
    return case.collect_events()


def test_each_payload_has_the_fields_of_its_contract_and_no_other():
    for event in filed_case_events():
        event_type, build = BUILDERS[type(event).__qualname__]
        payload = build(event, "person-key")
        declared = SCHEMAS[event_type]().fields
        assert set(payload) == set(declared), event_type
        assert not SCHEMAS[event_type]().validate(payload), event_type


def test_an_attribute_added_to_a_domain_event_never_reaches_the_payload():
    verified = filed_case_events()[1]
    _, build = BUILDERS[type(verified).__qualname__]
    before = build(verified, "k")
    verified.__dict__["internal_note"] = "kept inside intake"
    assert build(verified, "k") == before
    assert "federation" not in before and verified.federation == "gs.by"


def test_personal_data_leaves_only_masked_and_digested():
    opened = filed_case_events()[0]
    payload = BUILDERS["Case.Opened"][1](opened, "k")
    assert "id_number" not in payload["worker"] and "phone" not in payload["worker"]
    [member] = payload["household"]["members"]
    assert "id_number" not in member and len(member["id_digest"]) == 64
    assert payload["household"]["per_capita_income"] == "450.00"
