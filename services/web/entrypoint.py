"""The JSON HTTP entrypoint: authenticate, validate the body, time and count, render errors."""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

from marshmallow import Schema
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Request, Response

from services.metrics import HTTP_LATENCY, HTTP_REQUESTS
from services.web.auth import read_token
from services.web.errors import COMMON_ERRORS, BadRequest, error_response, json_response

ErrorTable = dict[type[Exception], tuple[int, str]]


class Api(HttpRequestHandler):
    """An HTTP route whose handler gets `principal` and a validated `body`, and returns (status, data)."""

    def __init__(
        self,
        method: str,
        url: str,
        *,
        roles: tuple[str, ...] = (),
        body: type[Schema] | None = None,
        query: type[Schema] | None = None,
        response: type[Schema] | None = None,
        summary: str = "",
        public: bool = False,
        errors: ErrorTable | None = None,
        **kwargs: Any,
    ):
        super().__init__(method, url, **kwargs)
        self.roles, self.body, self.query, self.response = roles, body, query, response
        self.summary, self.public = summary, public
        self._body_schema = body() if body is not None else None
        self._query_schema = query() if query is not None else None
        self.errors = {**COMMON_ERRORS, **(errors or {})}

    def get_entrypoint_parameters(self, request: Request) -> tuple[tuple[Any, ...], dict[str, Any]]:
        kwargs: dict[str, Any] = dict(request.path_values)  # type: ignore[attr-defined]
        if not self.public:
            principal = read_token(self.container.config["JWT_SECRET"], request.headers.get("Authorization"))
            if self.roles:
                principal.require_role(*self.roles)
            kwargs["principal"] = principal
        if self._body_schema is not None:
            kwargs["body"] = self._body_schema.load(_json_body(request))
        if self._query_schema is not None:
            kwargs["query"] = self._query_schema.load(request.args.to_dict())
        return (request,), kwargs

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        response: Response = super().handle_request(request)
        service = self.container.service_name
        HTTP_REQUESTS.labels(service, self.method, self.url, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, self.method, self.url).observe(time.perf_counter() - started)
        return response

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        status, data = result
        return json_response(status, data)

    def response_from_exception(self, exc: Exception) -> Response:
        return error_response(exc, self.errors)


def _json_body(request: Request) -> Any:
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequest("body is not valid JSON", {"body": [str(exc)]}) from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", {"body": ["must be a JSON object"]})
    return body


def routes(errors: ErrorTable) -> Any:
    """Return the route decorator of a service whose own domain errors map as `errors` says."""
    return partial(Api.decorator, errors=errors)
