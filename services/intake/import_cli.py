"""Import a file of existing cases and watch its progress:

    python -m services.intake.import_cli cases.csv --token "$TOKEN" [--url http://127.0.0.1:8001]
        [--failures failures.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from services.intake.import_rows import CSV, XLSX

BAR = 30


def call(method: str, url: str, token: str, data: bytes | None = None, content_type: str = "") -> dict[str, Any]:
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = json.loads(exc.read() or b"{}")
        raise SystemExit(f"{exc.code}: {detail.get('message', exc.reason)}") from None


def bar(view: dict[str, Any]) -> str:
    total = view.get("rows_total") or 0
    done = view["rows_done"]
    share = done / total if total else 1.0
    filled = int(share * BAR)
    return (f"\r[{'#' * filled}{'.' * (BAR - filled)}] {share:6.1%}  {done}/{total} rows  "
            f"{view['filed']} filed  {view['failed_rows']} refused")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--url", default=os.environ.get("RELIEF_INTAKE_URL", "http://127.0.0.1:8001"))
    parser.add_argument("--token", default=os.environ.get("RELIEF_TOKEN"), help="bearer token (or RELIEF_TOKEN)")
    parser.add_argument("--failures", type=Path, help="write the refused rows and reasons to this CSV")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token or RELIEF_TOKEN (make token ROLE=caseworker FED=...)")
    content_type = XLSX if args.file.suffix.lower() == ".xlsx" else CSV
    name = urllib.parse.quote(args.file.name)
    view = call("POST", f"{args.url}/imports?filename={name}", args.token, args.file.read_bytes(), content_type)
    while view["state"] == "running":
        print(bar(view), end="", file=sys.stderr, flush=True)
        time.sleep(0.5)
        view = call("GET", f"{args.url}/imports/{view['import_id']}", args.token)
    print(bar(view), file=sys.stderr)
    if view["state"] == "interrupted":
        print("the import was interrupted; send the same file again to finish it", file=sys.stderr)
        return 1
    if args.failures:
        with args.failures.open("w", newline="", encoding="utf-8-sig") as out:
            writer = csv.DictWriter(out, fieldnames=["row", "column", "reason"])
            writer.writeheader()
            writer.writerows(view["failures"])
    print(json.dumps({k: view[k] for k in ("import_id", "rows_done", "filed", "failed_rows")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
