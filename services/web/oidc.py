"""Tokens from an OpenID Connect provider (Keycloak, …), verified with its published keys (JWKS).

Past one machine a federation may sign its users in with its own provider. Every service then accepts,
beside the gateway's HS256 tokens, an asymmetrically signed token (RS256, PS256, ES256) whose issuer is
`RELIEF_OIDC_ISSUER`, whose audience is `RELIEF_OIDC_AUDIENCE` (if set), signed by a key of the set at
`RELIEF_OIDC_JWKS` (an https URL, or a file: path), and which names the user, exactly one of this system's
roles, and a federation code in the claims `RELIEF_OIDC_USER_CLAIM` (default `preferred_username`),
`RELIEF_OIDC_ROLE_CLAIM` (default `realm_access.roles`, Keycloak's realm roles: a string or a list) and
`RELIEF_OIDC_FEDERATION_CLAIM` (default `federation`); a dotted name reads a nested claim.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jwt

from services.config import OIDC_SETTINGS

ALGORITHMS = ("RS256", "PS256", "ES256")


class KeysUnavailable(Exception):
    """The provider's key set could not be read: nobody's token can be checked until it can (a 503)."""


class TokenRefused(Exception):
    """The token is not one this provider signed for this system, or lacks what a principal needs."""


@dataclass
class OidcSettings:
    issuer: str
    jwks: str
    audience: str | None = None
    user_claim: str = "preferred_username"
    role_claim: str = "realm_access.roles"
    federation_claim: str = "federation"
    _keys: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of a token, or TokenRefused / KeysUnavailable."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"invalid token: {exc}") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRefused(f"algorithm {header.get('alg')!r} is not one of {', '.join(ALGORITHMS)}")
        key = self._signing_key(str(header.get("kid") or ""))
        try:
            return dict(jwt.decode(token, key, algorithms=list(ALGORITHMS), issuer=self.issuer,
                                   audience=self.audience, options={"require": ["exp", "iss"],
                                                                    "verify_aud": self.audience is not None}))
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"invalid token: {exc}") from None

    def principal_claims(self, claims: Mapping[str, Any], roles: tuple[str, ...]) -> tuple[Any, str, Any]:
        """(user, role, federation) as the claims name them; exactly one of `roles` must be among them."""
        named = claim(claims, self.role_claim)
        held = [named] if isinstance(named, str) else list(named) if isinstance(named, list) else []
        ours = [role for role in roles if role in held]
        if len(ours) != 1:
            raise TokenRefused(f"the token's {self.role_claim} must name exactly one of {', '.join(roles)}")
        return claim(claims, self.user_claim), ours[0], claim(claims, self.federation_claim)

    def _signing_key(self, kid: str) -> Any:
        keys = self._key_set(refresh=False)
        if kid not in keys:
            keys = self._key_set(refresh=True)  # the provider may have rotated its keys
        if kid not in keys:
            raise TokenRefused(f"no key {kid!r} in the provider's key set")
        return keys[kid]

    def _key_set(self, refresh: bool) -> dict[str, Any]:
        with self._lock:
            if self._keys is None or refresh:
                self._keys = load_keys(self.jwks)
            return dict(self._keys)


def load_keys(source: str) -> dict[str, Any]:
    """The signing keys of a JWKS document, by kid, from a file: path or an http(s) URL."""
    try:
        if source.startswith(("https://", "http://")):
            client = jwt.PyJWKClient(source, cache_jwk_set=False, timeout=5)
            found = client.get_jwk_set(refresh=True)
        else:
            path = Path(source.removeprefix("file://"))
            found = jwt.PyJWKSet.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise KeysUnavailable(f"the identity provider's keys ({source}) cannot be read: {exc}") from None
    return {str(key.key_id or ""): key.key for key in found.keys if key.public_key_use in (None, "sig")}


def claim(claims: Mapping[str, Any], name: str) -> Any:
    value: Any = claims
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value




def settings_from(config: Mapping[str, Any]) -> OidcSettings | None:
    """The provider of a service's config, or None if it has none (RELIEF_OIDC_ISSUER unset); one per
    distinct configuration, so that every route of a service shares its key set."""
    return _settings(tuple(config.get(name) or "" for name in OIDC_SETTINGS))


@cache
def _settings(values: tuple[str, ...]) -> OidcSettings | None:
    issuer, jwks, audience, user_claim, role_claim, federation_claim = values
    if not issuer:
        return None
    if not jwks:
        raise ValueError("RELIEF_OIDC_ISSUER is set but RELIEF_OIDC_JWKS (the provider's key set) is not")
    return OidcSettings(issuer=issuer, jwks=jwks, audience=audience or None,
                        user_claim=user_claim or "preferred_username", role_claim=role_claim or "realm_access.roles",
                        federation_claim=federation_claim or "federation")
