"""Every service as separate processes (`python -m services.run <service>`) on the stack's Kafka and
PostgreSQL, each replica named, as a StatefulSet pod would be, by `RELIEF_<SERVICE>_INSTANCE`; the gateway's
replicas forward to every replica of each service and use no Kafka.

A replica's environment is built here from nothing but the stack: no `RELIEF_*`, `POSTGRES_*` or
`PERSISTENCE_MODULE` of the caller's shell leaks into it (the eventsourcing library would read them).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path

import requests

from deploy.stack.layout import Replica, Stack
from deploy.stack.postgres import Postgres
from deploy.stack.procs import Daemon
from deploy.stack.secrets import Secrets
from services.catalog import entry
from services.config import PROXIED

ROOT = Path(__file__).resolve().parents[2]
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "RELIEF_LOG_LEVEL", "RELIEF_TIME_ZONE",
        "RELIEF_MAX_WORKERS")


def daemon(stack: Stack, replica: Replica) -> Daemon:
    return Daemon(replica.name, stack.run, stack.logs)


def environment(stack: Stack, replica: Replica, secrets: Secrets) -> dict[str, str]:
    """Every variable the replica's process gets (services/config.py reads them)."""
    upper = replica.service.upper()
    store = Postgres(stack).store_url(replica.service, secrets.passwords[replica.service])
    service = entry(replica.service)
    env = {
        **{name: os.environ[name] for name in KEPT if name in os.environ},
        "RELIEF_DATA_DIR": str(stack.root / "data" / replica.name),
        f"RELIEF_{upper}_ADDRESS": f"127.0.0.1:{replica.port}",
        f"RELIEF_{upper}_STORE": store,
        f"RELIEF_{upper}_INSTANCE": replica.name,
        # A service that uses no topic (the gateway) gets no transport, as in Kubernetes: its /ready then does
        # not wait for a broker it never uses.
        "RELIEF_TRANSPORT": stack.transport_url if service.publishes or service.consumes else "",
        # Only the keys the service uses: intake alone gets the person key, audit alone the signing key.
        **secrets.given_to(replica.service),
    }
    if replica.service == "gateway":
        # Every replica of each service, tried in turn (services/config.py, upstream_urls): one that is down
        # costs a connection refused, and the next one answers.
        env.update({f"RELIEF_GATEWAY_{name.upper()}_URLS": ",".join(r.url for r in stack.replicas_of(name))
                    for name in PROXIED})
    return env


def start(stack: Stack, secrets: Secrets, say: Callable[[str], None]) -> None:
    """Start every replica that is not running, then wait for each one's /ready."""
    started = []
    for replica in stack.replicas():
        process = daemon(stack, replica)
        if (pid := process.pid()) is not None:
            say(f"{replica.name:9} already running (pid {pid})")
            continue
        pid = process.start([sys.executable, "-m", "services.run", replica.service],
                            environment(stack, replica, secrets), ROOT)
        say(f"{replica.name:9} started (pid {pid}) on {replica.url}")
        started.append(replica)
    wait_ready(stack, started, say)


def wait_ready(stack: Stack, replicas: list[Replica], say: Callable[[str], None], timeout: float = 120) -> None:
    began = time.monotonic()
    waiting = list(replicas)
    while waiting:
        for replica in list(waiting):
            if daemon(stack, replica).pid() is None:
                raise RuntimeError(f"{replica.name} exited; the end of its log:\n{daemon(stack, replica).tail()}")
            if ready(replica)[0] == 200:
                say(f"{replica.name:9} ready after {time.monotonic() - began:.1f} s")
                waiting.remove(replica)
        if waiting and time.monotonic() - began > timeout:
            names = ", ".join(r.name for r in waiting)
            raise RuntimeError(f"not ready after {timeout:.0f} s: {names} (stack-status says why)")
        time.sleep(0.5)


def ready(replica: Replica) -> tuple[int | None, dict[str, object]]:
    """The replica's /ready: its status code and what it says of each check (None: it does not answer)."""
    try:
        answer = requests.get(replica.url + "/ready", timeout=2)
    except requests.RequestException:
        return None, {}
    try:
        body = answer.json()
    except ValueError:
        body = {}
    return answer.status_code, body if isinstance(body, dict) else {}


def stop(stack: Stack, say: Callable[[str], None], only: Collection[str] = ()) -> None:
    """SIGTERM every replica (of the services named in `only`, if any) at once (a service stops within about
    2 s), SIGKILL what lingers past 20 s."""
    stopping = [(r, daemon(stack, r)) for r in stack.replicas() if not only or r.service in only]
    signalled = [(r, d, pid) for r, d in stopping if (pid := d.signal_stop()) is not None]
    for replica, process, pid in signalled:
        clean = process.wait_stopped(20)
        say(f"{replica.name:9} stopped (pid {pid})" + ("" if clean else ", killed after 20 s"))
