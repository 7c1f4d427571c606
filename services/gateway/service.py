"""The gateway (nameko): one origin for the console, its accounts and logins, and every service's API.

- `/` and any path that is not an API: the built console (console/dist), the app's own routes as index.html.
- `/api/intake/…`, `/api/pairing/…`, `/api/aid/…`, `/api/audit/…`: forwarded to the service as they are
  (services/gateway/proxy.py); the service checks the token.
- `/api/auth/…`: password login (argon2id; locked for 15 minutes after 5 wrong passwords in a row), the
  refresh token that rotates on each use, logout. The access token is the JWT every service verifies,
  short-lived (`RELIEF_ACCESS_TOKEN_SECONDS`, 900 by default).
- `/api/users…`: an admin manages the accounts of their federation's subtree.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from services.config import demo_accounts_asked, demo_accounts_open
from services.gateway.application import (
    AccountDisabled,
    AccountLocked,
    Accounts,
    BadCredentials,
    ConcurrentChange,
    DuplicateLogin,
    Granted,
    NoSuchAccount,
)
from services.gateway.console import ConsoleFiles
from services.gateway.domain import Account, InvalidAccount, SessionEnded
from services.gateway.proxy import PROXIED, Forward
from services.gateway.schemas import (
    AccountChange,
    AccountList,
    AccountQuery,
    AccountRequest,
    AccountView,
    LoginRequest,
    PasswordRequest,
    RefreshRequest,
    Tokens,
)
from services.metrics import LOGINS
from services.runtime.store import EventStore
from services.web.auth import Principal, issue_token
from services.web.entrypoint import routes
from services.web.operations import Operations

ERRORS: dict[type[Exception], tuple[int, str]] = {
    InvalidAccount: (400, "bad_request"),
    BadCredentials: (401, "bad_credentials"),
    SessionEnded: (401, "session_ended"),
    AccountDisabled: (403, "disabled"),
    NoSuchAccount: (404, "not_found"),
    DuplicateLogin: (409, "duplicate_login"),
    ConcurrentChange: (409, "concurrent_change"),
    AccountLocked: (423, "locked"),
}
route = routes(ERRORS)
forward = Forward.decorator
console = ConsoleFiles.decorator

log = logging.getLogger(__name__)
ADMINS = ("admin",)
EVERYONE = ("caseworker", "approver", "cadre", "auditor", "admin")
Reply = tuple[int, Any]


class DemoAccounts(DependencyProvider):
    """On the embedded default, open the demo accounts at start: RELIEF_DEMO_USERS=1, or "auto" (`make run`).

    Demo passwords are public, so they are refused once any production secret is set: with "1" the gateway
    does not start; with "auto" it starts without them and says so.
    """

    seeded = False

    def start(self) -> None:
        config = self.container.config
        if not demo_accounts_asked(config):
            return
        if not demo_accounts_open(config):
            if config["DEMO_USERS"] == "auto":
                log.warning("production secrets are set: no demo accounts")
                return
            raise RuntimeError("RELIEF_DEMO_USERS=1 with production secrets: demo accounts are refused")
        store = next(d for d in self.container.dependencies if isinstance(d, EventStore))
        assert isinstance(store.app, Accounts)
        store.app.seed_demo()
        self.seeded = True

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Not ready until the demo accounts asked for are open (a login before would be refused)."""
        if not demo_accounts_open(self.container.config):
            return {}
        return {"demo_accounts": {"ok": self.seeded, "detail": "open" if self.seeded else "being opened"}}


def account_view(account: Account | dict[str, Any], now: float | None = None) -> dict[str, Any]:
    if isinstance(account, dict):  # an index row
        return {"login": account["login"], "display_name": account["display_name"], "role": account["role"],
                "federation": account["federation"], "disabled": account["disabled"] == "1",
                "locked": float(account["locked_until"]) > (now or time.time())}
    return {"login": account.login, "display_name": account.display_name, "role": account.role,
            "federation": account.federation, "disabled": account.disabled,
            "locked": account.locked(now or time.time())}


