"""The embedded default: `python -m services.run` runs everything in one process, state on disk."""

import pytest

from tests.e2e.flows import FILED_HISTORY, file_case, history
from tests.harness.services import ProcessSystem, environment


@pytest.fixture
def system(tmp_path):
    running = ProcessSystem(environment(tmp_path))
    yield running
    running.stop()


def test_a_filed_case_reaches_the_audit_history_in_one_process(system):
    system.start_all()
    case_id = file_case(system)
    assert [e["type"] for e in history(system, case_id, 6)] == FILED_HISTORY


def test_state_survives_a_restart(system):
    system.start_all()
    case_id = file_case(system)
    history(system, case_id, 6)
    system.stop()
    system.start_all()
    staff = system.client("intake", "caseworker", "gs.by", "li")
    assert staff.get(f"/cases/{case_id}").json()["state"] == "filed"
    assert len(history(system, case_id, 6)) == 6
    # New work after the restart still flows through.
    second = file_case(system)
    assert [e["type"] for e in history(system, second, 6)] == FILED_HISTORY
