"""Password hashes (argon2id, argon2-cffi's defaults: RFC 9106's second choice), computed off the hub.

Hashing takes tens of milliseconds of CPU and 64 MiB; it runs in eventlet's thread pool so that the web
server's green threads (health, other requests) go on meanwhile.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventlet import tpool

HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return str(tpool.execute(HASHER.hash, password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(tpool.execute(HASHER.verify, password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@cache
def unknown_hash() -> str:
    """A hash no password matches in practice, checked for unknown logins so they take as long as known ones."""
    return HASHER.hash("no account has this password: a login that does not exist")
