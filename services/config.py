"""Build each service's nameko config from environment variables, with embedded defaults."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from services.catalog import entry

# Development secrets: fine on one machine; production sets RELIEF_JWT_SECRET and RELIEF_PERSON_KEY.
DEV_JWT_SECRET = "relief-development-secret-do-not-use-in-production"
DEV_PERSON_KEY = "relief-development-person-key"
# AES-256 key (base64) that encrypts stored events on one machine.
DEV_CIPHER_KEY = "OjJzJoi/yAkOiEmgdsNWBqXxlWuqDpEP6Bqp8ZkUB4E="
# Ed25519 key (C2SP signer key) that signs the audit trail's checkpoints on one machine; its origin names
# the development log. Production sets RELIEF_AUDIT_SIGNING_KEY (`make audit-key` prints its verifier key).
DEV_AUDIT_SIGNING_KEY = "PRIVATE+KEY+relief-dev/audit+b2ad88bb+AS2QPZxPQko5Oww5Yu+Qz+Cza9f594mGwGKpSh6MyM5l"
MAX_BODY_BYTES = 1024 * 1024  # JSON request bodies; imports declare their own limit
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROXIED = ("intake", "pairing", "aid", "audit")
OIDC_SETTINGS = ("OIDC_ISSUER", "OIDC_JWKS", "OIDC_AUDIENCE", "OIDC_USER_CLAIM", "OIDC_ROLE_CLAIM",
                 "OIDC_FEDERATION_CLAIM")  # the services the gateway serves under /api/<service>/


def data_dir(env: Mapping[str, str] = os.environ) -> str:
    return os.path.abspath(env.get("RELIEF_DATA_DIR", "var"))


def service_config(service: str, env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Return the config of one service: where it listens, stores events and exchanges them."""
    data = data_dir(env)
    upper = service.upper()
    return {
        "SERVICE": service,
        "WEB_SERVER_ADDRESS": env.get(f"RELIEF_{upper}_ADDRESS", f"127.0.0.1:{entry(service).port}"),
        "STORE_URL": env.get(f"RELIEF_{upper}_STORE", f"sqlite:///{data}/{service}.db"),
        "TRANSPORT_URL": env.get("RELIEF_TRANSPORT", f"embedded:///{data}/bus.db"),
        "JWT_SECRET": env.get("RELIEF_JWT_SECRET", DEV_JWT_SECRET),
        "PERSON_KEY": env.get("RELIEF_PERSON_KEY", DEV_PERSON_KEY),
        "CIPHER_KEY": env.get(f"RELIEF_{upper}_CIPHER_KEY", env.get("RELIEF_CIPHER_KEY", DEV_CIPHER_KEY)),
        # Kafka static member id, only when the supervisor names the replica stably (a StatefulSet pod name):
        # a restarted replica then gets its partitions back at once. Unset, members are dynamic: a process
        # that dies is replaced after the session timeout, and two processes can never fence each other.
        "INSTANCE_ID": env.get(f"RELIEF_{upper}_INSTANCE") or None,
        # Who holds the outbox relay's lease: the named replica, else unique per process.
        "REPLICA_ID": env.get(f"RELIEF_{upper}_INSTANCE") or f"{service}-{socket.gethostname()}-{os.getpid()}",
        # Audit: the checkpoint signing key, and a checkpoint at least every N entries or T seconds.
        "AUDIT_SIGNING_KEY": env.get("RELIEF_AUDIT_SIGNING_KEY", DEV_AUDIT_SIGNING_KEY),
        "AUDIT_CHECKPOINT_ENTRIES": int(env.get("RELIEF_AUDIT_CHECKPOINT_ENTRIES", "1000")),
        "AUDIT_CHECKPOINT_SECONDS": float(env.get("RELIEF_AUDIT_CHECKPOINT_SECONDS", "10")),
        "MAX_BODY_BYTES": int(env.get("RELIEF_MAX_BODY_BYTES", str(MAX_BODY_BYTES))),
        "COMMIT": env.get("RELIEF_COMMIT", "unknown"),
        # Pairing: how long follow-up visits (回访) are due after an exit, and the coverage report's
        # "paired within N days of filing".
        "PAIRING_FOLLOW_UP_MONTHS": env.get("RELIEF_PAIRING_FOLLOW_UP_MONTHS", "12"),
        "PAIRING_PAIRED_WITHIN_DAYS": env.get("RELIEF_PAIRING_PAIRED_WITHIN_DAYS", "15"),
        "max_workers": int(env.get("RELIEF_MAX_WORKERS", "50")),
        # Gateway: where each service's replicas answer (comma-separated base URLs), the built console,
        # the access tokens' lifetime, and the demo accounts (`make run` only).
        "UPSTREAMS": {name: upstream_urls(name, env) for name in PROXIED},
        "CONSOLE_DIR": os.path.abspath(env.get("RELIEF_CONSOLE_DIR", os.path.join(ROOT, "console", "dist"))),
        "ACCESS_TOKEN_SECONDS": setting(env, "RELIEF_ACCESS_TOKEN_SECONDS", 900, 60, 3600),
        # "1": open them (refused with production secrets); "auto" (`make run`): only on development secrets.
        "DEMO_USERS": env.get("RELIEF_DEMO_USERS", ""),
        # An OpenID Connect provider whose tokens every service accepts too (services/web/oidc.py).
        **{name: env.get(f"RELIEF_{name}", "") for name in OIDC_SETTINGS},
    }


