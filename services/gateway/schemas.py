"""The gateway's own API (logins, sessions, accounts): every field checked at the boundary."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.gateway.domain import LOGIN
from services.web.auth import ROLES
from services.web.fields import UUID_PATTERN, Code, Matching, Name, StrictBoolean

LOGIN_PATTERN = LOGIN.pattern
# A refresh token: its session's id, a dot, 43 URL-safe characters (32 random bytes).
REFRESH_PATTERN = UUID_PATTERN + r"\.[A-Za-z0-9_-]{43}"


def password(minimum: int) -> fields.String:
    """A password: printable, `minimum` to 128 characters (a login accepts any length a password was set with)."""
    return Matching(rf"[^\x00-\x1f\x7f]{{{minimum},128}}",
                    f"{minimum} to 128 characters, no control characters", required=True)


class LoginRequest(Schema):
    login = Matching(LOGIN_PATTERN, "2 to 64 of a-z, 0-9, '.', '_', '-'", required=True)
    password = password(1)


class RefreshRequest(Schema):
    refresh_token = Matching(REFRESH_PATTERN, "not a refresh token this gateway gave", required=True)


class AccountRequest(Schema):
    login = Matching(LOGIN_PATTERN, "2 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
                     required=True)
    display_name = Name(64)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    federation = Code(required=True)
    password = password(10)


class AccountChange(Schema):
    display_name = Name(64, required=False)
    role = fields.String(validate=validate.OneOf(ROLES))
    federation = Code()
    disabled = StrictBoolean()
    locked = StrictBoolean(metadata={"description": "false lifts a lockout; true is refused"},
                           validate=validate.Equal(False, error="only false: a lock comes from wrong passwords"))


class PasswordRequest(Schema):
    password = password(10)


class AccountQuery(Schema):
    federation = Code()


# Responses.


class AccountView(Schema):
    login = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True, metadata={"enum": list(ROLES)})
    federation = fields.String(required=True)
    disabled = fields.Boolean(required=True)
    locked = fields.Boolean(required=True)


class AccountList(Schema):
    users = fields.List(fields.Nested(AccountView), required=True)


class Tokens(Schema):
    access_token = fields.String(required=True, metadata={"description": "a JWT every service verifies"})
    refresh_token = fields.String(required=True, metadata={"description": "rotates: each refresh gives a new one"})
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds the access token is valid"})
    user = fields.Nested(AccountView, required=True)
