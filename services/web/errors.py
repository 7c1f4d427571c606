"""Map every error a request can meet to one JSON shape and HTTP status, in one place."""

from __future__ import annotations

import json
import logging
from typing import Any

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from services.web.auth import Forbidden, Unauthenticated

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """The request is malformed; `fields` says which field and why."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.fields = fields or {}


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
    Unauthenticated: (401, "unauthenticated"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
}


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype="application/json")


def error_response(exc: Exception, errors: dict[type[Exception], tuple[int, str]]) -> Response:
    """Render a known error with its status; anything else is a 500 that is logged, not shown."""
    for kind in type(exc).__mro__:
        if kind in errors:
            status, code = errors[kind]
            body: dict[str, Any] = {"error": code, "message": str(exc), "fields": _fields_of(exc)}
            details = getattr(exc, "details", None)
            if details:
                body.update(details)
            return json_response(status, body)
    log.exception("unhandled error", exc_info=exc)
    return json_response(500, {"error": "internal", "message": "internal error", "fields": {}})


def _fields_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        messages = exc.messages
        return messages if isinstance(messages, dict) else {"body": messages}
    return getattr(exc, "fields", {}) or {}
