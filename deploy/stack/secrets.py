"""The stack's secrets, generated once into `secrets/` (mode 600) and never again.

The person key and the cipher key must never change once data exists (docs/operations.md, "The cipher key
and the person key"), so a file that exists is always kept; deleting `secrets/` while the data stays would
make every stored event unreadable.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.audit.note import generate_key
from services.catalog import names
from services.config import secrets_of

AUDIT_ORIGIN = "relief-stack/audit"  # the name of the trail's log, in its checkpoints and its verifier key


@dataclass(frozen=True)
class Secrets:
    jwt_secret: str
    person_key: str
    cipher_key: str
    audit_signing_key: str
    passwords: dict[str, str]  # the PostgreSQL password of each service's role

    def given_to(self, service: str) -> dict[str, str]:
        """The variables of the secrets the service uses, and no others (services/config.py, secrets_of)."""
        return {f"RELIEF_{name}": getattr(self, name.lower()) for name in secrets_of(service)}


def _generators() -> dict[str, Callable[[], str]]:
    made: dict[str, Callable[[], str]] = {
        "jwt-secret": lambda: secrets.token_urlsafe(48),
        "person-key": lambda: secrets.token_urlsafe(48),
        "cipher-key": lambda: base64.b64encode(os.urandom(32)).decode(),  # AES-256
        "audit-signing-key": lambda: generate_key(AUDIT_ORIGIN)[0],
    }
    for service in names():
        made[f"postgres-{service}"] = lambda: secrets.token_hex(24)  # URL-safe as it is in a store URL
    return made


def _read_or_make(path: Path, make: Callable[[], str]) -> str:
    """The file's secret, written first (created exclusively, mode 600) if it does not exist."""
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(make() + "\n")
        os.replace(tmp, path)  # a crash leaves no half-written secret behind
    return path.read_text().strip()


def ensure(directory: Path) -> Secrets:
    """Read the stack's secrets, generating the missing ones."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    values = {name: _read_or_make(directory / name, make) for name, make in _generators().items()}
    return Secrets(
        jwt_secret=values["jwt-secret"],
        person_key=values["person-key"],
        cipher_key=values["cipher-key"],
        audit_signing_key=values["audit-signing-key"],
        passwords={service: values[f"postgres-{service}"] for service in names()},
    )


def jwt_secret(directory: Path) -> str | None:
    """The stack's JWT secret, if the stack has one (for `make token`; never generates)."""
    path = directory / "jwt-secret"
    return path.read_text().strip() if path.exists() else None