class GatewayService(Operations):
    name = "gateway"
    title = "Gateway: the console, its accounts and logins, every service's API under /api/<service>/"

    accounts: Accounts = EventStore(Accounts)
    demo = DemoAccounts()
    config = Config()

    # Logins and sessions (public: they are how a token is had).

    @route("POST", "/api/auth/login", body=LoginRequest, response=Tokens, public=True,
           responses={200: "logged in", 401: "wrong login name or password", 403: "the account is disabled",
                      423: "locked after too many wrong passwords"},
           summary="Log in with a password: a short-lived access token and a refresh token")
    def login(self, request: Request, body: dict[str, Any]) -> Reply:
        try:
            granted = self.accounts.log_in(body["login"], body["password"])
        except (BadCredentials, AccountLocked, AccountDisabled) as exc:
            LOGINS.labels(type(exc).__name__).inc()
            raise
        LOGINS.labels("ok").inc()
        return 200, self._tokens(granted)

    @route("POST", "/api/auth/refresh", body=RefreshRequest, response=Tokens, public=True,
           responses={200: "a new pair of tokens", 401: "the session has ended, expired or is unknown",
                      403: "the account is disabled"},
           summary="Swap a refresh token for new tokens (the old refresh token then ends the session if reused)")
    def refresh(self, request: Request, body: dict[str, Any]) -> Reply:
        return 200, self._tokens(self.accounts.refresh(body["refresh_token"]))

    @route("POST", "/api/auth/logout", body=RefreshRequest, public=True,
           responses={204: "logged out", 401: "an unknown refresh token"},
           summary="End the session of a refresh token (the access token lapses on its own within minutes)")
    def logout(self, request: Request, body: dict[str, Any]) -> Response:
        self.accounts.log_out(body["refresh_token"])
        return Response(status=204)

    @route("GET", "/api/auth/me", roles=EVERYONE, response=AccountView, summary="Who the token names",
           responses={404: "no account here (a token of the identity provider, or of `make token`)"})
    def me(self, request: Request, principal: Principal) -> Reply:
        return 200, account_view(self.accounts.account(principal, principal.user))

    # Accounts, by an admin of the federation (帐号管理).

    @route("GET", "/api/users", roles=ADMINS, query=AccountQuery, response=AccountList,
           summary="Accounts in your federation's subtree")
    def list_users(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows = self.accounts.list_accounts(principal, query.get("federation"))
        return 200, {"users": [account_view(row) for row in rows]}

    @route("POST", "/api/users", roles=ADMINS, body=AccountRequest, response=AccountView,
           summary="Open an account in your subtree")
    def open_user(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        return 201, account_view(self.accounts.open_account(principal, **body))

    @route("GET", "/api/users/<login>", roles=ADMINS, response=AccountView, summary="One account")
    def get_user(self, request: Request, principal: Principal, login: str) -> Reply:
        return 200, account_view(self.accounts.account(principal, login))

    @route("PATCH", "/api/users/<login>", roles=ADMINS, body=AccountChange, response=AccountView,
           responses={200: "changed"},
           summary="Change an account's name, role, federation or disabled flag, or lift its lock")
    def change_user(self, request: Request, principal: Principal, body: dict[str, Any], login: str) -> Reply:
        if body.pop("locked", None) is False:
            self.accounts.unlock(principal, login)
        account = self.accounts.change_account(principal, login, **body)
        return 200, account_view(account)

    @route("POST", "/api/users/<login>/password", roles=ADMINS, body=PasswordRequest,
           responses={204: "set"}, summary="Set a new password for an account (it also lifts a lock)")
    def set_password(self, request: Request, principal: Principal, body: dict[str, Any], login: str) -> Response:
        self.accounts.set_password(principal, login, body["password"])
        return Response(status=204)

    # Everything else: the services' APIs and the console.

    @forward("GET,POST,PUT,PATCH,DELETE", f"/api/<any({','.join(PROXIED)}):service>/<path:rest>")
    def forward(self, request: Request, service: str, rest: str) -> None:
        """Answered by the entrypoint itself (Forward.handle_request), never by a worker."""

    @console("GET", "/")
    def console_root(self, request: Request) -> None:
        """Answered by the entrypoint itself (ConsoleFiles.handle_request)."""

    @console("GET", "/<path:path>")
    def console_path(self, request: Request, path: str) -> None:
        """Answered by the entrypoint itself (ConsoleFiles.handle_request)."""

    def _tokens(self, granted: Granted) -> dict[str, Any]:
        account, config = granted.account, self.config
        seconds = int(config.get("ACCESS_TOKEN_SECONDS", 900))
        token = issue_token(config["JWT_SECRET"], account.login, account.role, account.federation, seconds)
        return {"access_token": token, "refresh_token": granted.refresh_token, "token_type": "Bearer",
                "expires_in": seconds, "user": account_view(account)}

