"""One origin for the browser: `/api/<service>/…` forwarded to that service (the console: console.py).

The gateway checks nothing a service checks itself: the token, the role, the body's schema are the
service's (its own 400, 401, 403, 413 come back as they are). It refuses only what it must not forward: a
body over the largest any service takes (413), and it answers 503 with Retry-After when no replica of the
service answers, naming the service. Both are answered in the web server's green thread, not by a worker.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any

import requests
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Request, Response

from services.config import PROXIED
from services.metrics import HTTP_LATENCY, HTTP_REQUESTS, UPSTREAM_FAILURES
from services.web.entrypoint import CountingWebServer, read_body
from services.web.errors import PayloadTooLarge, error_response, json_response

log = logging.getLogger(__name__)

MAX_FORWARDED_BODY = 21 * 1024 * 1024  # an import of 20 MiB, with room for its multipart envelope
REQUEST_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language", "If-None-Match")
RESPONSE_HEADERS = ("Content-Type", "Content-Disposition", "Retry-After", "Allow", "Cache-Control", "ETag",
                    "Location")
INTERNAL = frozenset({"metrics"})  # scraped from each pod by Prometheus, never published through the Ingress
CONNECT_SECONDS, READ_SECONDS = 3.0, 300.0  # a festival batch over a province may take minutes to answer


class Upstreams:
    """The base URLs of each service's replicas, tried in turn; one connection pool for all."""

    def __init__(self, urls: dict[str, list[str]]):
        self.urls = urls
        self._turns = {name: itertools.cycle(range(len(found))) for name, found in urls.items() if found}
        self._lock = threading.Lock()
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=len(urls) * 2, pool_maxsize=50, max_retries=0)
        self.session.mount("http://", adapter)

    def order(self, service: str) -> list[str]:
        """The service's replicas, starting with the next in turn."""
        found = self.urls[service]
        with self._lock:
            first = next(self._turns[service])
        return found[first:] + found[:first]


def upstreams_from(config: dict[str, Any]) -> Upstreams:
    return Upstreams({name: list(config["UPSTREAMS"][name]) for name in PROXIED})


class Forward(HttpRequestHandler):
    """Forward a request under /api/<service>/ to a replica of that service and pass its answer back."""

    server = CountingWebServer()

    def setup(self) -> None:
        super().setup()
        self.upstreams = upstreams_from(self.container.config)

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        request.shallow = False  # the body is read here, not by a worker
        service, rest = request.path_values["service"], request.path_values["rest"]  # type: ignore[attr-defined]
        try:
            body = read_body(request, MAX_FORWARDED_BODY, read=request.method in ("POST", "PUT", "PATCH", "DELETE"))
            response = self.forward(request, service, rest, body)
        except Exception as exc:  # a 413 is the caller's; anything else is logged as the bug it is (a 500)
            response = error_response(exc, {PayloadTooLarge: (413, "payload_too_large")})
            if getattr(exc, "close_connection", False):
                response.headers["Connection"] = "close"
        HTTP_REQUESTS.labels("gateway", request.method, f"/api/{service}", str(response.status_code)).inc()
        HTTP_LATENCY.labels("gateway", request.method, f"/api/{service}").observe(time.perf_counter() - started)
        return response

    def forward(self, request: Request, service: str, rest: str, body: bytes) -> Response:
        if rest.strip("/") in INTERNAL:
            message = f"{service}'s {rest.strip('/')} is for operators, not through the gateway"
            return json_response(404, {"error": "not_found", "message": message, "fields": {}})
        headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
        headers["X-Forwarded-For"] = request.remote_addr or ""
        headers["X-Forwarded-Proto"] = request.scheme
        for base in self.upstreams.order(service):
            url = f"{base}/{rest}"
            try:
                answer = self.upstreams.session.request(
                    request.method, url, params=request.query_string or None, data=body or None, headers=headers,
                    timeout=(CONNECT_SECONDS, READ_SECONDS), allow_redirects=False, stream=False)
            except requests.ConnectionError as exc:
                UPSTREAM_FAILURES.labels(service).inc()
                log.warning("%s at %s does not answer: %s", service, base, type(exc).__name__)
                continue
            except requests.Timeout:
                UPSTREAM_FAILURES.labels(service).inc()
                log.warning("%s at %s did not answer %s %s within %ss", service, base, request.method, rest,
                            READ_SECONDS)
                return unavailable(service, "did not answer in time")
            response = Response(answer.content, status=answer.status_code)
            for name in RESPONSE_HEADERS:
                if name in answer.headers:
                    response.headers[name] = answer.headers[name]
            return response
        return unavailable(service, "does not answer")


def unavailable(service: str, why: str) -> Response:
    response = json_response(503, {"error": "unavailable", "message": f"the {service} service {why}: retry shortly",
                                   "fields": {}})
    response.headers["Retry-After"] = "5"
    return response
