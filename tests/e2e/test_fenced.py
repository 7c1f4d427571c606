"""A consumer replica fenced by another process with its member id stops and exits non-zero, for its
supervisor (aid here; the audit trail's sequencer holds a lease instead)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.factories import application_body
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka


def test_the_fenced_replica_exits_non_zero_and_the_new_one_consumes(tmp_path, kafka):
    system = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}"))
    try:
        system.start("intake")
        system.start("aid", extra={"RELIEF_AID_INSTANCE": "aid-0"})
        staff = system.client("intake", "caseworker", "gs.by", "li")
        first = staff.post("/cases", application_body()).json()["case_id"]
        reader = system.client("aid", "caseworker", "gs.by", "li")
        deadline = time.monotonic() + 30
        while reader.get(f"/cases/{first}/aid").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert reader.get(f"/cases/{first}/aid").status_code == 200  # aid consumed the case

        twin = system.spawn_replica("aid", "aid-twin", {  # a second process wrongly given the same replica name
            "RELIEF_AID_INSTANCE": "aid-0", "RELIEF_AID_STORE": f"sqlite:///{tmp_path}/aid-twin.db"})
        assert system.wait_exit("aid", timeout=40) == 1  # fenced: stops and says so with its exit code
        assert "fenced" in system.log("aid")

        second = staff.post("/cases", application_body()).json()["case_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = requests.get(f"{twin}/cases/{second}/aid", timeout=5, headers=reader.session.headers)
            if answer.status_code == 200:
                break
            time.sleep(0.3)
        assert answer.status_code == 200  # the replica that holds the name now consumes
    finally:
        system.stop()
