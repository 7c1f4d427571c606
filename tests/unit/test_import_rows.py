"""A row of an import file is checked as the API would check its body."""

import random

import pytest

from services.intake.import_rows import parse_row
from tests.import_files import valid_row


def row_with_members(members):
    row = valid_row(random.Random(7))
    row["members"] = members
    return row


def test_an_age_in_ascii_digits_is_read_as_a_number():
    body, _ = parse_row(row_with_members("李娜|spouse|41|healthy|junior"))
    assert body["household"]["members"][0]["age"] == 41


@pytest.mark.parametrize("age", ["４１", "٤١", "²", "41.0", "-3", "forty"])
def test_an_age_not_in_ascii_digits_is_a_problem_of_the_members_column(age):
    problems = parse_row(row_with_members(f"李娜|spouse|{age}|healthy|junior"))
    assert isinstance(problems, dict)
    assert list(problems) == ["members"]
    assert "age" in problems["members"]
