import time

import jwt
import pytest

from services.web.auth import Principal, Unauthenticated, issue_token, read_token

SECRET = "test-secret-long-enough-for-hmac-sha256"


def test_a_valid_token_names_user_role_and_federation():
    token = issue_token(SECRET, "li", "caseworker", "gs.by")
    assert read_token(SECRET, f"Bearer {token}") == Principal("li", "caseworker", "gs.by")


def test_a_remembered_token_is_refused_once_it_expires():
    token = issue_token(SECRET, "li", "caseworker", "gs.by", ttl_seconds=1)
    read_token(SECRET, f"Bearer {token}")
    time.sleep(1.1)
    with pytest.raises(Unauthenticated):
        read_token(SECRET, f"Bearer {token}")


def test_a_token_signed_with_another_secret_is_refused_even_if_seen_before():
    token = issue_token("another-secret-long-enough-for-hmac-sha256", "li", "caseworker", "gs.by")
    read_token("another-secret-long-enough-for-hmac-sha256", f"Bearer {token}")
    with pytest.raises(Unauthenticated, match="invalid token"):
        read_token(SECRET, f"Bearer {token}")


def test_a_token_without_a_federation_is_refused():
    token = jwt.encode({"sub": "li", "role": "caseworker", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="role or federation"):
        read_token(SECRET, f"Bearer {token}")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer"])
def test_a_missing_or_other_scheme_is_refused(header):
    with pytest.raises(Unauthenticated):
        read_token(SECRET, header)


def test_unknown_roles_and_bad_federation_codes_cannot_be_issued():
    with pytest.raises(ValueError):
        issue_token(SECRET, "li", "boss", "gs")
    with pytest.raises(ValueError):
        issue_token(SECRET, "li", "caseworker", "GS BY")


@pytest.mark.parametrize("user", ["", "a" * 101, "li\nroot", "li\x00", 42])
def test_a_token_whose_subject_no_event_could_carry_is_refused(user):
    now = int(time.time())
    token = jwt.encode({"sub": user, "role": "caseworker", "fed": "gs.by", "iat": now, "exp": now + 60}, SECRET,
                       algorithm="HS256")
    with pytest.raises(Unauthenticated):  # an event's `by` is a printable login name of at most 100 characters
        read_token(SECRET, f"Bearer {token}")
    if isinstance(user, str):
        with pytest.raises(ValueError, match="login name"):
            issue_token(SECRET, user, "caseworker", "gs.by")


def test_a_long_chinese_login_name_is_a_login_name():
    token = issue_token(SECRET, "王" * 100, "caseworker", "gs.by")
    assert read_token(SECRET, f"Bearer {token}").user == "王" * 100
