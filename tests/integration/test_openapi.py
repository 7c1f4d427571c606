"""Each service's /openapi.json describes exactly the routes it serves, with their schemas."""

import pytest

from services.run import service_classes
from services.web.openapi import api_routes, openapi_path


@pytest.mark.parametrize("service", ["intake", "audit"])
def test_the_spec_lists_every_route_served_and_nothing_else(system, service):
    spec = system.client(service, role=None).get("/openapi.json").json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    served = {(openapi_path(r.url), r.method) for r in api_routes(service_classes()[service])}
    assert documented == served
    assert spec["openapi"].startswith("3.")


def test_request_bodies_come_from_the_marshmallow_schemas(system):
    spec = system.client("intake", role=None).get("/openapi.json").json()
    create = spec["paths"]["/cases"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {"federation", "worker", "household", "category", "causes"}
    assert {"400", "401", "403"} <= set(create["responses"])


def test_a_documented_route_answers_where_the_spec_says(system):
    spec = system.client("intake", role=None).get("/openapi.json").json()
    client = system.client("intake", "admin", "gs")
    for path, operations in spec["paths"].items():
        if "get" in operations and "{" not in path:
            assert client.get(path).status_code == 200, path
