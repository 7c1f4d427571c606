"""The stack on one machine (deploy/stack) as an operator runs it: `stack-up` in a directory of its own on free
ports, `stack-status`, a case filed through intake reaching audit, `stack-down`, and `stack-up` again on the
same data. Whatever happens, nothing of the stack is left running."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from services.web.auth import issue_token
from tests.e2e.flows import FILED_HISTORY, file_case, history, types_from, wait_for
from tests.harness.kafka_broker import free_ports
from tests.harness.services import Client

ROOT = Path(__file__).resolve().parents[2]
REPLICAS = ["intake-0", "pairing-0", "pairing-1", "aid-0", "aid-1", "audit-0", "audit-1", "gateway-0", "gateway-1"]
OFFSETS = [1, 2, 12, 3, 13, 4, 14, 0, 10]  # each replica's port above the services' base, in REPLICAS' order


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def services_base() -> int:
    """A base port whose every replica port (base + OFFSETS) is free, below the kernel's ephemeral range: a
    port inside it may be free now and be taken by some process's outgoing connection before the stack binds
    it (CI's stack-up once failed on exactly that)."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(20000, max(ephemeral_low - 100, 20100), 100)
        if all(_free(base + offset) for offset in OFFSETS):
            return base
    raise RuntimeError("no free range of ports for the stack's services")


class Stack:
    """The stack of one directory, driven through `python -m deploy.stack` as `make` drives it."""

    def __init__(self, root: Path):
        kafka, controller, postgres, prometheus = free_ports(4)
        self.root = root
        self.base = services_base()
        self.prometheus = f"http://127.0.0.1:{prometheus}"
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("RELIEF_")}
        self.env.update({
            "RELIEF_STACK_DIR": str(root), "RELIEF_STACK_KAFKA_PORT": str(kafka),
            "RELIEF_STACK_CONTROLLER_PORT": str(controller), "RELIEF_STACK_POSTGRES_PORT": str(postgres),
            "RELIEF_STACK_PROMETHEUS_PORT": str(prometheus), "RELIEF_STACK_SERVICES_PORT": str(self.base),
        })

    def run(self, module: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.base + OFFSETS[REPLICAS.index(service + '-0')]}"

    def client(self, service: str, role: str | None = "caseworker", fed: str = "gs.by", user: str = "li") -> Client:
        """A caller holding a token signed with the stack's own JWT secret (the harness's interface)."""
        secret = (self.root / "secrets" / "jwt-secret").read_text().strip()
        return Client(self.url(service), issue_token(secret, user, role, fed) if role else None)

    def pids(self) -> list[int]:
        """Every pid the stack's pid files name, PostgreSQL's postmaster included."""
        files = [*(self.root / "run").glob("*.pid"), self.root / "postgres" / "postmaster.pid"]
        found = []
        for path in files:
            with contextlib.suppress(OSError, ValueError, IndexError):
                found.append(int(path.read_text().split()[0]))
        return found

    def kill_leftovers(self) -> None:
        """SIGKILL whatever survived `stack-down` (a failed test must not leave a JVM or a postmaster behind)."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="relief-stack-"))
    root.chmod(0o755)  # the postgres user works inside it
    made = Stack(root)
    try:
        yield made
    finally:
        made.run("deploy.stack", "down", timeout=120)
        made.kill_leftovers()
        shutil.rmtree(root, ignore_errors=True)


def prometheus_targets(stack: Stack) -> dict[str, str]:
    answer = requests.get(stack.prometheus + "/api/v1/targets", timeout=3).json()
    return {t["labels"]["replica"]: t["health"] for t in answer["data"]["activeTargets"]}


def test_the_stack_starts_reports_carries_a_case_to_audit_stops_and_starts_again_on_its_data(stack):
    up = stack.run("deploy.stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert all(f"{name:9} ready after" in up.stdout for name in REPLICAS), up.stdout
    assert "alert rules loaded" in up.stdout or "WITHOUT the alert rules" in up.stdout
    assert (stack.root / "secrets").stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (stack.root / "secrets").iterdir())

    status = stack.run("deploy.stack", "status", timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    for name in REPLICAS:
        assert any(line.split()[:2] == [name, "running"] and line.endswith("ready") for line in lines), name
    for name in ("postgres", "kafka", "prometheus"):
        assert any(line.split()[:2] == [name, "running"] for line in lines), name
    wait_for(lambda: set(prometheus_targets(stack).values()) == {"up"}
             and len(prometheus_targets(stack)) == len(REPLICAS), 60, "Prometheus scraping every replica")

    token = stack.run("deploy.stack.token", "--role", "auditor", "--fed", "gs", "--user", "shen", timeout=60)
    assert "the stack's JWT secret" in token.stderr
    assert Client(stack.url("audit"), token.stdout.strip()).get("/log/checkpoint").status_code == 200

    case_id = file_case(stack)
    events = history(stack, case_id, len(FILED_HISTORY) + 1)  # pairing, with no cadre, reports the gap
    assert types_from(events, "intake") == FILED_HISTORY and types_from(events, "pairing") == ["CoverageGap"]
    through = stack.client("gateway")  # the console's origin forwards to the stack's intake
    through.base_url += "/api/intake"
    assert through.get(f"/cases/{case_id}").json()["state"] == "filed"

    def consumers_caught_up() -> bool:
        rows = [line.split() for line in stack.run("deploy.stack", "status", timeout=60).stdout.splitlines()]
        read = [row for row in rows if len(row) >= 6 and row[0] in ("pairing", "aid") and row[3] != "-"]
        return {row[0] for row in read} == {"pairing", "aid"} and all(row[5] == "0" for row in read)

    wait_for(consumers_caught_up, 60, "pairing's and aid's offsets committed to Kafka, lag 0")

    pids = stack.pids()
    assert len(pids) == len(REPLICAS) + 3
    down = stack.run("deploy.stack", "down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if running(pid)]
    assert stack.run("deploy.stack", "status", timeout=60).returncode == 1

    again = stack.run("deploy.stack", "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "topics     created" not in again.stdout  # Kafka kept its data
    assert stack.client("intake").get(f"/cases/{case_id}").json()["state"] == "filed"
    kept = history(stack, case_id, len(events))
    assert [(e["index"], e["event_id"]) for e in kept] == [(e["index"], e["event_id"]) for e in events]
    assert stack.run("deploy.stack", "status", timeout=60).returncode == 0
