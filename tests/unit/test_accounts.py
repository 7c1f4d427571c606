"""The login rules of the console's accounts: lockout, refresh rotation, expiry, logout, who manages whom."""

import pytest

from services.eventstore import store_env
from services.gateway.application import (
    AccountDisabled,
    AccountLocked,
    Accounts,
    BadCredentials,
    DuplicateLogin,
    NoSuchAccount,
)
from services.gateway.domain import LOCK_SECONDS, MAX_FAILURES, SESSION_SECONDS, InvalidAccount, SessionEnded
from services.web.auth import Forbidden, Principal

NOW = 1_800_000_000.0
ADMIN = Principal("zhao", "admin", "gs.by")
PASSWORD = "correct horse battery"


@pytest.fixture
def accounts():
    app = Accounts(store_env("memory://"))
    app.open_account(ADMIN, login="li", display_name="李娜", role="caseworker", federation="gs.by.bh",
                     password=PASSWORD)
    yield app
    app.close()


def fail(accounts, times, at=NOW):
    for _ in range(times):
        with pytest.raises((BadCredentials, AccountLocked)):
            accounts.log_in("li", "wrong password", now=at)


def test_the_right_password_logs_in_and_a_wrong_one_does_not(accounts):
    granted = accounts.log_in("li", PASSWORD, now=NOW)
    assert (granted.account.role, granted.account.federation) == ("caseworker", "gs.by.bh")
    with pytest.raises(BadCredentials):
        accounts.log_in("li", PASSWORD.upper(), now=NOW)


def test_an_unknown_login_is_refused_like_a_wrong_password(accounts):
    with pytest.raises(BadCredentials, match="wrong login name or password"):
        accounts.log_in("nobody", PASSWORD, now=NOW)


def test_the_fifth_wrong_password_in_a_row_locks_the_account_even_against_the_right_one(accounts):
    fail(accounts, MAX_FAILURES - 1)
    with pytest.raises(AccountLocked, match="locked for 15 minutes"):
        accounts.log_in("li", "wrong password", now=NOW)
    with pytest.raises(AccountLocked):
        accounts.log_in("li", PASSWORD, now=NOW + LOCK_SECONDS - 1)
    assert accounts.log_in("li", PASSWORD, now=NOW + LOCK_SECONDS).account.login == "li"


def test_a_successful_login_starts_the_count_of_failures_again(accounts):
    fail(accounts, MAX_FAILURES - 1)
    accounts.log_in("li", PASSWORD, now=NOW)
    fail(accounts, MAX_FAILURES - 1)
    assert accounts.log_in("li", PASSWORD, now=NOW).account.login == "li"


def test_after_a_lock_runs_out_it_takes_five_more_failures_to_lock_again(accounts):
    fail(accounts, MAX_FAILURES)
    later = NOW + LOCK_SECONDS
    fail(accounts, MAX_FAILURES - 1, at=later)
    assert accounts.log_in("li", PASSWORD, now=later).account.login == "li"


def test_an_admin_lifts_a_lock_and_a_new_password_does_too(accounts):
    fail(accounts, MAX_FAILURES)
    accounts.unlock(ADMIN, "li")
    accounts.log_in("li", PASSWORD, now=NOW)
    fail(accounts, MAX_FAILURES)
    accounts.set_password(ADMIN, "li", "another good password")
    assert accounts.log_in("li", "another good password", now=NOW).account.login == "li"
    with pytest.raises(BadCredentials):
        accounts.log_in("li", PASSWORD, now=NOW)


def test_the_index_shows_a_locked_account_to_its_admin(accounts):
    fail(accounts, MAX_FAILURES)
    row = accounts.list_accounts(ADMIN, None)[0]
    assert float(row["locked_until"]) == NOW + LOCK_SECONDS


