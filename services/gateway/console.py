"""Serve the built console (console/dist): a file if there is one, else index.html (the app's own routes).

Hashed assets (`assets/…`) are cached for a year, everything else revalidated; text files go gzip-compressed
to a browser that accepts it (compressed once per file version and kept). Every page carries the headers a
console of personal data should: same-origin only, never framed by another site, no type sniffing.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from pathlib import Path

from nameko.web.handlers import HttpRequestHandler
from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from services.metrics import HTTP_REQUESTS
from services.web.entrypoint import CountingWebServer
from services.web.errors import error_response, json_response

mimetypes.add_type("application/javascript", ".js")
mimetypes.add_type("image/svg+xml", ".svg")
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".txt", ".map")
IMMUTABLE = "public, max-age=31536000, immutable"
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'"


class ConsoleFiles(HttpRequestHandler):
    """GET / and any path that is not an API: answered by the entrypoint itself, never by a worker."""

    server = CountingWebServer()

    def handle_request(self, request: Request) -> Response:
        path = request.path_values.get("path", "")  # type: ignore[attr-defined]
        try:
            response = console_response(Path(self.container.config["CONSOLE_DIR"]), path, request)
        except Exception as exc:  # logged as the bug it is
            response = error_response(exc, {})
        HTTP_REQUESTS.labels("gateway", request.method, "/console", str(response.status_code)).inc()
        return response


def console_response(root: Path, path: str, request: Request) -> Response:
    if not (root / "index.html").is_file():
        return json_response(404, {"error": "not_found", "fields": {},
                                   "message": "the console is not built here: run `make console`"})
    if path.startswith("api/"):  # a service that is not proxied: no page, but a JSON 404
        return json_response(404, {"error": "not_found", "message": "no such route", "fields": {}})
    found = safe_join(str(root), path) if path else None
    if found is not None and Path(found).is_file() and path != "index.html":
        return secured(file_response(Path(found), request, IMMUTABLE if path.startswith("assets/") else "no-cache"))
    if path.startswith("assets/") or "." in path.rsplit("/", 1)[-1]:  # a file that is not there
        return json_response(404, {"error": "not_found", "message": f"no file {path}", "fields": {}})
    return secured(file_response(root / "index.html", request, "no-cache"))


def file_response(file: Path, request: Request, cache_control: str) -> Response:
    stat = file.stat()
    mimetype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    gzipped = file.suffix in COMPRESSIBLE and "gzip" in request.headers.get("Accept-Encoding", "")
    body = compressed(file, stat.st_mtime_ns, stat.st_size) if gzipped else file.read_bytes()
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = cache_control
    response.headers["Vary"] = "Accept-Encoding"
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(f"{stat.st_mtime_ns:x}-{stat.st_size:x}{'-gz' if gzipped else ''}")
    response.last_modified = stat.st_mtime  # type: ignore[assignment]
    return response.make_conditional(request)


_compressed: dict[tuple[str, int, int], bytes] = {}
_lock = threading.Lock()


def compressed(file: Path, mtime_ns: int, size: int) -> bytes:
    key = (str(file), mtime_ns, size)
    with _lock:
        known = _compressed.get(key)
    if known is None:
        known = gzip.compress(file.read_bytes(), compresslevel=6, mtime=0)
        with _lock:
            if len(_compressed) > 2000:  # a rebuilt console leaves old versions behind
                _compressed.clear()
            _compressed[key] = known
    return known


def secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
