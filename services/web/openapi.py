"""Describe a service's HTTP API as OpenAPI 3, generated from its routes' marshmallow schemas."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.web.entrypoint import Api
from services.web.fields import Money

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
    plugin = MarshmallowPlugin()
    spec = APISpec(title=title, version=version, openapi_version="3.0.3", plugins=[plugin])
    plugin.map_to_openapi_type(Money, "string", None)  # a decimal string with a pattern, never a float
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
    elif route.media_types:
        binary = {"schema": {"type": "string", "format": "binary"}}
        operation["requestBody"] = {"required": True, "content": {media: binary for media in route.media_types}}
    responses = operation["responses"]
    if not any(200 <= status < 300 for status in route.responses):
        responses["201" if route.method == "POST" else "200"] = _success("success", route.response)
    if route.body is not None or route.query is not None:
        responses["400"] = _error("invalid input, per field")
    if not route.public:
        operation["security"] = [{"bearer": []}]
        responses["401"] = _error("missing or invalid token")
        responses["403"] = _error("role or federation not allowed")
    if "<" in route.url:
        responses["404"] = _error("not found in your federation")
    if any(status == 409 for status, _ in route.errors.values()):
        responses["409"] = _error("conflicts with the current state")
    if route.reads_body:
        responses["413"] = _error("request body over the route's limit")
    if route.public:  # a probe says in its own shape why it cannot answer yes
        responses["503"] = _success("not ready", route.response) if route.response else _error("unavailable")
    else:
        responses["503"] = _error("the store is unavailable: nothing was done, retry after Retry-After seconds")
    for status, declared in sorted(route.responses.items()):
        if isinstance(declared, tuple):
            responses[str(status)] = _success(*declared)
        elif 200 <= status < 300:
            responses[str(status)] = _success(declared, route.response)
        else:
            responses[str(status)] = _error(declared)
    return operation


def _success(description: str, schema: Any) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}
