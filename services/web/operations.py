"""Routes every service serves without a token: health, metrics and its OpenAPI description."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from services.web.entrypoint import Api
from services.web.openapi import build_spec


class Operations:
    """Mixed into each nameko service class; `name` and `title` come from that class."""

    name: str
    title: str

    @Api.decorator("GET", "/health", public=True, summary="Tell whether the service is up")
    def health(self, request: Request) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "ok", "service": self.name}

    @Api.decorator("GET", "/metrics", public=True, summary="Prometheus metrics")
    def metrics(self, request: Request) -> Response:
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @Api.decorator("GET", "/openapi.json", public=True, summary="This API, described as OpenAPI 3")
    def openapi(self, request: Request) -> tuple[int, dict[str, Any]]:
        return 200, build_spec(type(self), self.title)
