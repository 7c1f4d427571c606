"""`python -m services.intake.reindex` fills the case search of a store from before it existed."""

import os
import subprocess
import sys
from decimal import Decimal

from services.config import DEV_CIPHER_KEY, DEV_PERSON_KEY
from services.eventstore import Release, store_env
from services.intake.application import Cases
from services.intake.case_index import SEARCH
from tests.factories import application_body
from tests.harness.services import ROOT


def test_the_reindex_command_writes_the_missing_search_rows_once(tmp_path):
    url = f"sqlite:///{tmp_path}/intake.db"
    cases = Cases({**store_env(url, DEV_CIPHER_KEY), "PERSON_KEY": DEV_PERSON_KEY})
    body = application_body("gs.by")
    body["household"]["monthly_income"] = Decimal(body["household"]["monthly_income"])
    case = cases.open_case(opened_by="li", **body)
    cases.commit([], [Release(SEARCH, str(case.id))], [])
    cases.close()
    env = {**os.environ, "RELIEF_INTAKE_STORE": url}
    run = [sys.executable, "-m", "services.intake.reindex"]
    first = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "1 case(s)" in first.stdout, first.stderr
    again = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "0 case(s)" in again.stdout
    cases = Cases({**store_env(url, DEV_CIPHER_KEY), "PERSON_KEY": DEV_PERSON_KEY})
    assert [c["case_id"] for c in cases.find_cases("gs", text="张伟")["cases"]] == [str(case.id)]
    cases.close()
