"""Turn one store URL into the eventsourcing settings of a service's application."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


class StoreURLError(ValueError):
    """The store URL names no backend this system supports."""


def store_env(url: str, cipher_key: str | None = None) -> dict[str, str]:
    """Return the settings for `memory://`, `sqlite:///rel/path.db` or `postgresql://user:pw@host:port/db`.

    A cipher key encrypts every stored event (AES-GCM) so personal data is not readable on disk.
    """
    parts = urlsplit(url)
    env: dict[str, str]
    if parts.scheme == "memory":
        env = {"PERSISTENCE_MODULE": "services.eventstore.memory:MemoryIndexedFactory"}
    elif parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path:
            raise StoreURLError(f"sqlite URL must look like sqlite:///path/to/file.db, got {url!r}")
        env = {
            "PERSISTENCE_MODULE": "services.eventstore.sqlite:SQLiteIndexedFactory",
            # As in SQLAlchemy: sqlite:///var/x.db is relative, sqlite:////tmp/x.db absolute.
            "SQLITE_DBNAME": path[1:],
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    elif parts.scheme in ("postgresql", "postgres"):
        env = {
            "PERSISTENCE_MODULE": "services.eventstore.postgres:PostgresIndexedFactory",
            "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or ""),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "POSTGRES_POOL_SIZE": "5",
            # A request waits at most this long for a pooled connection before it is refused (503).
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_LIBPQ_CONNECT_TIMEOUT": "3",
            "POSTGRES_STATEMENT_TIMEOUT_MS": "10000",
            # Let a broken connection be replaced instead of failing every request that draws it.
            "POSTGRES_PRE_PING": "y",
        }
    else:
        raise StoreURLError(f"unsupported store URL scheme {parts.scheme!r} in {url!r}")
    if cipher_key:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = cipher_key
    return env
