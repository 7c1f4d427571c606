"""The Kafka transport URL and the RELIEF_KAFKA_* variables: each good form, and each bad one refused by name."""

import ssl
import subprocess

import pytest

import services.transport.kafka as kafka_module
from services.transport.factory import forget, transport_for
from services.transport.kafka import KafkaTransport
from services.transport.security import (
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    PASSWORD,
    PASSWORD_FILE,
    USERNAME,
    KafkaSettingError,
    kafka_endpoint,
)
from tests.harness.kafka_broker import make_certificates

SASL = "kafka://b1:9093,b2:9093?security=sasl_ssl"
SECRET = "s3cret-pa55word"
LOGIN = {USERNAME: "intake", PASSWORD: SECRET}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A CA and a certificate with its key (PEM), an encrypted key, a file that is no PEM, a password file."""
    directory = tmp_path_factory.mktemp("kafka-tls") / "tls"
    make_certificates(directory)
    subprocess.run(["openssl", "pkcs8", "-topk8", "-in", "broker.key", "-out", "encrypted.key", "-passout",
                    "pass:key-secret"], cwd=directory, check=True, capture_output=True)
    (directory / "not.pem").write_text("not a certificate\n")
    (directory / "password").write_text(SECRET + "\n")
    (directory / "empty").write_text("\n")
    return directory


def test_a_plain_url_gives_its_brokers_and_replication_and_connects_in_plaintext():
    endpoint = kafka_endpoint("kafka://b1:9092,b2:9092?replication=3", {})
    assert (endpoint.bootstrap, endpoint.replication) == ("b1:9092,b2:9092", 3)
    assert endpoint.security.client_settings() == {"security_protocol": "PLAINTEXT"}
    assert kafka_endpoint("kafka://b1:9092", {}).replication == 1


def test_ssl_trusts_the_ca_file_and_checks_every_brokers_host_name(tls):
    endpoint = kafka_endpoint("kafka://b1:9093?security=SSL", {CA_FILE: str(tls / "ca.pem")})
    settings = endpoint.security.client_settings()
    context = settings.pop("ssl_context")
    assert settings == {"security_protocol": "SSL"}
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert [dict(c["subject"][0])["commonName"] for c in context.get_ca_certs()] == ["relief-test-ca"]


def test_ssl_without_a_ca_file_trusts_the_systems_cas():
    context = kafka_endpoint("kafka://b1:9093?security=ssl", {CA_FILE: ""}).security.tls
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_ssl_logs_in_with_scram_sha_512_unless_told_otherwise(tls):
    settings = kafka_endpoint(SASL, {**LOGIN, CA_FILE: str(tls / "ca.pem")}).security.client_settings()
    assert isinstance(settings.pop("ssl_context"), ssl.SSLContext)
    assert settings == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                        "sasl_plain_username": "intake", "sasl_plain_password": SECRET}
    sha256 = kafka_endpoint(f"{SASL}&mechanism=scram-sha-256", LOGIN).security
    assert sha256.mechanism == "SCRAM-SHA-256"


def test_the_password_may_come_from_a_mounted_file_without_its_final_newline(tls):
    security = kafka_endpoint(SASL, {USERNAME: "intake", PASSWORD_FILE: str(tls / "password"), PASSWORD: ""}).security
    assert security.password == SECRET


def test_a_client_certificate_and_its_key_are_loaded_for_mutual_tls(tls):
    env = {CA_FILE: str(tls / "ca.pem"), CERT_FILE: str(tls / "broker.crt"), KEY_FILE: str(tls / "broker.key")}
    assert kafka_endpoint("kafka://b1:9093?security=ssl", env).security.tls is not None


def test_no_password_shows_in_a_repr_of_the_settings_or_of_kafka_pythons_configuration():
    endpoint = kafka_endpoint(SASL, LOGIN)
    settings = endpoint.security.client_settings()
    assert SECRET not in repr(endpoint) and SECRET not in str(settings) and SECRET not in f"{settings}"
    assert settings["sasl_plain_password"].encode() == SECRET.encode()  # what SCRAM hashes


BAD = [
    ("kafka://intake:s3cret-pa55word@b1:9093?security=sasl_ssl", {},
     f"RELIEF_TRANSPORT must not hold a user or password: set {USERNAME} and {PASSWORD}"),
    ("kafka://", {}, "RELIEF_TRANSPORT names no broker"),
    ("kafka://b1:9093?sasl=scram", {}, "RELIEF_TRANSPORT has unknown parameter(s) sasl: use replication, security"),
    ("kafka://b1:9093?security=ssl&security=sasl_ssl", {}, "RELIEF_TRANSPORT gives security more than once"),
    ("kafka://b1:9093?replication=0", {}, "RELIEF_TRANSPORT has replication='0': it must be a whole number"),
    ("kafka://b1:9093?replication=three", {}, "replication='three'"),
    ("kafka://b1:9093?security=tls", {}, "RELIEF_TRANSPORT has unknown security='tls': use plaintext, ssl, sasl_ssl"),
    ("kafka://b1:9093?security=sasl_plaintext", LOGIN, "security=sasl_plaintext is not supported"),
    (f"{SASL}&mechanism=PLAIN", LOGIN, "unknown mechanism='PLAIN': use SCRAM-SHA-512 or SCRAM-SHA-256"),
    ("kafka://b1:9093?mechanism=SCRAM-SHA-512", {}, "gives mechanism=SCRAM-SHA-512 without security=sasl_ssl"),
    (SASL, {PASSWORD: SECRET}, f"{USERNAME} is not set: security=sasl_ssl logs in as a SCRAM user"),
    (SASL, {USERNAME: "intake"}, f"{PASSWORD} is not set: security=sasl_ssl needs the SCRAM user's password"),
    (SASL, {**LOGIN, PASSWORD_FILE: "{tls}/password"}, f"both {PASSWORD} and {PASSWORD_FILE} are set"),
    (SASL, {USERNAME: "intake", PASSWORD_FILE: "/nonexistent/password"},
     f"{PASSWORD_FILE}=/nonexistent/password cannot be read: No such file or directory"),
    (SASL, {USERNAME: "intake", PASSWORD_FILE: "{tls}/empty"}, f"{PASSWORD_FILE}={{tls}}/empty is empty"),
    (SASL, {**LOGIN, CA_FILE: "/nonexistent/ca.pem"},
     f"{CA_FILE}=/nonexistent/ca.pem is not a readable PEM CA certificate: No such file or directory"),
    (SASL, {**LOGIN, CA_FILE: "{tls}/not.pem"}, f"{CA_FILE}={{tls}}/not.pem is not a readable PEM CA certificate"),
    (SASL, {**LOGIN, CERT_FILE: "{tls}/broker.crt"}, f"{CERT_FILE} and {KEY_FILE} go together"),
    (SASL, {**LOGIN, CERT_FILE: "{tls}/broker.crt", KEY_FILE: "{tls}/ca.key"},
     f"{CERT_FILE}={{tls}}/broker.crt with {KEY_FILE}={{tls}}/ca.key is not a certificate and its unencrypted key"),
    (SASL, {**LOGIN, CERT_FILE: "{tls}/broker.crt", KEY_FILE: "{tls}/encrypted.key"}, f"{KEY_FILE} is encrypted"),
    ("kafka://b1:9092", {USERNAME: "intake"},
     f"{USERNAME} set, but RELIEF_TRANSPORT does not use it: the transport would connect in plaintext"),
    ("kafka://b1:9092", {CA_FILE: "{tls}/ca.pem"}, f"{CA_FILE} set, but RELIEF_TRANSPORT does not use it"),
    ("kafka://b1:9093?security=ssl", {PASSWORD: SECRET}, f"{PASSWORD} set, but RELIEF_TRANSPORT does not use it: "
                                                         "security=ssl sends no login"),
]


@pytest.mark.parametrize(("url", "env", "message"), BAD, ids=[message[:60] for _, _, message in BAD])
def test_a_bad_url_or_variable_is_refused_naming_it_and_never_quoting_the_password(tls, url, env, message):
    env = {name: value.format(tls=tls) for name, value in env.items()}
    with pytest.raises(KafkaSettingError) as refused:
        kafka_endpoint(url, env)
    assert message.format(tls=tls) in str(refused.value)
    assert SECRET not in str(refused.value)


def test_the_factory_reads_the_variables_when_it_makes_a_kafka_transport(monkeypatch):
    monkeypatch.setenv(USERNAME, "audit")
    monkeypatch.setenv(PASSWORD, SECRET)
    url = "kafka://b1:9093?security=sasl_ssl&mechanism=SCRAM-SHA-256&replication=3"
    try:
        transport = transport_for(url)
        assert isinstance(transport, KafkaTransport)
        assert (transport.bootstrap, transport.replication) == (["b1:9093"], 3)
        assert (transport.security.username, transport.security.mechanism) == ("audit", "SCRAM-SHA-256")
    finally:
        forget(url)


def test_an_unsupported_transport_url_is_refused_without_quoting_it():
    with pytest.raises(ValueError) as refused:
        transport_for(f"kafka+sasl://intake:{SECRET}@b1:9093")
    assert str(refused.value).startswith("unsupported transport URL scheme 'kafka+sasl': use kafka://host:port")
    assert SECRET not in str(refused.value)


class Client:
    """Stands in for every kafka-python client: records what it was made with, knows no topic."""

    made: list[dict] = []

    def __init__(self, **settings):
        self.made.append(settings)

    def subscribe(self, topics, listener=None):
        """Joins no group."""

    def partitions_for_topic(self, topic):
        return set()

    def list_topics(self):
        return ["t"]

    def close(self, **kwargs):
        """Holds nothing."""


def test_every_client_the_transport_makes_gets_its_security(monkeypatch):
    for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient"):
        monkeypatch.setattr(kafka_module, name, Client)
    monkeypatch.setattr(Client, "made", [])
    transport = KafkaTransport("b1:9093", security=kafka_endpoint(SASL, LOGIN).security)
    transport.publisher()
    transport.subscribe("audit", ["t"], lambda topic, partition: None)
    transport.ensure_topics(["t"])
    transport.last_headers("t")
    with pytest.raises(LookupError, match="topic t has no partition"):  # these clients know no topic
        transport.end_offsets(["t"])
    assert len(Client.made) == 5
    for settings in Client.made:
        assert settings["security_protocol"] == "SASL_SSL" and settings["sasl_plain_password"] == SECRET
        assert isinstance(settings["ssl_context"], ssl.SSLContext) and settings["bootstrap_servers"] == ["b1:9093"]
