"""The JSON HTTP entrypoint: limit and parse the body, authenticate, validate, time and count, render errors."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import tomllib
from collections.abc import Callable, Iterable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Request, Response

from services.config import MAX_BODY_BYTES
from services.metrics import BUILD_INFO, HTTP_LATENCY, HTTP_REQUESTS
from services.web.auth import read_token
from services.web.errors import COMMON_ERRORS, BadRequest, PayloadTooLarge, error_response, json_response
from services.web.fields import surrogate_free
from services.web.oidc import settings_from

ErrorTable = dict[type[Exception], tuple[int, str]]
# Extra responses of a route: status -> description, or (description, schema of the body).
Responses = dict[int, "str | tuple[str, type[Schema] | None]"]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_DEPTH = 32  # of JSON arrays and objects in a body
MAX_VALUES = 5000  # in a body, all levels together: bounds what loading it may cost before it is refused
# Where a lone surrogate may hide in raw JSON: a \uD800-\uDFFF escape, or its UTF-8 form.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


class CountingWsgiApp(WsgiApp):
    """Route like nameko, but count and answer in JSON the requests that no route matches (404, 405)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            response = unmatched_response(exc)
            method = environ.get("REQUEST_METHOD", "")
            HTTP_REQUESTS.labels(self.server.container.service_name, method if method in KNOWN_METHODS else "other",
                                 "unmatched", str(response.status_code)).inc()
            return response(environ, start_response)
        request.path_values = values  # type: ignore[attr-defined]
        return provider.handle_request(request)(environ, start_response)


class CountingWebServer(WebServer):
    """nameko's web server with the routing above; it also states the build the service runs."""

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        BUILD_INFO.labels(self.container.service_name, build_version(), config.get("COMMIT", "unknown")).set(1)

    def get_wsgi_app(self) -> CountingWsgiApp:
        return CountingWsgiApp(self)


def build_version() -> str:
    """The version in pyproject.toml, else the installed package's."""
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        pass
    try:
        return metadata.version("relief")
    except metadata.PackageNotFoundError:
        return "unknown"


def unmatched_response(exc: HTTPException) -> Response:
    if exc.code is None or exc.code < 400:  # a redirect werkzeug chose (e.g. a missing trailing slash)
        return exc.get_response()
    code = "method_not_allowed" if isinstance(exc, MethodNotAllowed) else "not_found"
    message = "no such route" if code == "not_found" else "method not allowed on this route"
    response = json_response(exc.code, {"error": code, "message": message, "fields": {}})
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


class Api(HttpRequestHandler):
    """An HTTP route whose handler gets `principal` and a validated `body`, and returns (status, data).

    `max_body` is the route's own body limit in bytes (default: the container's `MAX_BODY_BYTES` for a
    route that takes a body); `media_types` are the raw (non-JSON) bodies a route reads itself with
    `request.get_data()`, which the entrypoint has already read within the limit (POST /imports:
    `media_types=(CSV, XLSX), max_body=20 * 1024 * 1024`); `responses` documents statuses beyond the
    usual ones: `{202: "started"}` (a 2xx replaces the default success status; its body is `response`),
    `{400: "why"}` (an Error body), or `{status: (description, schema or None)}`.
    """

    server = CountingWebServer()

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
        max_body: int | None = None,
        media_types: tuple[str, ...] = (),
        responses: Responses | None = None,
        **kwargs: Any,
    ):
        self.errors = {**COMMON_ERRORS, **(errors or {})}
        # A mapped error (404, 409, ...) is the caller's, not the service's: nameko logs it as expected
        # (a WARNING, its traceback dropped by QuietExpected) instead of an ERROR with a traceback.
        super().__init__(method, url, expected_exceptions=client_errors(self.errors), **kwargs)
        self.roles, self.body, self.query, self.response = roles, body, query, response
        self.summary, self.public = summary, public
        self.max_body, self.media_types, self.responses = max_body, media_types, dict(responses or {})
        self._body_schema = body() if body is not None else None
        self._query_schema = query() if query is not None else None

    def setup(self) -> None:
        super().setup()
        logging.getLogger("nameko.containers").addFilter(QUIET_EXPECTED)  # once: a filter is added only once

    @property
    def body_limit(self) -> int | None:
        """The route's limit: its own, else the container's for a route that takes a body; a route that
        declares no body (nothing reads one) has none unless it sets `max_body`."""
        if self.max_body is not None:
            return self.max_body
        if self.body is None and not self.media_types:
            return None
        return int(self.container.config.get("MAX_BODY_BYTES", MAX_BODY_BYTES))

    def get_entrypoint_parameters(self, request: Request) -> tuple[tuple[Any, ...], dict[str, Any]]:
        # All of this runs in the web server's green thread, before a worker is spawned.
        raw = read_body(request, self.body_limit, read=self.reads_body)
        kwargs: dict[str, Any] = dict(request.path_values)  # type: ignore[attr-defined]
        if not self.public:
            config = self.container.config
            principal = read_token(config["JWT_SECRET"], request.headers.get("Authorization"), settings_from(config))
            if self.roles:
                principal.require_role(*self.roles)
            kwargs["principal"] = principal
        if self._body_schema is not None:
            kwargs["body"] = self._body_schema.load(parse_json(raw))
        if self._query_schema is not None:
            kwargs["query"] = self._query_schema.load(request.args.to_dict())
        return (request,), kwargs

    @property
    def reads_body(self) -> bool:
        return self.method in BODY_METHODS and (self.body is not None or bool(self.media_types))

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
        response = error_response(exc, self.errors)
        if getattr(exc, "close_connection", False):
            # What is left of the body is not worth reading: end the connection once answered.
            response.headers["Connection"] = "close"
        return response


