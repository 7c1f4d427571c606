"""A static C2SP tlog-tiles log over HTTP, for tests: the paths the audit service serves under ``/log``.

:class:`StaticLog` holds a log in memory (its entries, the Merkle tree, the checkpoint signed at one size)
and answers the tlog-tiles paths as a live log would: tiles and bundles of all its entries, partial ones
only until the full one exists, so a checkpoint older than the tiles is served as well; ``overrides``
serves other bytes at a path, to tamper with the log.
:class:`TlogServer` serves any :class:`LogFiles` on a free loopback port, so a client such as the Go
interoperability client (tests/interop/tlogclient) can be pointed at ``server.url``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from services.audit.merkle import (
    HASH_SIZE,
    MerkleTree,
    encode_entry_bundle,
    entries_path,
    tile_path,
    tile_width,
)
from services.audit.note import Checkpoint, Signer, sign_checkpoint

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
_INDEX = r"((?:x\d{3}/)*\d{3})"
_WIDTH = r"(?:\.p/(\d+))?"
_HASH_TILE = re.compile(rf"tile/(\d+)/{_INDEX}{_WIDTH}")
_ENTRY_BUNDLE = re.compile(rf"tile/entries/{_INDEX}{_WIDTH}")


class LogFiles(Protocol):
    """What a log serves: the body and content type at a path below the log's URL, or ``None`` (404)."""

    def read(self, path: str) -> tuple[bytes, str] | None: ...


def _index(digits: str) -> int:
    return int(digits.replace("x", "").replace("/", ""))


def _served_width(actual: int, asked: int) -> bool:
    """A full tile once it exists; a partial one, of at most the current width, only until then."""
    return actual == asked if asked == 256 else 0 < asked <= actual < 256


class StaticLog:
    """A log of ``entries`` in memory whose published checkpoint is at ``size`` (default: all of them).

    Its tiles are those of all the entries: with a smaller ``size``, a partial tile the checkpoint needs
    may be gone because the full tile exists, and a client must read the full one instead.
    """

    def __init__(self, entries: Iterable[bytes], signer: Signer, size: int | None = None) -> None:
        self.entries = list(entries)
        self.tree = MerkleTree()
        for entry in self.entries:
            self.tree.append_entry(entry)
        self.signer = signer
        self.size = len(self.entries) if size is None else size
        self.checkpoint = self.signed_checkpoint(self.size)
        self.overrides: dict[str, bytes] = {}

    def signed_checkpoint(self, size: int) -> str:
        """The log's checkpoint at ``size`` as a signed note."""
        return sign_checkpoint(Checkpoint(self.signer.name, size, self.tree.root_at(size)), self.signer)

    def read(self, path: str) -> tuple[bytes, str] | None:
        if path in self.overrides:
            return self.overrides[path], TEXT if path == "checkpoint" else BINARY
        if path == "checkpoint":
            return self.checkpoint.encode("utf-8"), TEXT
        if match := _HASH_TILE.fullmatch(path):
            level, index, width = int(match[1]), _index(match[2]), int(match[3] or 256)
            if level > 63 or not _served_width(tile_width(level, index, self.tree.size), width):
                return None
            if path != tile_path(level, index, width):  # e.g. leading zeros in the width
                return None
            return self.tree.tile(level, index)[: width * HASH_SIZE], BINARY
        if match := _ENTRY_BUNDLE.fullmatch(path):
            index, width = _index(match[1]), int(match[2] or 256)
            if not _served_width(tile_width(0, index, self.tree.size), width) or path != entries_path(index, width):
                return None
            return encode_entry_bundle(self.entries[index * 256 : index * 256 + width]), BINARY
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _Server

    def do_GET(self) -> None:
        prefix = self.server.prefix
        found = self.server.log.read(self.path[len(prefix) :]) if self.path.startswith(prefix) else None
        body, kind = found if found is not None else (b"not found\n", TEXT)
        self.send_response(200 if found is not None else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, log: LogFiles, prefix: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.log, self.prefix = log, prefix


class TlogServer:
    """Serve ``log`` at ``http://127.0.0.1:<free port>/log`` from a thread, as a context manager."""

    def __init__(self, log: LogFiles, prefix: str = "/log/") -> None:
        self._server = _Server(log, prefix)
        self._thread = threading.Thread(target=self._server.serve_forever, name="tlog-server", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{prefix.rstrip('/')}"

    def __enter__(self) -> TlogServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
