"""Federation codes match as a whole, and one rule says which federation covers which."""

import pytest

from services.contracts.federation import FEDERATION_CODE, in_subtree, is_federation_code
from services.web.auth import Principal


@pytest.mark.parametrize("code", ["gs", "gs.by", "gs.by.pg", "nm2.bt"])
def test_codes_of_lower_case_parts_joined_by_dots_are_valid(code):
    assert is_federation_code(code) and FEDERATION_CODE.match(code)


@pytest.mark.parametrize("code", ["gs.by\n", "gs.by.pg\n", "GS", "gs..by", "gs.", ".gs", "gs by", "", "1gs"])
def test_anything_else_is_not_a_code_even_with_a_trailing_newline(code):
    assert not is_federation_code(code)
    assert FEDERATION_CODE.match(code) is None  # what marshmallow's Regexp calls


@pytest.mark.parametrize(
    ("federation", "root", "inside"),
    [("gs.by", "gs.by", True), ("gs.by.pg", "gs.by", True), ("gs.by.pg", "gs", True),
     ("gs.byx", "gs.by", False), ("gs", "gs.by", False), ("gs.ln", "gs.by", False)],
)
def test_a_federation_is_in_the_subtree_of_itself_and_its_ancestors_only(federation, root, inside):
    assert in_subtree(federation, root) is inside
    assert Principal("li", "caseworker", root).covers(federation) is inside