def test_a_refresh_token_rotates_and_the_old_one_used_again_ends_the_session(accounts):
    first = accounts.log_in("li", PASSWORD, now=NOW)
    second = accounts.refresh(first.refresh_token, now=NOW + 60)
    third = accounts.refresh(second.refresh_token, now=NOW + 120)
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    with pytest.raises(SessionEnded, match="already used"):
        accounts.refresh(first.refresh_token, now=NOW + 180)
    with pytest.raises(SessionEnded, match="ended"):  # the thief's reuse also ends the newest token
        accounts.refresh(third.refresh_token, now=NOW + 180)


def test_a_session_expires_however_often_it_was_refreshed(accounts):
    token = accounts.log_in("li", PASSWORD, now=NOW).refresh_token
    token = accounts.refresh(token, now=NOW + SESSION_SECONDS - 1).refresh_token
    with pytest.raises(SessionEnded, match="expired"):
        accounts.refresh(token, now=NOW + SESSION_SECONDS)


def test_logout_ends_the_session(accounts):
    granted = accounts.log_in("li", PASSWORD, now=NOW)
    accounts.log_out(granted.refresh_token)
    with pytest.raises(SessionEnded, match="logged out"):
        accounts.refresh(granted.refresh_token, now=NOW + 1)


@pytest.mark.parametrize("token", ["00000000-0000-4000-8000-000000000000." + "a" * 43, "not-a-uuid.abc"])
def test_an_unknown_refresh_token_is_refused(accounts, token):
    with pytest.raises(SessionEnded, match="unknown"):
        accounts.refresh(token, now=NOW)


def test_a_disabled_account_cannot_log_in_nor_refresh(accounts):
    granted = accounts.log_in("li", PASSWORD, now=NOW)
    accounts.change_account(ADMIN, "li", disabled=True)
    with pytest.raises(AccountDisabled):
        accounts.log_in("li", PASSWORD, now=NOW)
    with pytest.raises(AccountDisabled):
        accounts.refresh(granted.refresh_token, now=NOW + 1)
    accounts.change_account(ADMIN, "li", disabled=False)
    with pytest.raises(SessionEnded):  # the session ended with the disabling, for good
        accounts.refresh(granted.refresh_token, now=NOW + 2)


def test_an_admin_manages_only_accounts_in_their_subtree(accounts):
    outside = Principal("qian", "admin", "gs.jc")
    with pytest.raises(NoSuchAccount):
        accounts.change_account(outside, "li", role="approver")
    with pytest.raises(Forbidden):
        accounts.open_account(outside, login="sun", display_name="孙", role="cadre", federation="gs.by",
                              password=PASSWORD)
    with pytest.raises(Forbidden):
        accounts.change_account(ADMIN, "li", federation="gs.jc")
    assert [row["login"] for row in accounts.list_accounts(outside, None)] == []
    with pytest.raises(Forbidden):
        accounts.list_accounts(outside, "gs.by")


def test_an_admin_does_not_disable_or_demote_themselves(accounts):
    accounts.open_account(ADMIN, login="zhao", display_name="赵", role="admin", federation="gs.by",
                          password=PASSWORD)
    with pytest.raises(Forbidden):
        accounts.change_account(ADMIN, "zhao", disabled=True)
    with pytest.raises(Forbidden):
        accounts.change_account(ADMIN, "zhao", role="caseworker")
    assert accounts.change_account(ADMIN, "zhao", display_name="赵刚").display_name == "赵刚"


def test_a_login_name_is_one_account_ever(accounts):
    with pytest.raises(DuplicateLogin):
        accounts.open_account(ADMIN, login="li", display_name="李四", role="cadre", federation="gs.by",
                              password=PASSWORD)


@pytest.mark.parametrize(("field", "values"), [("role", {"role": "root"}), ("federation", {"federation": "GS"})])
def test_a_role_or_federation_outside_the_rules_is_refused_with_its_field(accounts, field, values):
    with pytest.raises(InvalidAccount) as refused:
        accounts.change_account(ADMIN, "li", **values)
    assert field in refused.value.fields


def test_demo_accounts_are_seeded_once(accounts):
    assert len(accounts.seed_demo()) == 5
    assert accounts.seed_demo() == []
    assert accounts.log_in("demo-approver", "demo", now=NOW).account.role == "approver"
