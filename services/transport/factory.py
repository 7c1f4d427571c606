"""Choose the transport from one URL: `kafka://host:port[,host:port][?…]` or `embedded:///path/bus.db`."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

from services.transport.base import Transport

_shared: dict[str, Transport] = {}
_lock = threading.Lock()


def transport_for(url: str) -> Transport:
    """Return the process's transport for this URL, created on first use and shared after.

    A Kafka URL's security settings are read from the RELIEF_KAFKA_* variables then (services/transport/security.py).
    """
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
        from services.transport.security import kafka_endpoint

        endpoint = kafka_endpoint(url, os.environ)
        return KafkaTransport(endpoint.bootstrap, replication=endpoint.replication, security=endpoint.security)
    if parts.scheme == "embedded":
        from services.transport.embedded import EmbeddedTransport

        # As for SQLite stores: embedded:///var/bus.db is relative, embedded:////tmp/bus.db absolute.
        path = parts.path[1:] if parts.path else ":memory:"
        return EmbeddedTransport(path or ":memory:")
    # Only the scheme: whatever else a mistaken URL holds may be a password.
    raise ValueError(f"unsupported transport URL scheme {parts.scheme!r}: use kafka://host:port or embedded:///path")
