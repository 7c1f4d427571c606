"""The shared field types refuse what could not be stored faithfully, and accept what their pattern documents."""

import re
from datetime import date
from decimal import Decimal

import pytest
from marshmallow import Schema, ValidationError

from services.web.errors import field_problems, message_of
from services.web.fields import (
    BoundedList,
    Code,
    Day,
    FullMatch,
    Money,
    Name,
    StrictBoolean,
    StrictInteger,
    Text,
    surrogate_free,
)


class Sample(Schema):
    name = Name(required=False)
    text = Text(100, required=False)
    findings = Text(100, required=False, allow_blank=False)
    code = Code()
    money = Money(required=False)
    line = Money(positive=True, required=False)
    flag = StrictBoolean()
    count = StrictInteger()
    year = StrictInteger(text=True)
    day = Day()
    entries = BoundedList(StrictInteger(), max_items=3, min_items=1)


SAMPLE = Sample()


def load(**data):
    return SAMPLE.load(data)


def refused(**data):
    with pytest.raises(ValidationError) as caught:
        SAMPLE.load(data)
    return caught.value.messages


def documented(field):
    return re.compile(SAMPLE.fields[field].metadata["pattern"])


def test_full_match_refuses_a_trailing_newline_that_re_match_accepts():
    assert re.match(r"^gs$", "gs\n")
    with pytest.raises(ValidationError):
        FullMatch("gs", "no")("gs\n")
    assert FullMatch("gs", "no")("gs") == "gs"


@pytest.mark.parametrize("value", ["gs.by.pg\n", "GS", "gs..by", "gs.", "ｇｓ", "gs.by\x00"])
def test_a_federation_code_matches_whole(value):
    assert "code" in refused(code=value)


@pytest.mark.parametrize("value", ["张\x00伟", "张\n伟", "张\t伟", "   ", "\u3000", "", "a" * 51, "\x85x"])
def test_a_name_has_no_control_characters_and_is_not_blank(value):
    assert "name" in refused(name=value)


def test_free_text_keeps_line_breaks_and_tabs_but_no_other_control_character():
    assert load(text="一\n二\r\n\t三")["text"] == "一\n二\r\n\t三"
    assert "text" in refused(text="bell\x07")
    assert "text" in refused(text="nul\x00")
    assert load(text="   ")["text"] == "   "  # an optional text may be blank
    assert "findings" in refused(findings=" \n ")


def test_a_lone_surrogate_is_refused_in_text():
    assert not surrogate_free("a\ud800")
    assert surrogate_free("😀")
    assert "name" in refused(name="张\ud800")


@pytest.mark.parametrize(("value", "stored"), [("0", "0.00"), ("1800", "1800.00"), ("0.5", "0.50"),
                                               ("99999999.99", "99999999.99"), (1800, "1800.00")])
def test_money_accepts_up_to_two_places_and_keeps_them(value, stored):
    assert load(money=value)["money"] == Decimal(stored)
    assert SAMPLE.dump({"money": Decimal(stored)})["money"] == stored


@pytest.mark.parametrize(("value", "reason"), [
    ("0.001", "at most two decimal places"), ("-1", "must not be negative"), ("100000000", "at most"),
    ("1e3", "decimal string"), ("NaN", "decimal string"), ("Infinity", "decimal string"), (12.5, "decimal string"),
    (True, "decimal string"), ("１８００", "decimal string"), ("1800\n", "decimal string"), ("01", "leading zeros"),
])
def test_money_refuses_what_it_could_not_store_exactly(value, reason):
    assert reason in refused(money=value)["money"][0]


def test_positive_money_refuses_zero():
    assert refused(line="0.00")["line"] == ["must be greater than 0"]
    assert load(line="0.01")["line"] == Decimal("0.01")


def test_the_documented_money_patterns_agree_with_the_checks():
    for value in ("0", "0.0", "0.01", "1800.5", "99999999.99"):
        assert documented("money").search(value) and load(money=value)
    for value in ("0.001", "-1", "01", "100000000", "1e3"):
        assert not documented("money").search(value)
    for value in ("0.01", "0.1", "0.10", "5"):
        assert documented("line").search(value) and load(line=value)
    for value in ("0", "0.0", "0.00"):
        assert not documented("line").search(value)


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, "false"])
def test_a_boolean_is_only_json_true_or_false(value):
    assert "flag" in refused(flag=value)
    assert load(flag=False)["flag"] is False


@pytest.mark.parametrize("value", [True, 3.0, "3", 3.5])
def test_an_integer_is_only_a_json_integer(value):
    assert "count" in refused(count=value)
    assert load(count=3)["count"] == 3


@pytest.mark.parametrize("value", ["２０２６", "2026\n", " 2026", "2026.0", "", "1" * 20])
def test_an_integer_in_a_query_string_is_ascii_digits(value):
    assert "year" in refused(year=value)
    assert load(year="2026")["year"] == 2026


@pytest.mark.parametrize("value", ["２０２６-03-02", "2026-03-02\n", "20260302", "2026-3-2", "2026-02-30",
                                   "9999-12-31", "1899-12-31", "2026-03-02T00:00:00", 20260302])
def test_a_day_is_an_iso_date_of_ascii_digits_in_range(value):
    assert "day" in refused(day=value)
    assert load(day="2026-03-02")["day"] == date(2026, 3, 2)


def test_the_documented_name_pattern_refuses_what_the_check_refuses():
    pattern = documented("name")
    for value in ("张伟", " 张伟", "O'Brien-Smith"):
        assert pattern.search(value) and load(name=value)
    for value in ("   ", "张\x00伟", "张\n伟", "\x9f"):
        assert not pattern.search(value)


def test_a_bounded_list_is_refused_by_its_length_before_its_items_are_loaded():
    assert refused(entries=["x"] * 4)["entries"] == ["at most 3 items"]
    assert "entries" in refused(entries=[])
    assert refused(entries=[1, "x"])["entries"] == {1: ["Not a valid integer."]}
    assert load(entries=[1, 2, 3])["entries"] == [1, 2, 3]


def test_validation_messages_read_as_one_sentence_per_field():
    error = ValidationError({"household": {"members": {0: {"schooling": ["Must be one of: none, primary."]}}},
                             "causes": {1: ["Must be one of: illness."]}, "_schema": ["Invalid input type."]})
    assert field_problems(error.messages) == [
        ("household.members[0].schooling", "must be one of none, primary"),
        ("causes[1]", "must be one of illness"),
        ("", "invalid input type"),
    ]
    assert message_of(error) == ("household.members[0].schooling: must be one of none, primary; "
                                 "causes[1]: must be one of illness; invalid input type")


def test_a_long_list_of_problems_is_cut_short():
    error = ValidationError({f"f{i}": ["Missing data for required field."] for i in range(8)})
    assert message_of(error).endswith("; and 3 more")
