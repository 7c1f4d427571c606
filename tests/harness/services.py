"""Start the services for tests: in this process (nameko containers) or as separate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from services.catalog import names
from services.config import DEV_JWT_SECRET, PROXIED, service_config
from services.web.auth import issue_token
from tests.harness.postgres import free_port
from tests.harness.processes import terminate

ROOT = Path(__file__).resolve().parents[2]


class Client:
    """A caller of one service, holding one user's token."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, timeout=10, **kwargs)


def environment(data_dir: Path, transport: str | None = None, stores: dict[str, str] | None = None) -> dict[str, str]:
    """The RELIEF_* variables for a system whose data lives in data_dir, on free ports."""
    env = {"RELIEF_DATA_DIR": str(data_dir), "RELIEF_LOG_LEVEL": os.environ.get("RELIEF_TEST_LOG_LEVEL", "WARNING")}
    for name in names():
        env[f"RELIEF_{name.upper()}_ADDRESS"] = f"127.0.0.1:{free_port()}"
    for name in PROXIED:  # the gateway forwards to the services of this system
        env[f"RELIEF_GATEWAY_{name.upper()}_URLS"] = "http://" + env[f"RELIEF_{name.upper()}_ADDRESS"]
    if transport:
        env["RELIEF_TRANSPORT"] = transport
    for name, url in (stores or {}).items():
        env[f"RELIEF_{name.upper()}_STORE"] = url
    return env


def demo_login(gateway: str, login: str, password: str = "demo") -> str:
    """An access token of a demo account from the gateway, which answers a little before it has opened them
    (its /ready says when): retried for up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        answer = requests.post(f"{gateway}/api/auth/login", json={"login": login, "password": password}, timeout=30)
        if answer.ok or time.monotonic() > deadline:
            answer.raise_for_status()
            return str(answer.json()["access_token"])
        time.sleep(0.3)


def console_environment(data_dir: Path) -> dict[str, str]:
    """A system as `make run` runs it for a browser: the demo accounts, the built console, a checkpoint
    every second (so that what the trail holds is soon signed)."""
    return {**environment(data_dir), "RELIEF_DEMO_USERS": "1", "RELIEF_CONSOLE_DIR": str(ROOT / "console" / "dist"),
            "RELIEF_AUDIT_CHECKPOINT_SECONDS": "1"}


class System:
    """Base of both ways to run: knows the addresses and hands out clients."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def url(self, service: str) -> str:
        return "http://" + self.env[f"RELIEF_{service.upper()}_ADDRESS"]

    def client(self, service: str, role: str | None = "caseworker", fed: str = "gs.by", user: str = "li") -> Client:
        token = issue_token(DEV_JWT_SECRET, user, role, fed) if role else None
        return Client(self.url(service), token)


class InProcessSystem(System):
    """Every service of the catalog as nameko containers in the test process (the embedded default)."""

    def __init__(self, env: dict[str, str]):
        super().__init__(env)
        self.containers: list[Any] = []

    def start(self) -> InProcessSystem:
        from nameko.containers import ServiceContainer

        from services.run import service_classes

        os.makedirs(self.env["RELIEF_DATA_DIR"], exist_ok=True)
        for name, cls in service_classes().items():
            container = ServiceContainer(cls, service_config(name, {**os.environ, **self.env}))
            container.start()
            self.containers.append(container)
        return self

    def stop(self) -> None:
        from services.transport.factory import forget

        for container in self.containers:
            container.stop()
        forget(service_config("intake", {**os.environ, **self.env})["TRANSPORT_URL"])


class ProcessSystem(System):
    """Each service in its own `python -m services.run NAME` process, as past one machine."""

    def __init__(self, env: dict[str, str], services: tuple[str, ...] | None = None):
        super().__init__(env)
        self.services = services or tuple(names())
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *names: str, extra: dict[str, str] | None = None) -> ProcessSystem:
        for name in names or self.services:
            self.procs[name] = self._spawn(name, [name], extra)
            self.wait_healthy(name, self.procs[name])
        return self

    def spawn_replica(self, service: str, replica: str, extra: dict[str, str] | None = None) -> str:
        """Start another process of `service`, named `replica` (its log and its key in `procs`), on a port of
        its own; its base URL. It is not waited for: a test starting several waits for them together."""
        address = f"127.0.0.1:{free_port()}"
        self.procs[replica] = self._spawn(replica, [service],
                                          {f"RELIEF_{service.upper()}_ADDRESS": address, **(extra or {})})
        return f"http://{address}"

    def start_all(self) -> ProcessSystem:
        """Run every service in one process, as `make run` does."""
        self.procs["all"] = self._spawn("all", [], None)
        for name in self.services:
            self.wait_healthy(name, self.procs["all"], log_name="all")
        return self

    def _spawn(self, log_name: str, args: list[str], extra: dict[str, str] | None) -> subprocess.Popen[bytes]:
        os.makedirs(self.env["RELIEF_DATA_DIR"], exist_ok=True)
        log = open(Path(self.env["RELIEF_DATA_DIR"]) / f"{log_name}.log", "ab")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "services.run", *args],
            cwd=ROOT,
            env={**os.environ, **self.env, **(extra or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(
        self, name: str, proc: subprocess.Popen[bytes], timeout: float = 30, log_name: str | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: {self.log(log_name or name)[-2000:]}")
            try:
                if requests.get(self.url(name) + "/health", timeout=1).ok:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{name} not healthy after {timeout}s: {self.log(log_name or name)[-2000:]}")

    def wait_exit(self, name: str, timeout: float = 30) -> int:
        return self.procs[name].wait(timeout)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self, *names: str) -> None:
        for name in names or list(self.procs):
            terminate(self.procs[name], 15)

    def log(self, name: str) -> str:
        path = Path(self.env["RELIEF_DATA_DIR"]) / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
