"""The checks behind GET /ready: the store answers, the transport is reachable (each within a second).

Each returns `{"ok": bool, "detail": str}`; the runtime's extensions combine them in `readiness()`.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import eventlet

from services.eventstore import IndexedApplication

TIMEOUT_SECONDS = 1.0
_reachable: dict[str, tuple[float, dict[str, Any]]] = {}  # transport URL -> (checked at, result)


def store_answers(app: IndexedApplication | None, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """Run a trivial query on the service's store; fail if it errors or takes longer than `timeout`."""
    if app is None:
        return {"ok": False, "detail": "store not set up"}
    datastore = getattr(app.recorder, "datastore", None)
    if datastore is None:
        return {"ok": True, "detail": "in memory"}
    started = time.perf_counter()
    try:
        with eventlet.Timeout(timeout), datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()
    except eventlet.Timeout:
        return {"ok": False, "detail": f"no answer within {timeout:.0f}s"}
    except Exception as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "detail": f"answered in {1000 * (time.perf_counter() - started):.0f} ms"}


def transport_reachable(url: str, timeout: float = TIMEOUT_SECONDS, cache_seconds: float = 5.0) -> dict[str, Any]:
    """Tell whether a Kafka bootstrap broker accepts a connection (remembered for a few seconds)."""
    parts = urlsplit(url)
    if parts.scheme != "kafka":
        return {"ok": True, "detail": "embedded log"}
    known = _reachable.get(url)
    if known is not None and time.monotonic() - known[0] < cache_seconds:
        return known[1]
    result = {"ok": False, "detail": f"no broker of {parts.netloc} accepts connections"}
    for server in parts.netloc.split(","):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port or 9092)), timeout=timeout):
                result = {"ok": True, "detail": f"{server} accepts connections"}
                break
        except (OSError, ValueError):
            continue
    _reachable[url] = (time.monotonic(), result)
    return result
