"""The rules an opening checks in the Case aggregate itself, whatever a schema checked before."""

from datetime import date
from decimal import Decimal

import pytest

from services.intake.domain import AgeMismatch, Case, FutureDate, InvalidValue, RepeatedPerson
from tests.factories import BORN, application_body, id_number, opened_case

TODAY = date(2026, 12, 1)
AGE = 46  # of someone born on BORN, on TODAY


def with_member_id(age=AGE):
    """An application whose first member gives an ID number (born on BORN) and an age."""
    body = application_body()
    body["household"]["members"][0].update(id_number=id_number(), age=age)
    return body


def open_body(body, today=TODAY, **kwargs):
    return Case.open(opened_by="li", today=today, **body, **kwargs)


def test_a_valid_application_opens_with_its_per_capita_income_computed():
    case = opened_case(today=TODAY)
    assert case.state == "applied"
    assert case.household["per_capita_income"] == Decimal("600.00")  # 1800 over three people
    assert case.causes == ["education", "illness"]  # sorted, each once


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"category": "poor"}, "category: must be one of subsistence, marginal, accident"),
        ({"causes": []}, "causes: name at least one cause"),
        ({"causes": ["illness", "bad_luck"]}, r"causes\[1\]: must be one of"),
        ({"federation": "gs.by\n"}, "federation: must be a federation code"),
    ],
)
def test_category_causes_and_federation_are_checked(overrides, message):
    with pytest.raises(InvalidValue, match=message):
        opened_case(today=TODAY, **overrides)


def test_household_money_is_checked():
    body = application_body()
    body["household"]["monthly_income"] = "-1"
    with pytest.raises(InvalidValue, match=r"household\.monthly_income: must not be negative"):
        open_body(body)
    body["household"]["monthly_income"], body["household"]["subsistence_line"] = "900", "0"
    with pytest.raises(InvalidValue, match=r"household\.subsistence_line: must be more than 0"):
        open_body(body)


@pytest.mark.parametrize(
    ("born", "problem"),
    [(date(2027, 1, 1), "in the future"), (date(1899, 12, 31), "before 1900")],
)
def test_an_id_number_born_in_the_future_or_before_1900_is_refused(born, problem):
    body = application_body()
    body["worker"]["id_number"] = id_number(born=born)
    with pytest.raises(InvalidValue, match=f"worker.id_number: birth date .* {problem}"):
        open_body(body)


def test_a_member_whose_age_disagrees_with_their_id_number_is_refused_naming_the_field():
    with pytest.raises(AgeMismatch, match=r"household.members\[0\].age: 30 does not agree") as refused:
        open_body(with_member_id(age=30))
    assert refused.value.fields == {"household": {"members": {0: {"age": [refused.value.problem]}}}}


@pytest.mark.parametrize("age", [AGE - 1, AGE, AGE + 1])
def test_a_member_age_within_a_year_of_the_id_number_is_accepted(age):
    assert open_body(with_member_id(age=age)).state == "applied"


def test_the_age_is_reckoned_on_the_opening_day():
    day_before_birthday = date(2026, BORN.month, BORN.day - 1)
    assert open_body(with_member_id(age=AGE - 2), today=day_before_birthday).state == "applied"
    with pytest.raises(AgeMismatch):
        open_body(with_member_id(age=AGE - 2), today=TODAY)


def test_the_same_id_number_twice_in_one_household_is_refused():
    body = with_member_id()
    body["worker"]["id_number"] = body["household"]["members"][0]["id_number"]
    with pytest.raises(RepeatedPerson, match=r"household.members\[0\].id_number: the same ID number appears twice"):
        open_body(body)


def test_an_imported_file_filed_in_the_future_is_refused():
    origin = {"filed_on": "2027-01-01", "import_id": "i", "row": 2}
    with pytest.raises(FutureDate, match="filed_on"):
        open_body(application_body(), imported=origin)
    assert open_body(application_body(), imported={**origin, "filed_on": "2020-01-01"}).state == "filed"
