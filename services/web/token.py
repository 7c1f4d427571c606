"""Print a bearer token: `python -m services.web.token --role caseworker --fed gs.by --user li`."""

from __future__ import annotations

import argparse
import os
import sys

from services.config import DEV_JWT_SECRET
from services.web.auth import ROLES, issue_token


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--fed", required=True, help="federation code, e.g. gs.by")
    parser.add_argument("--user", required=True)
    parser.add_argument("--hours", type=int, default=8)
    args = parser.parse_args(argv)
    secret = os.environ.get("RELIEF_JWT_SECRET", DEV_JWT_SECRET)
    try:
        print(issue_token(secret, args.user, args.role, args.fed, ttl_seconds=args.hours * 3600))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
