"""Run services: `python -m services.run` runs them all in one process (the embedded default);
`python -m services.run intake` runs one, as each process does past one machine."""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything imports socket, threading, kafka or psycopg

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")  # psycopg must yield to the eventlet hub

from nameko.containers import ServiceContainer  # noqa: E402

from services.catalog import SERVICES  # noqa: E402
from services.config import data_dir, service_config, uses_dev_secrets  # noqa: E402

log = logging.getLogger("relief")


def service_classes() -> dict[str, type]:
    """The nameko class of every service in the catalog, by name."""
    return {entry.name: entry.load_service_class() for entry in SERVICES}


def console_banner(config: dict[str, object]) -> str:
    """The console's address, and the demo accounts if the gateway opened them (make run)."""
    from services.config import demo_accounts_open
    from services.gateway.application import DEMO_FEDERATION, DEMO_PASSWORD, DEMO_USERS

    banner = f"console  http://{config['WEB_SERVER_ADDRESS']}/"
    if demo_accounts_open(config):
        logins = ", ".join(login for login, _, _ in DEMO_USERS)
        banner += f"\n         demo accounts (federation {DEMO_FEDERATION}, password {DEMO_PASSWORD!r}): {logins}"
    return banner


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=os.environ.get("RELIEF_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    available = service_classes()
    wanted = argv or list(available)
    unknown = [name for name in wanted if name not in available]
    if unknown:
        print(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(available)}", file=sys.stderr)
        return 2
    os.makedirs(data_dir(), exist_ok=True)
    containers, lines = [], []
    for name in wanted:
        config = service_config(name)
        if uses_dev_secrets(config):
            log.warning("%s uses a development secret (JWT, person or cipher key): not for production", name)
        container = ServiceContainer(available[name], config)
        container.start()
        containers.append(container)
        lines.append(f"{name:8} http://{config['WEB_SERVER_ADDRESS']}  store {config['STORE_URL']}")
    if "gateway" in wanted:
        print(console_banner(service_config("gateway")), flush=True)
    print("\n".join(lines), flush=True)
    print(f"transport {service_config(wanted[0])['TRANSPORT_URL']}  (data in {data_dir()})", flush=True)

    stopping = eventlet.event.Event()

    def request_stop(signum: int, frame: object) -> None:
        if not stopping.ready():
            stopping.send(0)

    def watch(container: ServiceContainer) -> None:
        """A service that dies (its store or broker unreachable, a bug) takes the process down with it."""
        try:
            container.wait()
        except Exception:
            log.exception("service %s died", container.service_name)
        if not stopping.ready():
            stopping.send(1)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for container in containers:
        eventlet.spawn(watch, container)
    code = stopping.wait()
    for container in containers:
        container.stop()
    log.info("stopped" if code == 0 else "stopped because a service died")
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
