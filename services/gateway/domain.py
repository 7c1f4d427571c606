"""Accounts of the console's users and their sessions: the login rules, with no I/O and no clock.

An `Account` is one person's login (a login name, a display name, a role, the federation they act in) and
its argon2id password hash; repeated failures lock it for a while. A `Session` is one login's refresh
token: it rotates on every refresh, and a token used twice (stolen, or replayed) ends the session.
Times are Unix seconds given by the caller.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.contracts.federation import FEDERATION_CODE
from services.web.auth import ROLES

MAX_FAILURES = 5  # consecutive wrong passwords before the account locks
LOCK_SECONDS = 15 * 60
SESSION_SECONDS = 12 * 3600  # a refresh token works this long after the login, however often it rotates
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
NAMESPACE = uuid.UUID("5b1d0a52-3a53-4c5e-9f0e-6a1c2b7d9e41")


class InvalidAccount(Exception):
    """A value of an account breaks a rule the schema cannot see (a code, a role); names the field."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.fields = {field: [problem]}


class SessionEnded(Exception):
    """The refresh token is unknown, expired, revoked, or was already used (which ends its session)."""


def account_id(login: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, login)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Account(Aggregate):
    """A user of the console (帐号): who they are, what role they act in, and where."""

    @staticmethod
    def create_id(login: str) -> uuid.UUID:
        return account_id(login)

    @classmethod
    def open(cls, login: str, display_name: str, role: str, federation: str, password_hash: str,
             by: str) -> Account:
        if LOGIN.fullmatch(login) is None:
            raise InvalidAccount("login", "2 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        check_role_and_federation(role, federation)
        return cls(login, display_name, role, federation, password_hash, by)

    @event("Opened")
    def __init__(self, login: str, display_name: str, role: str, federation: str, password_hash: str,
                 by: str) -> None:
        self.login, self.display_name, self.role, self.federation = login, display_name, role, federation
        self.password_hash, self.by = password_hash, by
        self.disabled = False
        self.failures = 0
        self.locked_until = 0.0

    def locked(self, now: float) -> bool:
        return self.locked_until > now

    def change(self, by: str, **changes: Any) -> None:
        """Change the display name, role, federation or disabled flag; only what differs is recorded."""
        role, federation = changes.get("role", self.role), changes.get("federation", self.federation)
        check_role_and_federation(role, federation)
        differ = {k: v for k, v in changes.items() if v is not None and getattr(self, k) != v}
        if differ:
            self._changed(by=by, changes=differ)

    @event("Changed")
    def _changed(self, by: str, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    @event("PasswordSet")
    def set_password(self, password_hash: str, by: str) -> None:
        """A new password (by an admin or the user); it also lifts a lock."""
        self.password_hash, self.failures, self.locked_until = password_hash, 0, 0.0

    def fail_login(self, now: float) -> None:
        """Count a wrong password; the MAX_FAILURES-th in a row locks the account for LOCK_SECONDS."""
        failures = self.failures + 1
        if failures >= MAX_FAILURES:
            self._failed(at=now, failures=0, locked_until=now + LOCK_SECONDS)
        else:
            self._failed(at=now, failures=failures, locked_until=self.locked_until)

    @event("LoginFailed")
    def _failed(self, at: float, failures: int, locked_until: float) -> None:
        self.failures, self.locked_until = failures, locked_until

    @event("LoggedIn")
    def logged_in(self, at: float, session_id: str) -> None:
        self.failures, self.locked_until = 0, 0.0

    @event("Unlocked")
    def unlock(self, by: str) -> None:
        self.failures, self.locked_until = 0, 0.0


def check_role_and_federation(role: str, federation: str) -> None:
    if role not in ROLES:
        raise InvalidAccount("role", f"must be one of {', '.join(ROLES)}")
    if not FEDERATION_CODE.fullmatch(federation):
        raise InvalidAccount("federation", "must be a federation code like gs or gs.by")


class Session(Aggregate):
    """One login's refresh token (刷新令牌): only its digest is kept, and the digests it had before."""

    @event("Started")
    def __init__(self, login: str, token_digest: str, started_at: float) -> None:
        self.login, self.token_digest = login, token_digest
        self.expires_at = started_at + SESSION_SECONDS
        self.used: list[str] = []
        self.ended: str | None = None

    def rotate(self, presented: str, new_digest: str, now: float) -> None:
        """Swap the presented token for a new one; a token already swapped ends the session (SessionEnded)."""
        if self.ended is not None:
            raise SessionEnded(f"the session has ended ({self.ended})")
        if now >= self.expires_at:
            raise SessionEnded("the session has expired: log in again")
        if presented in self.used:
            self.end("a refresh token was used twice")
            raise SessionEnded("this refresh token was already used: the session has ended, log in again")
        if presented != self.token_digest:
            raise SessionEnded("unknown refresh token")
        self._rotated(new_digest=new_digest)

    @event("Rotated")
    def _rotated(self, new_digest: str) -> None:
        self.used.append(self.token_digest)
        self.token_digest = new_digest

    def end(self, why: str) -> None:
        if self.ended is None:
            self._ended(why=why)

    @event("Ended")
    def _ended(self, why: str) -> None:
        self.ended = why
