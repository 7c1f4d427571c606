"""The accounts application (Accounts): users an admin manages in their subtree, logins, refresh, logout.

Who may manage whom: an admin manages accounts whose federation lies in the admin's subtree, and never
disables, re-roles or moves their own account (so a federation cannot lose its last admin by a slip).
Wrong passwords count on the account; the MAX_FAILURES-th in a row locks it for LOCK_SECONDS, during
which even the right password is refused. A login unknown here costs the same hash check as a known one.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.eventstore import IndexedApplication, Put, Table
from services.gateway import passwords
from services.gateway.domain import (
    LOCK_SECONDS,
    Account,
    Session,
    SessionEnded,
    account_id,
    check_role_and_federation,
    digest,
)
from services.web.auth import Forbidden, Principal

ACCOUNTS = Table("gateway_accounts", key="login",
                 columns=("federation", "role", "display_name", "disabled", "locked_until"),
                 indexes=(("federation",),))
ATTEMPTS = 5  # a login counted while another of the same account was
DEMO_FEDERATION = "gs.by"
DEMO_PASSWORD = "demo"
DEMO_USERS = (  # login, display name, role: seeded by `make run` on the embedded default only
    ("demo-caseworker", "演示 经办人", "caseworker"),
    ("demo-approver", "演示 审批人", "approver"),
    ("demo-cadre", "演示 帮扶干部", "cadre"),
    ("demo-auditor", "演示 审计员", "auditor"),
    ("demo-admin", "演示 管理员", "admin"),
)


class BadCredentials(Exception):
    """The login name or the password is wrong (which one is not said)."""


class AccountLocked(Exception):
    """Too many wrong passwords in a row: the account is locked for a while."""


class AccountDisabled(Exception):
    """An admin has disabled the account."""


class DuplicateLogin(Exception):
    """The login name is taken (disabled accounts keep theirs: the audit trail names them)."""


class ConcurrentChange(Exception):
    """Another request changed the same account meanwhile; nothing was stored."""


class NoSuchAccount(Exception):
    """No account with this login name in the caller's subtree."""


@dataclass(frozen=True)
class Granted:
    """What a login or a refresh gives: the account and a new refresh token (shown once, kept as a digest)."""

    account: Account
    refresh_token: str