def client_errors(errors: ErrorTable) -> tuple[type[Exception], ...]:
    """The exception classes an error table maps to a status below 500."""
    return tuple(kind for kind, (status, _) in errors.items() if status < 500)


class QuietExpected(logging.Filter):
    """Drop the traceback nameko logs with an `Api` handler's expected error: "(expected) error handling
    worker <...>: case x not found" says all there is to a 404 or a 409. Any other record passes as it is,
    so an unmapped error (a 500) keeps its ERROR and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        entrypoint = getattr(args[0], "entrypoint", None) if args else None
        expected = isinstance(entrypoint, Api) and isinstance(
            record.exc_info[1] if record.exc_info else None, entrypoint.expected_exceptions
        )
        if expected and record.levelno < logging.ERROR:
            record.exc_info, record.exc_text = None, None
        return True


QUIET_EXPECTED = QuietExpected()


def read_body(request: Request, limit: int | None, *, read: bool) -> bytes:
    """Return the body if the route reads one, refusing one over `limit` bytes before reading past it.

    With a Content-Length the refusal comes before any byte is read; a chunked body is read up to
    limit + 1 bytes at most. A route that takes no body leaves it unread, but still refuses a declared
    length over its limit if it has one.
    """
    length = request.content_length
    if limit is None:
        return request.get_data(cache=True) if read else b""
    if length is not None and length > limit:
        # Up to twice the limit, the server reads and drops the rest so the connection lives on.
        raise PayloadTooLarge(limit, close_connection=length > 2 * limit)
    if not read:
        return b""
    request.max_content_length = limit
    if length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        data: bytes = request.input_stream.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(limit, close_connection=True)
        # The handler's request.get_data() and request.stream now give what was read, and no more.
        request.__dict__["stream"] = io.BytesIO(data)
    return request.get_data(cache=True)


def parse_json(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object body: a 400 if it is not JSON, nests deeper than MAX_DEPTH, holds more than
    MAX_VALUES values, or holds a lone surrogate (which no store can keep), naming where."""
    try:
        body = json.loads(raw or b"null")
    except RecursionError:
        deep = f"nests arrays and objects deeper than {MAX_DEPTH} levels"
        raise BadRequest(f"body {deep}", {"body": [deep]}) from None
    except ValueError as exc:
        raise BadRequest("body is not valid JSON", {"body": [str(exc)]}) from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", {"body": ["must be a JSON object"]})
    problem = _shape_problem(body)
    if problem:
        raise BadRequest(f"body {problem}", {"body": [problem]})
    if _SURROGATE_HINT.search(raw):
        where = _lone_surrogate(body)
        if where is not None:
            messages: Any = ["must not contain a lone surrogate (not valid Unicode)"]
            for key in reversed(where):
                messages = {key: messages}
            raise ValidationError(messages)
    return body


def _shape_problem(body: dict[str, Any]) -> str | None:
    """Say if a body nests deeper than MAX_DEPTH or holds more than MAX_VALUES values, walking it level by
    level and stopping as soon as either is passed."""
    level: list[Any] = [body]
    values = 0
    for _ in range(MAX_DEPTH):
        values += sum(len(node) for node in level)
        if values > MAX_VALUES:
            return f"holds more than {MAX_VALUES} values"
        level = [inner for node in level for inner in (node.values() if isinstance(node, dict) else node)
                 if isinstance(inner, (dict, list))]
        if not level:
            return None
    return f"nests arrays and objects deeper than {MAX_DEPTH} levels"


def _lone_surrogate(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path (("worker", "name"), ("causes", 1)) of the first string or key holding a lone surrogate."""
    if isinstance(value, str):
        return None if surrogate_free(value) else (path or ("body",))
    if isinstance(value, dict):
        for key, inner in value.items():
            if not surrogate_free(key):
                return path or ("body",)
            found = _lone_surrogate(inner, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _lone_surrogate(inner, (*path, index))
            if found is not None:
                return found
    return None


def routes(errors: ErrorTable) -> Any:
    """Return the route decorator of a service whose own domain errors map as `errors` says."""
    return partial(Api.decorator, errors=errors)
