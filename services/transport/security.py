"""Read a Kafka transport URL and the RELIEF_KAFKA_* variables into the settings of every kafka-python client.

The URL says how to reach the brokers (`kafka://b1:9093,b2:9093?security=sasl_ssl&mechanism=SCRAM-SHA-512`);
the secrets and files come from variables, so the URL, which is printed at start and kept in a ConfigMap,
never holds a password. A wrong setting is refused when the transport is made, naming the URL parameter or
the variable, and no message ever quotes a password.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

URL = "RELIEF_TRANSPORT"
USERNAME = "RELIEF_KAFKA_USERNAME"
PASSWORD = "RELIEF_KAFKA_PASSWORD"
PASSWORD_FILE = "RELIEF_KAFKA_PASSWORD_FILE"  # a mounted secret, read once at start
CA_FILE = "RELIEF_KAFKA_CA_FILE"  # PEM; unset, the system's trusted CAs
CERT_FILE = "RELIEF_KAFKA_CERT_FILE"  # PEM, with KEY_FILE (unencrypted PEM key): a client certificate for mTLS
KEY_FILE = "RELIEF_KAFKA_KEY_FILE"
PROTOCOLS = {"plaintext": "PLAINTEXT", "ssl": "SSL", "sasl_ssl": "SASL_SSL"}
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
PARAMETERS = ("replication", "security", "mechanism")


class KafkaSettingError(ValueError):
    """The transport URL or a RELIEF_KAFKA_* variable cannot be used; the message says which and why."""


class Password(str):
    """A password whose repr is `'***'`: kafka-python logs its whole configuration at debug level."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client proves itself to the brokers and checks that they are the brokers: the same for every client."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: Password | None = field(default=None, repr=False)
    tls: ssl.SSLContext | None = field(default=None, repr=False, compare=False)  # verifies the brokers' names

    def client_settings(self) -> dict[str, Any]:
        """The keyword arguments of KafkaProducer, KafkaConsumer and KafkaAdminClient for this security."""
        settings: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls is not None:
            settings["ssl_context"] = self.tls
        if self.mechanism is not None:
            settings.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                            sasl_plain_password=self.password)
        return settings


PLAINTEXT = KafkaSecurity()


@dataclass(frozen=True)
class KafkaEndpoint:
    """Where the brokers are, the replication of the topics a service creates, and the security to use."""

    bootstrap: str
    replication: int = 1
    security: KafkaSecurity = PLAINTEXT


