"""`make stack-up` and `make stack-down`: start what is not running, in the order each part needs the one
before it, and stop everything in the reverse order, keeping every byte of data."""

from __future__ import annotations

from collections.abc import Callable

from deploy.stack import services
from deploy.stack.kafka import Kafka
from deploy.stack.layout import Stack
from deploy.stack.postgres import Postgres
from deploy.stack.prometheus import Prometheus
from deploy.stack.secrets import ensure


def up(stack: Stack, say: Callable[[str], None]) -> None:
    """Secrets, PostgreSQL, Kafka and its topics, the services, Prometheus; each started only if it is not
    running, so running it again is harmless and restarts only what died."""
    stack.save_ports()
    for directory in (stack.root, stack.logs, stack.run):
        directory.mkdir(parents=True, exist_ok=True)
    stack.root.chmod(0o755)  # the postgres user must reach its directories inside
    secrets = ensure(stack.secrets)
    say(f"secrets    in {stack.secrets} (mode 600)")

    postgres = Postgres(stack)
    if postgres.running():
        say(f"postgres   already running on 127.0.0.1:{stack.ports.postgres}")
    else:
        postgres.start()
        say(f"postgres   started on 127.0.0.1:{stack.ports.postgres} (data in {postgres.data})")
    postgres.ensure_databases(secrets.passwords)

    kafka = Kafka(stack)
    if (pid := kafka.daemon.pid()) is not None:
        kafka.wait_ready()
        say(f"kafka      already running (pid {pid}) on {stack.bootstrap}")
    else:
        kafka.start()
        say(f"kafka      started (pid {kafka.daemon.pid()}) on {stack.bootstrap}, controller on "
            f"127.0.0.1:{stack.ports.controller} (data in {kafka.data})")
    created = kafka.ensure_topics()
    if created:
        say(f"topics     created: {', '.join(created)}")

    services.start(stack, secrets, say)

    prometheus = Prometheus(stack)
    if (pid := prometheus.daemon.pid()) is not None:
        say(f"prometheus already running (pid {pid}) on {prometheus.url}")
    else:
        left_out = prometheus.write_config()
        prometheus.start()
        say(f"prometheus started (pid {prometheus.daemon.pid()}) on {prometheus.url}, scraping "
            f"{len(stack.replicas())} replicas; " + (f"WITHOUT the alert rules: {left_out}" if left_out
                                                      else "alert rules loaded"))
    say("the stack is up: `make stack-status` shows it, `make stack-down` stops it")


def down(stack: Stack, say: Callable[[str], None]) -> None:
    """The services first (so nothing they do is cut off by its broker or store), then Prometheus, Kafka and
    PostgreSQL."""
    services.stop(stack, say)
    for part in (Prometheus(stack).daemon, Kafka(stack).daemon):
        if (pid := part.signal_stop()) is not None:
            clean = part.wait_stopped(30)
            say(f"{part.name:10} stopped (pid {pid})" + ("" if clean else ", killed after 30 s"))
    postgres = Postgres(stack)
    if postgres.running():
        postgres.stop()
        say("postgres   stopped")
    say(f"the stack is down; its data stays in {stack.root}")
