"""Routes every service serves without a token: liveness, readiness, metrics and its OpenAPI description.

They are answered in the web server's own green thread, never by a worker, so a service whose workers
are all busy (or stuck on a store that does not answer) still says it is alive and still exports metrics.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import eventlet
from marshmallow import Schema, fields
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from services.metrics import HTTP_LATENCY, HTTP_REQUESTS
from services.web.entrypoint import Api
from services.web.openapi import build_spec

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 2.5  # under the readiness probe's 3 s timeout


class Probe(Api):
    """A public GET answered without a worker: the route's function gets the container, not a service."""

    def __init__(self, url: str, **kwargs: Any):
        super().__init__("GET", url, public=True, **kwargs)

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            answer = getattr(self.container.service_cls, self.method_name)
            response = self.response_from_result(answer(self.container))
        except Exception as exc:
            response = self.response_from_exception(exc)
        service = self.container.service_name
        HTTP_REQUESTS.labels(service, self.method, self.url, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, self.method, self.url).observe(time.perf_counter() - started)
        return response


probe = Probe.decorator


class Check(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String(required=True)


class Readiness(Schema):
    status = fields.String(required=True, metadata={"enum": ["ready", "not_ready"]})
    service = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(Check), required=True)


class Liveness(Schema):
    status = fields.String(required=True, metadata={"enum": ["ok"]})
    service = fields.String(required=True)


def readiness_of(container: Any) -> dict[str, dict[str, Any]]:
    """Ask every extension of the service that can tell (event store, relay, consumers) whether it is ready.

    An extension takes part by having `readiness() -> {check name: {"ok": bool, "detail": str}}`; each
    bounds its own I/O (a store query within a second); the whole answer is bounded too.
    """
    checks: dict[str, dict[str, Any]] = {}
    for extension in [*container.dependencies, *container.entrypoints]:
        readiness = getattr(extension, "readiness", None)
        if readiness is None:
            continue
        try:
            with eventlet.Timeout(READY_TIMEOUT_SECONDS):
                checks.update(readiness())
        except eventlet.Timeout:
            checks[type(extension).__name__] = {"ok": False, "detail": f"no answer in {READY_TIMEOUT_SECONDS}s"}
        except Exception as exc:
            log.warning("readiness check of %s failed: %s", type(extension).__name__, exc)
            checks[type(extension).__name__] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return checks


class Operations:
    """Mixed into each nameko service class; `name` and `title` come from that class."""

    name: str
    title: str

    @staticmethod
    @probe("/health", response=Liveness, summary="Liveness: the process answers (never waits for a worker)")
    def health(container: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "ok", "service": container.service_name}

    @staticmethod
    @probe("/ready", response=Readiness,
           summary="Readiness: the store answers, the broker is reachable, consumers assigned and not stalled")
    def ready(container: Any) -> tuple[int, dict[str, Any]]:
        checks = readiness_of(container)
        ok = all(check["ok"] for check in checks.values())
        return (200 if ok else 503), {
            "status": "ready" if ok else "not_ready",
            "service": container.service_name,
            "checks": checks,
        }

    @staticmethod
    @probe("/metrics", summary="Prometheus metrics")
    def metrics(container: Any) -> Response:
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @staticmethod
    @probe("/openapi.json", summary="This API, described as OpenAPI 3")
    def openapi(container: Any) -> tuple[int, dict[str, Any]]:
        cls = container.service_cls
        return 200, build_spec(cls, cls.title)