def kafka_endpoint(url: str, env: Mapping[str, str]) -> KafkaEndpoint:
    """Read `kafka://host:port[,host:port][?replication=N][&security=…][&mechanism=…]` and the variables it needs."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise KafkaSettingError(f"{URL} must not hold a user or password: set {USERNAME} and {PASSWORD} "
                                f"(or {PASSWORD_FILE})")
    if not parts.netloc:
        raise KafkaSettingError(f"{URL} names no broker: use kafka://host:port[,host:port]")
    query = _query(parts.query)
    protocol = _protocol(query.get("security", "plaintext"))
    mechanism = query.get("mechanism")
    if mechanism is not None and protocol != "SASL_SSL":
        raise KafkaSettingError(f"{URL} gives mechanism={mechanism} without security=sasl_ssl")
    if protocol == "SASL_SSL":
        security = _sasl_ssl(_mechanism(mechanism or MECHANISMS[0]), env)
    elif protocol == "SSL":
        _refuse_set(env, (USERNAME, PASSWORD, PASSWORD_FILE), "security=ssl sends no login")
        security = KafkaSecurity("SSL", tls=_tls(env))
    else:
        _refuse_set(env, (USERNAME, PASSWORD, PASSWORD_FILE, CA_FILE, CERT_FILE, KEY_FILE),
                    "the transport would connect in plaintext (add ?security=sasl_ssl or ssl)")
        security = PLAINTEXT
    return KafkaEndpoint(parts.netloc, _replication(query.get("replication", "1")), security)


def _query(text: str) -> dict[str, str]:
    try:
        query = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise KafkaSettingError(f"{URL} has a malformed query string") from None
    unknown = sorted(set(query) - set(PARAMETERS))
    if unknown:
        raise KafkaSettingError(f"{URL} has unknown parameter(s) {', '.join(unknown)}: use {', '.join(PARAMETERS)}")
    repeated = sorted(name for name, values in query.items() if len(values) > 1)
    if repeated:
        raise KafkaSettingError(f"{URL} gives {', '.join(repeated)} more than once")
    return {name: values[0] for name, values in query.items()}


def _protocol(text: str) -> str:
    if text.lower() == "sasl_plaintext":
        raise KafkaSettingError(f"{URL}: security=sasl_plaintext is not supported (events carry personal data "
                                f"in clear): use sasl_ssl")
    if text.lower() not in PROTOCOLS:
        raise KafkaSettingError(f"{URL} has unknown security={text!r}: use {', '.join(PROTOCOLS)}")
    return PROTOCOLS[text.lower()]


def _mechanism(text: str) -> str:
    if text.upper() not in MECHANISMS:
        raise KafkaSettingError(f"{URL} has unknown mechanism={text!r}: use {' or '.join(MECHANISMS)}")
    return text.upper()


def _replication(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise KafkaSettingError(f"{URL} has replication={text!r}: it must be a whole number of at least 1")
    return int(text)


def _sasl_ssl(mechanism: str, env: Mapping[str, str]) -> KafkaSecurity:
    username = _variable(env, USERNAME)
    if username is None:
        raise KafkaSettingError(f"{USERNAME} is not set: security=sasl_ssl logs in as a SCRAM user")
    return KafkaSecurity("SASL_SSL", mechanism, username, _password(env), _tls(env))


def _password(env: Mapping[str, str]) -> Password:
    given, path = _variable(env, PASSWORD), _variable(env, PASSWORD_FILE)
    if given is not None and path is not None:
        raise KafkaSettingError(f"both {PASSWORD} and {PASSWORD_FILE} are set: set one")
    if path is not None:
        try:
            with open(path, encoding="utf-8") as file:
                given = file.read().removesuffix("\n").removesuffix("\r")  # what `echo` or an editor adds
        except (OSError, UnicodeError) as exc:
            raise KafkaSettingError(f"{PASSWORD_FILE}={path} cannot be read: {_reason(exc)}") from None
    if not given:
        source = f"{PASSWORD_FILE}={path} is empty" if path is not None else f"{PASSWORD} is not set"
        raise KafkaSettingError(f"{source}: security=sasl_ssl needs the SCRAM user's password")
    return Password(given)


def _tls(env: Mapping[str, str]) -> ssl.SSLContext:
    """A context that trusts the CA file (else the system's CAs) and checks each broker's host name."""
    ca = _variable(env, CA_FILE)
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSettingError(f"{CA_FILE}={ca} is not a readable PEM CA certificate: {_reason(exc)}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    cert, key = _variable(env, CERT_FILE), _variable(env, KEY_FILE)
    if (cert is None) != (key is None):
        raise KafkaSettingError(f"{CERT_FILE} and {KEY_FILE} go together: set both for mutual TLS, or neither")
    if cert is not None:
        try:
            context.load_cert_chain(cert, key, password=_encrypted_key)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSettingError(f"{CERT_FILE}={cert} with {KEY_FILE}={key} is not a certificate and its "
                                    f"unencrypted key: {_reason(exc)}") from None
    return context


def _refuse_set(env: Mapping[str, str], names: tuple[str, ...], why: str) -> None:
    given = [name for name in names if _variable(env, name) is not None]
    if given:
        raise KafkaSettingError(f"{', '.join(given)} set, but {URL} does not use it: {why}")


def _variable(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value; set to nothing (as an optional key of a Kubernetes Secret can be) is unset."""
    return env.get(name) or None


def _encrypted_key() -> str:
    """Refuse a key that needs a passphrase, instead of letting OpenSSL ask for one on a terminal."""
    raise KafkaSettingError(f"{KEY_FILE} is encrypted: give the key unencrypted (a mounted secret)")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
