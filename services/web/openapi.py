"""Describe a service's HTTP API as OpenAPI 3, generated from its routes' marshmallow schemas."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.web.entrypoint import Api

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "fields"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
    },
}


def api_routes(service_cls: type) -> list[Api]:
    """Return the Api entrypoints declared on a service class, in a stable order."""
    found = []
    for attr in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Api):
                found.append(entrypoint)
    return sorted(found, key=lambda e: (e.url, e.method))


def openapi_path(url: str) -> str:
    """Turn a werkzeug rule (/cases/<string:case_id>) into an OpenAPI path (/cases/{case_id})."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", url)


def build_spec(service_cls: type, title: str, version: str = "1.0.0") -> dict[str, Any]:
    spec = APISpec(title=title, version=version, openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes(service_cls):
        paths.setdefault(openapi_path(route.url), {})[route.method.lower()] = _operation(route)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(route: Api) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": route.summary, "responses": {}}
    params = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", route.url)
    ]
    if route.query is not None:
        params.append({"in": "query", "schema": route.query})
    if params:
        operation["parameters"] = params
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    ok = "201" if route.method == "POST" else "200"
    content = {"application/json": {"schema": route.response}} if route.response else {}
    operation["responses"][ok] = {"description": "success", **({"content": content} if content else {})}
    if route.body is not None or route.query is not None:
        operation["responses"]["400"] = _error("invalid input, per field")
    if not route.public:
        operation["security"] = [{"bearer": []}]
        operation["responses"]["401"] = _error("missing or invalid token")
        operation["responses"]["403"] = _error("role or federation not allowed")
    if "<" in route.url:
        operation["responses"]["404"] = _error("not found in your federation")
    if any(status == 409 for status, _ in route.errors.values()):
        operation["responses"]["409"] = _error("conflicts with the current state")
    return operation


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}
