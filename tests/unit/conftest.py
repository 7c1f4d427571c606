"""Fixtures the unit tests share."""

import pytest

from services.eventstore import store_env
from services.pairing.application import Pairings
from tests.factories import PAIRING_TODAY


@pytest.fixture
def pairings():
    """A pairing application in memory whose clock says PAIRING_TODAY."""
    app = Pairings(store_env("memory://"))
    app.today = lambda: PAIRING_TODAY
    yield app
    app.close()
