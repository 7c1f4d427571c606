"""A replica fenced by another process with its member id stops and exits non-zero, for its supervisor."""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e.flows import history
from tests.factories import application_body
from tests.harness.postgres import free_port
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka


def test_the_fenced_replica_exits_non_zero_and_the_new_one_consumes(tmp_path, kafka):
    system = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}"))
    try:
        system.start("intake")
        system.start("audit", extra={"RELIEF_AUDIT_INSTANCE": "audit-0"})
        staff = system.client("intake", "caseworker", "gs.by", "li")
        first = staff.post("/cases", application_body()).json()["case_id"]
        assert len(history(system, first, 1)) == 1

        address = f"127.0.0.1:{free_port()}"  # a second process wrongly given the same replica name
        extra = {"RELIEF_AUDIT_INSTANCE": "audit-0", "RELIEF_AUDIT_ADDRESS": address,
                 "RELIEF_AUDIT_STORE": f"sqlite:///{tmp_path}/audit-twin.db"}
        system.procs["audit-twin"] = system._spawn("audit-twin", ["audit"], extra)
        assert system.wait_exit("audit", timeout=40) == 1  # fenced: stops and says so with its exit code
        assert "fenced" in system.log("audit")

        second = staff.post("/cases", application_body()).json()["case_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = requests.get(f"http://{address}/cases/{second}/history", timeout=5,
                                  headers=system.client("audit", "auditor", "gs", "shen").session.headers)
            if answer.status_code == 200:
                break
            time.sleep(0.3)
        assert answer.status_code == 200  # the replica that holds the name now consumes
    finally:
        system.stop()
