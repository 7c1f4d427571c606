"""Fixtures that run an application test once per event-store backend: memory, SQLite, PostgreSQL."""

import pytest

from services.audit.application import Trail
from services.intake.application import Cases
from services.pairing.application import Pairings
from tests.backends import BACKENDS, backend_env
from tests.factories import PAIRING_TODAY
from tests.harness.services import InProcessSystem, environment


@pytest.fixture(params=BACKENDS)
def env(request, tmp_path):
    """Settings of a fresh, empty store on each backend in turn."""
    return backend_env(request, tmp_path, request.param)


@pytest.fixture
def cases(env):
    app = Cases(env)
    yield app
    app.close()


@pytest.fixture
def pairings(env):
    """A pairing application on each backend whose clock says PAIRING_TODAY."""
    app = Pairings(env)
    app.today = lambda: PAIRING_TODAY
    yield app
    app.close()


@pytest.fixture
def trail(env):
    app = Trail(env)
    yield app
    app.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Intake and audit as nameko containers in this process: one system per test module."""
    running = InProcessSystem(environment(tmp_path_factory.mktemp("system"))).start()
    yield running
    running.stop()


@pytest.fixture
def staff(system):
    """A caseworker of gs.by."""
    return system.client("intake", "caseworker", "gs.by", "li")