def upstream_urls(service: str, env: Mapping[str, str]) -> list[str]:
    """RELIEF_GATEWAY_<SERVICE>_URLS, else the service on this machine (`make run`)."""
    listed = env.get(f"RELIEF_GATEWAY_{service.upper()}_URLS", f"http://127.0.0.1:{entry(service).port}")
    return [url.strip().rstrip("/") for url in listed.split(",") if url.strip()]


def setting(env: Any, name: str, default: int, least: int, most: int) -> int:
    """A whole-number setting of a service, refused at start (not at the first query) if it is not one."""
    text = str(env.get(name) or default)
    if not text.isascii() or not text.isdigit() or not least <= int(text) <= most:
        raise ValueError(f"{name} must be a whole number from {least} to {most}, not {text!r}")
    return int(text)


SECRETS = ("JWT_SECRET", "PERSON_KEY", "CIPHER_KEY", "AUDIT_SIGNING_KEY")
DEV_SECRETS = (DEV_JWT_SECRET, DEV_PERSON_KEY, DEV_CIPHER_KEY, DEV_AUDIT_SIGNING_KEY)
# What each service uses of the secrets, and so all a process of it is given (the stack, k8s/): every service
# signs or checks tokens and encrypts its store; only intake computes ID numbers' digests, only audit signs
# checkpoints.
COMMON_SECRETS = ("JWT_SECRET", "CIPHER_KEY")
OWN_SECRETS = {"intake": ("PERSON_KEY",), "audit": ("AUDIT_SIGNING_KEY",)}


def secrets_of(service: str) -> tuple[str, ...]:
    """The secrets the service uses (names as in its config; the variables are RELIEF_<name>)."""
    return COMMON_SECRETS + OWN_SECRETS.get(service, ())


def uses_dev_secrets(config: Mapping[str, Any]) -> bool:
    """True if a secret the service uses is a development one (a warning at start); the keys it never uses
    are not given to it past one machine, and fall back to the development ones unseen."""
    return any(config[key] in DEV_SECRETS for key in secrets_of(str(config["SERVICE"])))


def only_dev_secrets(config: Mapping[str, Any]) -> bool:
    """True if no production secret is set: the embedded default, where demo accounts are allowed."""
    return all(config[key] in DEV_SECRETS for key in SECRETS)


def demo_accounts_asked(config: Mapping[str, Any]) -> bool:
    """RELIEF_DEMO_USERS is 1 or auto (`make run`)."""
    return config.get("DEMO_USERS") in ("1", "auto")


def demo_accounts_open(config: Mapping[str, Any]) -> bool:
    """The gateway opens the demo accounts: asked for, and no production secret set."""
    return demo_accounts_asked(config) and only_dev_secrets(config)
