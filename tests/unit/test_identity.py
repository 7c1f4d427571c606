from datetime import date

import pytest

from services.intake.identity import (
    id_number_problem,
    mask_id_number,
    mask_phone,
    person_digest,
    with_check_character,
)


def test_a_published_sample_id_number_is_valid():
    assert id_number_problem("11010519491231002X") is None


def test_the_check_character_is_computed_by_mod_11_2():
    assert with_check_character("11010519491231002") == "11010519491231002X"
    assert with_check_character("44052418800101001") == "440524188001010014"


@pytest.mark.parametrize(
    ("id_number", "problem"),
    [
        ("110105194912310021", "check character"),
        ("11010519491331002X", "birth date"),
        ("1101051949123100", "17 digits"),
        ("11010519491231002Y", "17 digits"),
        ("", "17 digits"),
    ],
)
def test_a_wrong_id_number_says_what_is_wrong(id_number, problem):
    assert problem in id_number_problem(id_number)


def test_masks_keep_only_the_region_and_last_four():
    assert mask_id_number("620402198005170014") == "6204**********0014"
    assert mask_phone("13912345678") == "139****5678"


def test_the_person_digest_is_keyed_and_stable():
    a = person_digest("k1", "620402198005170014")
    assert a == person_digest("k1", "620402198005170014")
    assert a != person_digest("k2", "620402198005170014")
    assert "620402198005170014" not in a


@pytest.mark.parametrize(
    ("first17", "problem"),
    [("11010518991231001", "before 1900"), ("11010520261202001", "in the future")],
)
def test_the_birth_date_lies_between_1900_and_today(first17, problem):
    assert problem in id_number_problem(with_check_character(first17), today=date(2026, 12, 1))
    assert id_number_problem(with_check_character("11010519000101001"), today=date(2026, 12, 1)) is None


@pytest.mark.parametrize("value", ["11010519491231002X\n", " 11010519491231002X", "１１010519491231002X"])
def test_a_trailing_newline_or_full_width_digit_is_not_an_id_number(value):
    assert "17 digits" in id_number_problem(value)
