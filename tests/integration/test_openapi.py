"""Each service's /openapi.json describes exactly the routes it serves, with their schemas."""

import pytest
from openapi_spec_validator import validate

from services.catalog import SERVICES
from services.run import service_classes
from services.web.openapi import api_routes, openapi_path

SERVICE_NAMES = [entry.name for entry in SERVICES]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_the_served_spec_is_valid_openapi_3(system, service):
    validate(system.client(service, role=None).get("/openapi.json").json())


def schemas_of(spec):
    """Every schema object in the spec, wherever it sits."""
    stack = [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_numeric_bounds_are_numbers_and_patterns_are_anchored(system, service):
    spec = system.client(service, role=None).get("/openapi.json").json()
    for node in schemas_of(spec):
        for bound in ("minimum", "maximum"):
            if bound in node:
                assert isinstance(node[bound], (int, float)), node
        if isinstance(node.get("pattern"), str):
            assert node["pattern"].startswith("^") and node["pattern"].endswith("$"), node
            assert "\\d" not in node["pattern"], node


def test_money_dates_and_id_numbers_are_documented_as_checked(system):
    schemas = system.client("intake", role=None).get("/openapi.json").json()["components"]["schemas"]
    income = schemas["HouseholdIn"]["properties"]["monthly_income"]
    assert income["type"] == "string" and "format" not in income
    assert income["pattern"] == "^(?:(0|[1-9][0-9]{0,7})(\\.[0-9]{1,2})?)$"
    assert schemas["WorkerIn"]["properties"]["id_number"]["pattern"] == "^(?:[0-9]{17}[0-9X])$"
    assert schemas["WorkerIn"]["properties"]["migrant"] == {"type": "boolean"}
    assert schemas["NoticeRequest"]["properties"]["starts_on"]["format"] == "date"


@pytest.mark.parametrize("service", SERVICE_NAMES)
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
    assert {"400", "401", "403", "413", "503"} <= set(create["responses"])


def test_a_documented_route_answers_where_the_spec_says(system):
    spec = system.client("intake", role=None).get("/openapi.json").json()
    client = system.client("intake", "admin", "gs")
    for path, operations in spec["paths"].items():
        if "get" in operations and "{" not in path:
            assert client.get(path).status_code == 200, path
