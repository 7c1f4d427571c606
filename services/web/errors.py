"""Map every error a request can meet to one JSON shape and HTTP status, in one place."""

from __future__ import annotations

import json
import logging
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.web.auth import Forbidden, Unauthenticated
from services.web.oidc import KeysUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5  # what a 503 asks the client to wait before it tries again


class BadRequest(Exception):
    """The request is malformed; `fields` says which field and why."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.fields = fields or {}


class PayloadTooLarge(Exception):
    """The request body is over the route's limit; refused before it is read or parsed."""

    def __init__(self, limit: int, close_connection: bool = False):
        super().__init__(f"request body over the limit of {limit} bytes")
        self.fields = {"body": [f"at most {limit} bytes"]}
        self.close_connection = close_connection


class NotFound(Exception):
    """Nothing at this address is visible to the caller."""


class Conflict(Exception):
    """The request conflicts with the current state; `details` may name what it conflicts with."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.details = details or {}


# Errors every service shares; each service adds its own domain errors to this table.
COMMON_ERRORS: dict[type[Exception], tuple[int, str]] = {
    BadRequest: (400, "bad_request"),
    ValidationError: (400, "bad_request"),
    PayloadTooLarge: (413, "payload_too_large"),
    RequestEntityTooLarge: (413, "payload_too_large"),
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    # The store did not answer in time (connect, statement or pool limits) or is down: nothing was
    # committed, and the client may retry after Retry-After seconds.
    OperationalError: (503, "unavailable"),
    InterfaceError: (503, "unavailable"),
    Conflict: (409, "conflict"),
    KeysUnavailable: (503, "unavailable"),  # the identity provider's key set cannot be read
}


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype="application/json")


def error_response(exc: Exception, errors: dict[type[Exception], tuple[int, str]]) -> Response:
    """Render a known error with its status; anything else is a 500 that is logged, not shown."""
    for kind in type(exc).__mro__:
        if kind in errors:
            status, code = errors[kind]
            body: dict[str, Any] = {"error": code, "message": message_of(exc), "fields": _fields_of(exc)}
            details = getattr(exc, "details", None)
            if details:
                body.update(details)
            response = json_response(status, body)
            if status == 503:
                response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
    log.exception("unhandled error", exc_info=exc)
    return json_response(500, {"error": "internal", "message": "internal error", "fields": {}})


def message_of(exc: Exception, most: int = 5) -> str:
    """A sentence a person can read: for invalid fields, `path: reason` of each, the first few."""
    if isinstance(exc, RequestEntityTooLarge):
        return "request body over the limit"
    if not isinstance(exc, ValidationError):
        return str(exc)
    problems = [f"{path}: {reason}" if path else reason for path, reason in field_problems(_fields_of(exc))]
    if not problems:
        return "invalid input"
    more = f"; and {len(problems) - most} more" if len(problems) > most else ""
    return "; ".join(problems[:most]) + more


def field_problems(messages: Any, path: str = "") -> list[tuple[str, str]]:
    """Flatten marshmallow's nested messages into (household.members[0].schooling, reason) pairs."""
    if isinstance(messages, dict):
        found = []
        for key, inner in messages.items():
            if isinstance(key, int):
                where = f"{path}[{key}]"
            elif key == "_schema":
                where = path
            else:
                where = f"{path}.{key}" if path else str(key)
            found.extend(field_problems(inner, where))
        return found
    if isinstance(messages, (list, tuple)):
        return [problem for message in messages for problem in field_problems(message, path)]
    return [(path, _sentence(str(messages)))]


def _sentence(reason: str) -> str:
    """Marshmallow's "Must be one of: a, b." reads as "must be one of a, b" after a field name."""
    reason = reason.rstrip(".").replace(": ", " ", 1) if reason.startswith("Must be one of") else reason.rstrip(".")
    return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason


def _fields_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        messages = exc.messages
        return messages if isinstance(messages, dict) else {"body": messages}
    return getattr(exc, "fields", {}) or {}
