"""`make token`: a bearer token signed with the secret the running system checks, saying which one on stderr.

The secret is `RELIEF_JWT_SECRET` when it is set; else the stack's (RELIEF_STACK_DIR's `secrets/jwt-secret`)
while any of the stack's service replicas runs; else the development secret of `make run`. Only the token
goes to stdout, so `TOKEN=$(make -s token ...)` takes it whole.
"""

from __future__ import annotations

import os
import sys

from deploy.stack import layout, services
from deploy.stack.secrets import jwt_secret
from services.web import token


def stack_secret(stack: layout.Stack) -> str | None:
    """The stack's JWT secret if one of its replicas runs, else None."""
    if not any(services.daemon(stack, replica).pid() for replica in stack.replicas()):
        return None
    return jwt_secret(stack.secrets)


def main(argv: list[str]) -> int:
    stack = layout.load()
    if os.environ.get("RELIEF_JWT_SECRET"):
        print("signed with RELIEF_JWT_SECRET", file=sys.stderr)
    elif (secret := stack_secret(stack)) is not None:
        os.environ["RELIEF_JWT_SECRET"] = secret
        print(f"signed with the stack's JWT secret ({stack.secrets / 'jwt-secret'}): the stack is up",
              file=sys.stderr)
    else:
        print("signed with the development JWT secret of `make run` (no stack is up)", file=sys.stderr)
    return token.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
