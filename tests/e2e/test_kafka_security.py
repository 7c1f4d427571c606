"""Kafka with TLS, SCRAM logins and ACLs: services with credentials work end to end; anyone else is refused."""

import contextlib
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError, TopicAuthorizationFailedError

from services.contracts.topics import INTAKE_TOPIC, TOPICS
from services.transport.security import CA_FILE, PASSWORD, PASSWORD_FILE, USERNAME
from tests.e2e.flows import FILED_HISTORY, file_case, history, wait_for
from tests.harness.services import ProcessSystem, environment

pytestmark = pytest.mark.kafka

AID_TOPIC = TOPICS["aid"]
REFUSED_WITHIN_MS = 3000  # a refused client gives up bootstrapping after this


def transport_url(broker, mechanism: str = "SCRAM-SHA-512") -> str:
    return f"kafka://{broker.bootstrap}?security=sasl_ssl&mechanism={mechanism}"


class BrokerLog:
    """What the broker logs from now on: the reason it gives for refusing a client."""

    def __init__(self, broker):
        self.path = broker.log_path
        self.start = self.path.stat().st_size

    def since(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace")


@pytest.fixture
def system(secure_kafka, tmp_path):
    running = ProcessSystem(environment(tmp_path, transport=transport_url(secure_kafka)))
    running.env[CA_FILE] = str(secure_kafka.ca_file)
    yield running
    running.stop()


def password_file(tmp_path, broker, user: str) -> str:
    path = tmp_path / f"{user}.password"
    path.write_text(broker.passwords[user] + "\n")  # as `echo` writes it
    path.chmod(0o600)
    return str(path)


def intake_lags(system) -> list[str]:
    text = system.client("audit", role=None).get("/metrics").text
    return [line for line in text.splitlines()
            if line.startswith("relief_consumer_lag_messages{") and INTAKE_TOPIC in line]


def fetched(settings, partition: TopicPartition) -> list[bytes]:
    """Every message of one partition, read from its start by a consumer in no group."""
    consumer = KafkaConsumer(**settings, enable_auto_commit=False)
    try:
        end = consumer.end_offsets([partition], timeout_ms=5000)[partition]  # the ListOffsets request is authorized
        consumer.assign([partition])
        consumer.seek(partition, 0)
        values: list[bytes] = []
        deadline = time.monotonic() + 10
        while len(values) < end and time.monotonic() < deadline:
            values += [record.value for record in consumer.poll(timeout_ms=5000).get(partition, [])]
        return values
    finally:
        consumer.close()


def topics_seen(**settings) -> set[str]:
    consumer = KafkaConsumer(bootstrap_timeout_ms=REFUSED_WITHIN_MS, **settings)
    try:
        return consumer.topics()
    finally:
        consumer.close()


def test_a_case_filed_through_the_api_reaches_audit_over_tls_with_each_service_logged_in(system, secure_kafka,
                                                                                          tmp_path):
    # intake reads its password from a mounted file and logs in with SCRAM-SHA-512; audit gets it from a
    # variable and uses SCRAM-SHA-256. Both log at debug level, where kafka-python prints its configuration.
    system.start("intake", extra={USERNAME: "intake", PASSWORD_FILE: password_file(tmp_path, secure_kafka, "intake"),
                                  "RELIEF_LOG_LEVEL": "DEBUG"})
    system.start("audit", extra={USERNAME: "audit", PASSWORD: secure_kafka.passwords["audit"],
                                 "RELIEF_TRANSPORT": transport_url(secure_kafka, "SCRAM-SHA-256"),
                                 "RELIEF_LOG_LEVEL": "DEBUG"})
    case_id = file_case(system)
    assert [e["type"] for e in history(system, case_id, len(FILED_HISTORY))] == FILED_HISTORY
    wait_for(lambda: intake_lags(system) and all(line.endswith(" 0.0") for line in intake_lags(system)), 10,
             "audit's lag client (in no group) reporting the intake topic caught up")
    for service in ("intake", "audit"):
        ready = system.client(service, role=None).get("/ready")
        assert ready.status_code == 200, ready.text
        log = system.log(service)
        assert "'sasl_plain_password': '***'" in log  # kafka-python logged its configuration, masked
        for password in secure_kafka.passwords.values():
            assert password not in ready.text and password not in log


def test_a_service_misconfigured_for_tls_exits_at_start_naming_the_variable(system, secure_kafka):
    system.env[CA_FILE] = "/nonexistent/ca.pem"
    with contextlib.suppress(RuntimeError):  # it may die before /health answers, or just after
        system.start("intake", extra={USERNAME: "intake", PASSWORD: secure_kafka.passwords["intake"]})
    assert system.wait_exit("intake", 30) == 1
    log = system.log("intake")
    assert f"{CA_FILE}=/nonexistent/ca.pem is not a readable PEM CA certificate" in log
    assert secure_kafka.passwords["intake"] not in log


def test_a_client_without_credentials_is_refused_in_plaintext_and_over_tls(secure_kafka):
    assert INTAKE_TOPIC in topics_seen(**secure_kafka.client_config("audit"))  # the same client, logged in
    broker_log = BrokerLog(secure_kafka)
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        topics_seen(bootstrap_servers=secure_kafka.bootstrap)
    assert "Failed authentication with /127.0.0.1" in broker_log.since()
    assert "(SSL handshake failed)" in broker_log.since()

    broker_log = BrokerLog(secure_kafka)
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        topics_seen(bootstrap_servers=secure_kafka.bootstrap, security_protocol="SSL",
                    ssl_cafile=str(secure_kafka.ca_file))
    assert "Unexpected Kafka request of type METADATA during SASL handshake" in broker_log.since()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_a_client_with_a_wrong_password_is_refused(secure_kafka, mechanism):
    assert INTAKE_TOPIC in topics_seen(**secure_kafka.client_config("audit", mechanism=mechanism))
    broker_log = BrokerLog(secure_kafka)
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        topics_seen(**secure_kafka.client_config("audit", password="not-the-password", mechanism=mechanism))
    # The client sees only closed connections (kafka-python retries until its timeout); the broker says why.
    assert f"invalid credentials with SASL mechanism {mechanism}" in broker_log.since()


def test_a_user_without_an_acl_for_a_topic_cannot_read_it(secure_kafka):
    admin = KafkaProducer(**secure_kafka.client_config())
    admin.send(AID_TOPIC, key=b"k", value=b"a payment", partition=0).get(10)
    admin.send(INTAKE_TOPIC, key=b"k", value=b"a case", partition=0).get(10)
    admin.close()
    assert b"a payment" in fetched(secure_kafka.client_config(), TopicPartition(AID_TOPIC, 0))  # it is there
    pairing = secure_kafka.client_config("pairing")  # pairing reads intake's topic, never aid's
    # (other tests on this broker may have written to intake's partition before: look for this message)
    assert b"a case" in fetched(pairing, TopicPartition(INTAKE_TOPIC, 0))
    with pytest.raises(TopicAuthorizationFailedError, match=AID_TOPIC):
        fetched(pairing, TopicPartition(AID_TOPIC, 0))


def test_a_user_cannot_write_another_services_topic_nor_join_its_group(secure_kafka):
    audit = KafkaProducer(**secure_kafka.client_config("audit"), max_block_ms=REFUSED_WITHIN_MS)
    try:
        with pytest.raises(TopicAuthorizationFailedError, match=INTAKE_TOPIC):
            audit.send(INTAKE_TOPIC, key=b"k", value=b"forged").get(10)
    finally:
        audit.close()
    pairing = KafkaConsumer(INTAKE_TOPIC, **secure_kafka.client_config("pairing"), group_id="audit",
                            consumer_timeout_ms=REFUSED_WITHIN_MS)
    try:
        with pytest.raises(GroupAuthorizationFailedError, match="audit"):
            list(pairing)
    finally:
        pairing.close()
