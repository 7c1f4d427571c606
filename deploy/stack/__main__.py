"""The whole system on one machine as it runs past one: `python -m deploy.stack COMMAND`.

    up                    start Kafka (KRaft), PostgreSQL, every service's replicas and Prometheus; what runs
                          is left alone
    down                  stop them all, services first; the data stays
    status                each process and its /ready, the consumer groups' lag per partition, Prometheus's
                          targets (exit 1 unless every process runs and every replica is ready)
    stop SERVICE ...      stop the replicas of these services only (`up` starts them again)
    restart [SERVICE ...] stop and start the replicas of these services (default: all), e.g. with a new secret
    env [SERVICE]         the variables a tool needs to work on the stack's data (`make replay`, logcheck), as
                          shell exports, with SERVICE's store (default audit)

The stack lives in RELIEF_STACK_DIR (default ./var/stack); its ports are in docs/operations.md.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys

from deploy.stack import control, layout, services
from deploy.stack.postgres import Postgres
from deploy.stack.secrets import ensure, jwt_secret
from services.catalog import names


def say(line: str) -> None:
    print(line, flush=True)


def env_exports(stack: layout.Stack, service: str) -> list[str]:
    """`export` lines that point a tool at the stack: its transport, the service's store, the keys that service uses."""
    if jwt_secret(stack.secrets) is None:
        raise RuntimeError(f"no stack in {stack.root} yet: `make stack-up` makes one")
    secrets = ensure(stack.secrets)
    values = {
        "RELIEF_TRANSPORT": stack.transport_url,
        f"RELIEF_{service.upper()}_STORE": Postgres(stack).store_url(service, secrets.passwords[service]),
        **secrets.given_to(service),
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make stack-status | head` ends quietly
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status", "stop", "restart", "env"))
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=f"one of {', '.join(names())}")
    args = parser.parse_args(argv)
    unknown = set(args.services) - set(names())
    if unknown or (args.command == "stop" and not args.services) or (args.command == "env" and len(args.services) > 1):
        parser.error(f"name the services of {args.command} among {', '.join(names())}")
    stack = layout.load()
    try:
        if args.command == "up":
            control.up(stack, say)
        elif args.command == "down":
            control.down(stack, say)
        elif args.command == "status":
            from deploy.stack.status import report

            return 0 if report(stack, say) else 1
        elif args.command == "stop":
            services.stop(stack, say, args.services)
        elif args.command == "restart":
            services.stop(stack, say, args.services)
            services.start(stack, ensure(stack.secrets), say)
        else:
            print("\n".join(env_exports(stack, args.services[0] if args.services else "audit")))
    except RuntimeError as exc:
        print(f"stack {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
