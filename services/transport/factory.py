"""Choose the transport from one URL: `kafka://host:port[,host:port]` or `embedded:///path/bus.db`."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

from services.transport.base import Transport

_shared: dict[str, Transport] = {}
_lock = threading.Lock()


def transport_for(url: str) -> Transport:
    """Return the process's transport for this URL, created on first use and shared after."""
    with _lock:
        if url not in _shared:
            _shared[url] = _create(url)
        return _shared[url]


def forget(url: str) -> None:
    """Close and drop a shared transport (tests restart services within one process)."""
    with _lock:
        transport = _shared.pop(url, None)
    if transport is not None:
        transport.close()


def _create(url: str) -> Transport:
    parts = urlsplit(url)
    if parts.scheme == "kafka":
        from services.transport.kafka import KafkaTransport

        replication = int(parse_qs(parts.query).get("replication", ["1"])[0])
        return KafkaTransport(parts.netloc, replication=replication)
    if parts.scheme == "embedded":
        from services.transport.embedded import EmbeddedTransport

        # As for SQLite stores: embedded:///var/bus.db is relative, embedded:////tmp/bus.db absolute.
        path = parts.path[1:] if parts.path else ":memory:"
        return EmbeddedTransport(path or ":memory:")
    raise ValueError(f"unsupported transport URL {url!r}: use kafka://host:port or embedded:///path")
