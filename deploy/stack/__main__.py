"""The whole system on one machine as it runs past one: `python -m deploy.stack up|down|status|env`.

    up      start Kafka (KRaft), PostgreSQL, every service's replicas and Prometheus; what runs is left alone
    down    stop them all, services first; the data stays
    status  each process and its /ready, the consumer groups' lag per partition, Prometheus's targets
    env     the variables a tool needs to work on the stack's data (`make replay`, logcheck), as shell exports

The stack lives in RELIEF_STACK_DIR (default ./var/stack); its ports are in docs/operations.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from deploy.stack import control, layout
from deploy.stack.postgres import Postgres
from deploy.stack.secrets import ensure, jwt_secret
from services.catalog import names


def say(line: str) -> None:
    print(line, flush=True)


def env_exports(stack: layout.Stack, service: str) -> list[str]:
    """`export` lines that point a tool at the stack: its transport, the service's store, the stack's keys."""
    if jwt_secret(stack.secrets) is None:
        raise RuntimeError(f"no stack in {stack.root} yet: `make stack-up` makes one")
    secrets = ensure(stack.secrets)
    values = {
        "RELIEF_TRANSPORT": stack.transport_url,
        f"RELIEF_{service.upper()}_STORE": Postgres(stack).store_url(service, secrets.passwords[service]),
        "RELIEF_JWT_SECRET": secrets.jwt_secret,
        "RELIEF_PERSON_KEY": secrets.person_key,
        "RELIEF_CIPHER_KEY": secrets.cipher_key,
        "RELIEF_AUDIT_SIGNING_KEY": secrets.audit_signing_key,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    parser.add_argument("--service", default="audit", choices=names(), help="env: whose store (default audit)")
    args = parser.parse_args(argv)
    stack = layout.load()
    try:
        if args.command == "up":
            control.up(stack, say)
        elif args.command == "down":
            control.down(stack, say)
        elif args.command == "status":
            from deploy.stack.status import report

            return 0 if report(stack, say) else 1
        else:
            print("\n".join(env_exports(stack, args.service)))
    except RuntimeError as exc:
        print(f"stack {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
