"""A mapped error (404, 409) is the caller's: no ERROR and no traceback in the log; a 500 keeps both."""

import logging

from eventsourcing.persistence import OperationalError

from services.intake.application import CaseNotFound
from services.intake.service import IntakeService
from services.web.errors import Conflict
from services.web.openapi import api_routes


def test_every_route_expects_the_errors_it_maps_below_500_and_no_other():
    routes = api_routes(IntakeService)
    assert any(CaseNotFound in route.errors for route in routes)
    for route in routes:
        for kind, (status, _) in route.errors.items():
            assert issubclass(kind, route.expected_exceptions) == (status < 500), (route.url, kind)
        assert issubclass(Conflict, route.expected_exceptions)
        assert not issubclass(OperationalError, route.expected_exceptions)  # a 503 is the service's


def test_a_404_from_a_handler_logs_no_error_and_no_traceback(system, staff, caplog):
    caplog.set_level(logging.WARNING)
    response = staff.get("/cases/no-such-case")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "not_found"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text] == []


def test_an_unmapped_error_is_a_500_logged_at_error_with_its_traceback(system, staff, caplog, monkeypatch):
    def get_case(self, request, principal, case_id):
        raise RuntimeError("bug in get_case")

    monkeypatch.setattr(IntakeService, "get_case", get_case)
    caplog.set_level(logging.WARNING)
    response = staff.get("/cases/any")
    assert response.status_code == 500
    assert response.json()["error"] == "internal"
    worker_errors = [r for r in caplog.records if r.name == "nameko.containers" and r.levelno == logging.ERROR]
    assert worker_errors, [r.getMessage() for r in caplog.records]
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in worker_errors)
