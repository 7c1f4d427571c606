"""An operator sees a frozen replica fall behind: consumer lag is the log's end against the positions recorded
in the store, for every partition, reported by every live replica (services/runtime/lag.py).

Two pairing replicas share the partitions of intake's topic and one PostgreSQL store. One is frozen (SIGSTOP:
its process holds its partitions and answers nothing) while cases are filed: the live replica reports the
frozen one's partitions falling behind, and, once the group has moved them to it, their lag back at zero.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from services.contracts.topics import INTAKE_TOPIC
from tests.e2e.flows import file_case, wait_for
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka


def lags(url: str) -> dict[int, float]:
    """The pairing replica's exported lag of intake's topic, per partition."""
    found: dict[int, float] = {}
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("relief_consumer_lag_messages{") and f'topic="{INTAKE_TOPIC}"' in line \
                and 'service="pairing"' in line:
            partition = int(line.split('partition="', 1)[1].split('"', 1)[0])
            found[partition] = float(line.rsplit(" ", 1)[1])
    return found


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/ready", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_live_replica_reports_the_lag_of_a_frozen_replicas_partitions(tmp_path, kafka, postgres):
    store = f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/"
    store += postgres.create_database()
    system = ProcessSystem(environment(tmp_path, transport=f"kafka://{kafka}", stores={"pairing": store}))
    urls = {}
    try:
        system.start("intake")
        for replica in ("pairing-a", "pairing-b"):
            urls[replica] = system.spawn_replica("pairing", replica)
        for url in urls.values():
            wait_for(lambda url=url: ready(url), 60, "a pairing replica ready (partitions assigned)")
        live, frozen = urls["pairing-a"], "pairing-b"
        wait_for(lambda: lags(live) and all(v == 0 for v in lags(live).values()), 60, "pairing caught up")
        assert len(lags(live)) == 6  # every partition, not only the three it reads

        system.procs[frozen].send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        with ThreadPoolExecutor(6) as pool:  # within a second or two: well inside the 10 s session timeout
            list(pool.map(lambda _: file_case(system, "gs.by.pg"), range(6)))
        # The live replica applies its own partitions' events within a poll; the frozen one's stay behind,
        # unchanged, report after report, until the group hands them over.
        held: dict[int, tuple[float, float]] = {}  # partition -> (lag, since when it has been that lag)
        longest = 0.0
        while time.monotonic() - frozen_at < 12:
            now = time.monotonic()
            for partition, lag in lags(live).items():
                if lag > 0 and held.get(partition, (None, 0.0))[0] == lag:
                    longest = max(longest, now - held[partition][1])
                elif lag > 0:
                    held[partition] = (lag, now)
                else:
                    held.pop(partition, None)
            time.sleep(0.3)
        assert longest >= 2.5, f"no partition stayed behind while its replica was frozen (longest {longest:.1f}s)"

        # The group notices the frozen member is gone and hands its partitions over: lag back to 0.
        wait_for(lambda: all(v == 0 for v in lags(live).values()), 60, "the frozen replica's partitions caught up")
    finally:
        for name in urls:
            if name in system.procs and system.procs[name].poll() is None:
                system.procs[name].send_signal(signal.SIGCONT)
        system.stop()