class Accounts(IndexedApplication):
    """Open and manage accounts (帐号管理), log users in, rotate and end their sessions."""

    name = "Gateway"
    tables = (ACCOUNTS,)

    # Management, by an admin, inside their subtree.

    def open_account(self, admin: Principal, *, login: str, display_name: str, role: str, federation: str,
                     password: str) -> Account:
        admin.require_covers(federation)
        account = Account.open(login, display_name, role, federation, passwords.hash_password(password),
                               by=admin.user)
        self._save(account)
        return account

    def change_account(self, admin: Principal, login: str, **changes: Any) -> Account:
        account = self.account(admin, login)
        if login == admin.user and any(changes.get(k) not in (None, getattr(account, k))
                                       for k in ("role", "federation", "disabled")):
            raise Forbidden("an admin does not change their own role, federation or disabled flag")
        check_role_and_federation(changes.get("role") or account.role, changes.get("federation") or account.federation)
        if changes.get("federation") is not None:
            admin.require_covers(changes["federation"])
        account.change(admin.user, **changes)
        self._save(account)
        return account

    def set_password(self, admin: Principal, login: str, password: str) -> Account:
        account = self.account(admin, login)
        account.set_password(passwords.hash_password(password), by=admin.user)
        self._save(account)
        return account

    def unlock(self, admin: Principal, login: str) -> Account:
        account = self.account(admin, login)
        if account.failures or account.locked_until:
            account.unlock(by=admin.user)
            self._save(account)
        return account

    def account(self, principal: Principal, login: str) -> Account:
        """The account, if its federation is in the caller's subtree (NoSuchAccount otherwise)."""
        try:
            account: Account = self.load(account_id(login))
        except AggregateNotFoundError:
            raise NoSuchAccount(f"no account {login} in {principal.federation}") from None
        if not principal.covers(account.federation):
            raise NoSuchAccount(f"no account {login} in {principal.federation}")
        return account

    def list_accounts(self, principal: Principal, federation: str | None) -> list[dict[str, Any]]:
        root = principal.subtree(federation)
        rows = self.select_rows(ACCOUNTS, subtree=("federation", root))
        return sorted(rows, key=lambda row: row["login"])

    # Logins and sessions.

    def log_in(self, login: str, password: str, now: float | None = None) -> Granted:
        now = time.time() if now is None else now
        for _ in range(ATTEMPTS):
            try:
                return self._log_in(login, password, now)
            except ConcurrentChange:
                continue  # another login of the same account was counted meanwhile: count this one on top
        raise ConcurrentChange(f"account {login} changed {ATTEMPTS} times during this login: try again")

    def _log_in(self, login: str, password: str, now: float) -> Granted:
        try:
            account: Account = self.load(account_id(login))
        except AggregateNotFoundError:
            passwords.verify_password(passwords.unknown_hash(), password)  # as long as for a known login
            raise BadCredentials("wrong login name or password") from None
        if account.locked(now):
            minutes = max(1, round((account.locked_until - now) / 60))
            raise AccountLocked(f"too many wrong passwords: the account is locked for {minutes} more minute(s)")
        if not passwords.verify_password(account.password_hash, password):
            account.fail_login(now)
            self._save(account)
            if account.locked(now):
                raise AccountLocked(f"too many wrong passwords: the account is locked for {LOCK_SECONDS // 60} minutes")
            raise BadCredentials("wrong login name or password")
        if account.disabled:
            raise AccountDisabled("this account is disabled: ask your federation's admin")
        secret = secrets.token_urlsafe(32)
        session = Session(login=account.login, token_digest=digest(secret), started_at=now)
        account.logged_in(at=now, session_id=str(session.id))
        self._save(account, session)
        return Granted(account, f"{session.id}.{secret}")

    def refresh(self, refresh_token: str, now: float | None = None) -> Granted:
        """Swap a refresh token for a new one (the old one then ends the session if used again)."""
        now = time.time() if now is None else now
        session = self._session(refresh_token)
        _, secret = refresh_token.split(".", 1)
        new_secret = secrets.token_urlsafe(32)
        try:
            session.rotate(digest(secret), digest(new_secret), now)
        except SessionEnded:
            self._save(session)  # a reused token ends the session for good
            raise
        account: Account = self.load(account_id(session.login))
        if account.disabled:
            session.end("the account was disabled")
            self._save(session)
            raise AccountDisabled("this account is disabled: ask your federation's admin")
        self._save(session)
        return Granted(account, f"{session.id}.{new_secret}")

    def log_out(self, refresh_token: str) -> None:
        session = self._session(refresh_token)
        _, secret = refresh_token.split(".", 1)
        if session.ended is None and digest(secret) == session.token_digest:
            session.end("logged out")
            self._save(session)

    def seed_demo(self) -> list[str]:
        """Open the demo accounts that do not exist yet; return the logins opened."""
        opened = []
        seeder = Principal(user="make-run", role="admin", federation=DEMO_FEDERATION)
        for login, display_name, role in DEMO_USERS:
            try:
                self.load(account_id(login))
                continue
            except AggregateNotFoundError:
                pass
            account = Account.open(login, display_name, role, DEMO_FEDERATION,
                                   passwords.hash_password(DEMO_PASSWORD), by=seeder.user)
            self._save(account)
            opened.append(login)
        return opened

    def _session(self, refresh_token: str) -> Session:
        session_id, _, _ = refresh_token.partition(".")
        try:
            session: Session = self.load(uuid.UUID(session_id))
        except (AggregateNotFoundError, ValueError):
            raise SessionEnded("unknown refresh token") from None
        if not isinstance(session, Session):
            raise SessionEnded("unknown refresh token")
        return session

    def _save(self, *aggregates: Account | Session) -> None:
        index = [Put(ACCOUNTS, account_row(a)) for a in aggregates if isinstance(a, Account)]
        try:
            self.record(*aggregates, index=index)
        except IntegrityError:
            opened = [a for a in aggregates if isinstance(a, Account) and a.version == 1]
            if opened:
                raise DuplicateLogin(f"the login name {opened[0].login} is taken") from None
            raise ConcurrentChange("the account changed meanwhile: nothing was stored, try again") from None


def account_row(account: Account) -> dict[str, Any]:
    return {"login": account.login, "federation": account.federation, "role": account.role,
            "display_name": account.display_name, "disabled": "1" if account.disabled else "0",
            "locked_until": repr(account.locked_until)}

