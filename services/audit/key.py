"""`make audit-key`: print the verifier key of the trail's checkpoint signing key (or make a new key pair).

    python -m services.audit.key           # the verifier key auditors trust: <origin>+<key id>+<public key>
    python -m services.audit.key --new ORIGIN   # a new signer key for RELIEF_AUDIT_SIGNING_KEY, and its verifier
"""

from __future__ import annotations

import argparse
import sys

from services.audit.note import Signer, generate_key
from services.config import DEV_AUDIT_SIGNING_KEY, service_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", metavar="ORIGIN", help="generate a new key pair for a log of this origin")
    args = parser.parse_args(argv)
    if args.new:
        signer, verifier = generate_key(args.new)
        print(f"RELIEF_AUDIT_SIGNING_KEY={signer}")
        print(f"verifier key: {verifier}")
        return 0
    configured = service_config("audit")["AUDIT_SIGNING_KEY"]
    print(Signer.parse(configured).verifier.format())
    if configured == DEV_AUDIT_SIGNING_KEY:
        print("(the development key of `make run`; production sets RELIEF_AUDIT_SIGNING_KEY)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
