"""Bearer tokens (signed JWTs) that name the user, the role and the federation they act in."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import jwt

from services.contracts.bounds import LOGIN
from services.contracts.federation import FEDERATION_CODE, in_subtree
from services.web.oidc import OidcSettings, TokenRefused

ROLES = ("caseworker", "approver", "cadre", "auditor", "admin")
ALGORITHM = "HS256"
# A login name goes into events as their `by`: as the contracts bound it (printable, at most LOGIN characters).
USER = re.compile(rf"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{{1,{LOGIN}}}")


class Unauthenticated(Exception):
    """No valid bearer token came with the request."""


class Forbidden(Exception):
    """The token is valid but its role or federation does not allow this."""


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user with one role inside one federation's subtree."""

    user: str
    role: str
    federation: str

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role} may not do this; needs {' or '.join(roles)}")

    def covers(self, federation: str) -> bool:
        return in_subtree(federation, self.federation)

    def require_covers(self, federation: str) -> None:
        if not self.covers(federation):
            raise Forbidden(f"federation {federation} is outside {self.federation}")

    def subtree(self, federation: str | None) -> str:
        """The federation a query asks about, else the principal's own; Forbidden if outside theirs."""
        root = federation or self.federation
        self.require_covers(root)
        return root


def issue_token(secret: str, user: str, role: str, federation: str, ttl_seconds: int = 8 * 3600) -> str:
    """Sign a token for a user; used by `make token` and by tests."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if USER.fullmatch(user) is None:
        raise ValueError(f"a login name is 1 to {LOGIN} printable characters")
    if not FEDERATION_CODE.match(federation):
        raise ValueError(f"federation {federation!r} is not a code like gs or gs.by")
    now = int(time.time())
    claims = {"sub": user, "role": role, "fed": federation, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


_verified: dict[tuple[str, str], tuple[Principal, float]] = {}


def read_token(secret: str, authorization: str | None, oidc: OidcSettings | None = None) -> Principal:
    """Verify an Authorization header and return who it names, or raise Unauthenticated.

    An HS256 token is the gateway's (or `make token`'s), signed with `secret`; with an identity provider
    configured (`oidc`), an asymmetrically signed token is verified with the provider's keys (oidc.py).
    A token verified once is remembered until it expires: a session sends the same token many times.
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("missing bearer token")
    known = _verified.get((secret, authorization))
    if known is not None and known[1] > time.time():
        return known[0]
    if oidc is not None and _algorithm(authorization) != ALGORITHM:
        principal, expires = _verify_oidc(oidc, authorization)
    else:
        principal, expires = _verify(secret, authorization)
    if len(_verified) >= 10_000:
        _verified.clear()
    _verified[(secret, authorization)] = (principal, expires)
    return principal


def _algorithm(authorization: str) -> Any:
    try:
        return jwt.get_unverified_header(authorization[len("Bearer "):]).get("alg")
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None


def _verify_oidc(oidc: OidcSettings, authorization: str) -> tuple[Principal, float]:
    try:
        claims = oidc.claims(authorization[len("Bearer "):])
        user, role, federation = oidc.principal_claims(claims, ROLES)
    except TokenRefused as exc:
        raise Unauthenticated(str(exc)) from None
    return _principal(user, role, federation), float(claims["exp"])


def _principal(user: Any, role: Any, federation: Any) -> Principal:
    if role not in ROLES or not isinstance(federation, str) or not FEDERATION_CODE.match(federation):
        raise Unauthenticated("token lacks a valid role or federation")
    if not isinstance(user, str) or USER.fullmatch(user) is None:
        raise Unauthenticated(f"token's subject is not a login name (1 to {LOGIN} printable characters)")
    return Principal(user=user, role=role, federation=federation)


def _verify(secret: str, authorization: str) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            authorization[len("Bearer ") :],
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    return _principal(claims["sub"], claims.get("role"), claims.get("fed")), float(claims["exp"])
