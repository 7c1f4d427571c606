"""Fill the case search of cases stored before it existed: `python -m services.intake.reindex [--store URL]`.

The store, cipher key and person key are intake's (RELIEF_INTAKE_STORE, RELIEF_CIPHER_KEY, RELIEF_PERSON_KEY),
as the service reads them. Safe to run while intake runs, and again: it writes only the rows that are missing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from services.config import service_config
from services.eventstore import store_env
from services.intake.application import Cases


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="intake's store URL (default: RELIEF_INTAKE_STORE, else make run's)")
    args = parser.parse_args(argv)
    config = service_config("intake")
    env = store_env(args.store or config["STORE_URL"], config["CIPHER_KEY"])
    env["PERSON_KEY"] = config["PERSON_KEY"]
    with contextlib.closing(Cases(env)) as cases:
        written = cases.reindex_search()
    print(f"{written} case(s) added to the case search")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
