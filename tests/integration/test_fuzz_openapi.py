"""Property-based fuzzing of every operation of every service, generated from the OpenAPI each one serves.

Each operation gets valid and invalid requests (schemathesis, positive and negative modes) with the token
of a caseworker, an approver or an admin of gs, on path ids of real cases as well as made-up ones. No
answer may be a 5xx, and every answer must be a documented status with a body of the documented shape.
"""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.catalog import SERVICES
from services.config import DEV_JWT_SECRET
from services.intake.import_rows import CSV
from services.web.auth import issue_token
from services.web.openapi import api_routes, openapi_path
from tests.factories import WORKFLOW, application_body
from tests.import_files import import_rows, to_csv

EXAMPLES = 30  # per operation and generation mode: the whole module runs within a few minutes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = [("caseworker", "gs.by"), ("approver", "gs"), ("admin", "gs")]
OPERATIONS = [
    pytest.param(entry.name, route.method, openapi_path(route.url), id=f"{entry.name} {route.method} {route.url}")
    for entry in SERVICES
    for route in api_routes(entry.load_service_class())
]


@pytest.fixture(scope="module")
def served(system):
    """Each service's schemathesis schema, loaded from the /openapi.json it serves."""
    return {entry.name: schemathesis.openapi.from_url(system.url(entry.name) + "/openapi.json") for entry in SERVICES}


@pytest.fixture(scope="module")
def real_ids(system):
    """Ids of cases that exist, in a few states, so that fuzzed bodies reach past the 404."""
    staff = system.client("intake", "caseworker", "gs.by", "li")
    ids = []
    for steps in (0, 1, 3):
        case_id = staff.post("/cases", application_body()).json()["case_id"]
        for name, body in WORKFLOW[:steps]:
            assert staff.post(f"/cases/{case_id}/{name}", body).status_code == 201
        ids.append(case_id)
    return ids


def valid_requests(method, path):
    """Bodies known to pass validation, so that some requests reach the command and its answer is checked."""
    if method != "POST":
        return []
    if path == "/cases":
        return [{"body": application_body()} for _ in range(3)]
    if path == "/imports":
        return [{"body": to_csv(import_rows(3, bad=0, duplicates=0, seed=seed)[0]), "media_type": CSV}
                for seed in (1, 2)]
    return [{"body": body} for name, body in WORKFLOW if path == f"/cases/{{case_id}}/{name}"]


def tokens():
    return st.sampled_from([f"Bearer {issue_token(DEV_JWT_SECRET, 'fuzz', role, fed)}" for role, fed in ROLES])


@pytest.mark.parametrize(("service", "method", "path"), OPERATIONS)
def test_no_request_gets_a_server_error_or_an_undocumented_answer(system, served, real_ids, service, method, path):
    operation = served[service][path][method]
    if path == "/imports" and "requestBody" not in operation.definition.raw:
        pytest.skip("POST /imports declares no request body yet: the route must pass media_types= and responses=")
    strategies = [operation.as_strategy(generation_mode=mode)
                  for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)]
    if "{case_id}" in path:
        strategies += [operation.as_strategy(path_parameters={"case_id": case_id}) for case_id in real_ids]
        strategies += [operation.as_strategy(path_parameters={"case_id": case_id}, **request)
                       for case_id in real_ids for request in valid_requests(method, path)]
    else:
        strategies += [operation.as_strategy(**request) for request in valid_requests(method, path)]
    base_url = system.url(service)
    session = requests.Session()
    sent: list[int] = []

    @settings(max_examples=EXAMPLES * min(len(strategies), 5), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies), token=tokens())
    def fuzz(case, token):
        response = case.call_and_validate(base_url=base_url, session=session, headers={"Authorization": token},
                                          checks=CHECKS, timeout=10)
        sent.append(response.status_code)

    fuzz()
    takes_input = bool(operation.definition.raw.get("parameters") or operation.definition.raw.get("requestBody"))
    expected = EXAMPLES if takes_input else 1  # an operation without input has only a few distinct requests
    assert len(sent) >= expected, f"only {len(sent)} requests were sent to {method} {path}"
    print(f"{method} {path}: {len(sent)} requests, statuses {sorted(Counter(sent).items())}")
