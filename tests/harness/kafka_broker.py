"""Throwaway single-node Kafka broker (KRaft) on loopback, so tests and benchmarks speak the real protocol.

Import this module only after eventlet.monkey_patch() when running under eventlet: kafka-python picks its
selector class at import time, and an unpatched one blocks the whole hub.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn, Self

from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, ResourcePattern, ResourceType

from services.catalog import entry, names, topics
from services.contracts.topics import DEAD_LETTER_TOPIC, PARTITIONS
from tests.harness.processes import terminate

KAFKA_DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
STARTED_LINE = "Kafka Server started"
PORT_TAKEN_LINE = "Address already in use"


def fetch_libs() -> Path:
    """Return the cached broker jar directory, fetching it from Maven Central on first use."""
    out = subprocess.run(
        ["bash", str(KAFKA_DEPLOY / "fetch-jars.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 3) -> None:
    """Create the missing topics and wait for their leaders, so a test never races auto-creation."""
    with KafkaAdminClient(bootstrap_servers=bootstrap, client_id="relief-harness") as admin:
        missing = set(names) - set(admin.list_topics())
        if missing:
            admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": 1} for name in missing},
                wait_for_metadata=True,
            )


def free_ports(count: int) -> list[int]:
    """Ask the kernel for distinct unused loopback ports, holding each open until all are chosen."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def cluster_id() -> str:
    """Make a Kafka-style random cluster id; one starting with '-' would be parsed as a StorageTool option."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


class KafkaBroker:
    """Start one combined broker+controller node whose state lives in a temp dir, and remove it on stop."""

    def __init__(self, partitions: int = 3, startup_timeout: float = 60.0, stop_timeout: float = 5.0):
        self.partitions = partitions
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.bootstrap: str | None = None
        self.tmpdir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        """The temp dir that holds the broker's configuration, data and log, while it exists."""
        assert self.tmpdir is not None, "the broker is not started"
        return self.tmpdir

    @property
    def log_path(self) -> Path:
        return self.home / "broker.log"

    def start(self) -> str:
        """Format storage, launch the JVM and block until a client gets answers; return the bootstrap address."""
        libs = fetch_libs()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="relief-kafka-"))
        atexit.register(self.stop)
        try:
            self._prepare()
            for _ in range(3):  # Someone may grab a free port before the JVM binds it.
                self._launch(libs)
                if self._wait_ready():
                    assert self.bootstrap is not None
                    return self.bootstrap
                self._reap()
            self._fail("Kafka broker could not bind free ports in 3 attempts")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the broker politely, kill it if it lingers, and delete its files; safe to call twice."""
        atexit.unregister(self.stop)
        self._reap()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def halt(self) -> None:
        """Kill the broker as a crash would, keeping its data and ports (resume() starts it again)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def resume(self) -> None:
        """Start the halted broker again on the same ports and data; return once a client gets answers."""
        assert self.tmpdir is not None and self.proc is None
        self._run(fetch_libs())
        if not self._wait_ready():
            self._fail("Kafka broker could not take its ports back")

    def client_config(self) -> dict[str, Any]:
        """The kafka-python settings that reach this broker (its administrator's, where there is one)."""
        return {"bootstrap_servers": self.bootstrap}

    def _prepare(self) -> None:
        """Make what the broker needs in its temp dir before the first launch (nothing, for plaintext)."""

    def _format_options(self) -> list[str]:
        """More options of `kafka-storage format` (none, for plaintext)."""
        return []

    def _launch(self, libs: Path) -> None:
        broker_port, controller_port = free_ports(2)
        self.bootstrap = f"127.0.0.1:{broker_port}"
        config = self.home / "server.properties"
        config.write_text(self._properties(broker_port, controller_port))
        shutil.rmtree(self.home / "data", ignore_errors=True)
        self.log_path.write_bytes(b"")
        jvm = self._jvm(libs)
        storage_format = ["kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(config),
                          *self._format_options()]
        formatted = subprocess.run(  # C1-only JIT: this JVM lives a second, and starts faster that way
            [*jvm, "-XX:TieredStopAtLevel=1", *storage_format],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if formatted.returncode:
            raise RuntimeError(f"Kafka storage format failed:\n{formatted.stdout}")
        self._run(libs)

    def _jvm(self, libs: Path) -> list[str]:
        return [self._java(), f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}", "-cp", f"{libs}/*"]

    def _run(self, libs: Path) -> None:
        config = self.home / "server.properties"
        jvm = self._jvm(libs)
        # setpriv: the kernel SIGTERMs the JVM if this process dies without calling stop().
        orphan_guard = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*orphan_guard, *jvm, "-Xms256m", "-Xmx512m", "kafka.Kafka", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.tmpdir, start_new_session=True,
            )

    def _properties(self, broker_port: int, controller_port: int) -> str:
        settings = self._settings(broker_port, controller_port)
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _settings(self, broker_port: int, controller_port: int) -> dict[str, object]:
        return {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.home / "data",
            "num.partitions": self.partitions,
            "auto.create.topics.enable": "true",
            "offsets.topic.num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.cleaner.dedupe.buffer.size": 2 * 1024 * 1024,  # must exceed 1 MiB per cleaner thread
        }

    @staticmethod
    def _java() -> str:
        home = os.environ.get("JAVA_HOME")
        return str(Path(home) / "bin" / "java") if home else "java"

    def _wait_ready(self) -> bool:
        """Wait for the started line and a client round-trip; False if a port was taken under us."""
        proc = self.proc
        assert proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            log = self.log_path.read_text(errors="replace")
            if proc.poll() is not None:
                if PORT_TAKEN_LINE in log:
                    return False
                self._fail(f"Kafka broker exited with code {proc.returncode}")
            if STARTED_LINE in log and self._answers():
                return True
            time.sleep(0.2)
        self._fail(f"Kafka broker not ready after {self.startup_timeout:.0f}s")

    def _answers(self) -> bool:
        try:
            with KafkaAdminClient(**self.client_config(), request_timeout_ms=5000) as admin:
                admin.list_topics()
            return True
        except Exception:
            return False

    def _reap(self) -> None:
        """SIGTERM the JVM, SIGKILL it after stop_timeout, and always wait for it."""
        if self.proc is None:
            return
        terminate(self.proc, self.stop_timeout)
        self.proc = None

    def _fail(self, reason: str) -> NoReturn:
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{reason}; broker log tail:\n{tail}")

SUPER_USER = "admin"
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
BROKER_SUBJECT = "CN=relief-test-broker"  # the broker's certificate, its principal on the controller listener
Grant = tuple[ResourceType, str, ACLOperation]


class SecureKafkaBroker(KafkaBroker):
    """A broker that serves clients only over TLS after a SCRAM login, and lets each user do what an ACL grants.

    Its one client listener (SASL_SSL) also carries the broker's own traffic as the super user `admin`; the
    controller listener takes TLS with a client certificate (the broker's), so no listener admits a client
    that has not proved who it is. The CA and the broker's certificate (for 127.0.0.1 and localhost) are
    made with openssl in the temp dir and read by Kafka as PEM stores; the users, each with a random
    password for both SCRAM mechanisms, are written into the metadata when the storage is formatted.
    """

    def __init__(self, users: Iterable[str] = (), **kwargs: Any):
        super().__init__(**kwargs)
        self.passwords = {name: secrets.token_urlsafe(18) for name in (SUPER_USER, *users)}

    @property
    def ca_file(self) -> Path:
        return self.home / "tls" / "ca.pem"

    def client_config(self, user: str = SUPER_USER, password: str | None = None,
                      mechanism: str = SCRAM_MECHANISMS[0]) -> dict[str, Any]:
        """kafka-python settings to log in as `user` (with its password unless another is given)."""
        return {
            "bootstrap_servers": self.bootstrap, "security_protocol": "SASL_SSL", "ssl_cafile": str(self.ca_file),
            "sasl_mechanism": mechanism, "sasl_plain_username": user,
            "sasl_plain_password": self.passwords[user] if password is None else password,
        }

    def create_topics(self, names: Iterable[str], partitions: int = 3) -> None:
        """Create the missing topics as the administrator (no user may create one)."""
        with KafkaAdminClient(**self.client_config(), client_id="relief-harness") as admin:
            missing = set(names) - set(admin.list_topics())
            if missing:
                admin.create_topics(
                    {name: {"num_partitions": partitions, "replication_factor": 1} for name in missing},
                    wait_for_metadata=True,
                )

    def grant(self, user: str, grants: Iterable[Grant]) -> None:
        """Allow `user` each (resource type, literal name, operation), from any host."""
        acls = [ACL(f"User:{user}", "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, name))
                for kind, name, operation in grants]
        with KafkaAdminClient(**self.client_config(), client_id="relief-harness") as admin:
            result = admin.create_acls(acls)
        if result["failed"]:
            raise RuntimeError(f"ACLs refused for {user}: {result['failed']}")

    def _prepare(self) -> None:
        make_certificates(self.home / "tls")

    def _format_options(self) -> list[str]:
        return [option for name, password in self.passwords.items() for mechanism in SCRAM_MECHANISMS
                for option in ("--add-scram", f"{mechanism}=[name={name},password={password}]")]

    def _settings(self, broker_port: int, controller_port: int) -> dict[str, object]:
        tls = self.home / "tls"
        login = "org.apache.kafka.common.security.scram.ScramLoginModule required"
        return {
            **super()._settings(broker_port, controller_port),
            "listeners": f"SASL_SSL://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{broker_port}",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISMS[0],
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                f'{login} username="{SUPER_USER}" password="{self.passwords[SUPER_USER]}";',
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": f"{login};",
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": tls / "broker.pem",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": tls / "ca.pem",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{SUPER_USER};User:{BROKER_SUBJECT}",
            "auto.create.topics.enable": "false",
        }


def make_certificates(directory: Path) -> None:
    """Make a CA (ca.pem, ca.key) and a broker's key and certificate for 127.0.0.1 and localhost signed by it
    (broker.key, broker.crt, and both in broker.pem, a Kafka PEM key store) with openssl, in a new directory."""
    directory.mkdir()
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    (directory / "broker.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for command in (
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=relief-test-ca"],
        ["req", *key, "-keyout", "broker.key", "-out", "broker.csr", "-subj", f"/{BROKER_SUBJECT}"],
        ["x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-extfile", "broker.ext", "-out", "broker.crt"],
    ):
        made = subprocess.run(["openssl", *command], cwd=directory, capture_output=True, text=True)
        if made.returncode:
            raise RuntimeError(f"openssl {command[0]} failed:\n{made.stderr}")
    # The unencrypted PKCS#8 key, then the certificate.
    pem = (directory / "broker.key").read_text() + (directory / "broker.crt").read_text()
    (directory / "broker.pem").write_text(pem)


def service_grants(service: str) -> list[Grant]:
    """What a service's user may do, from the catalog: write its topic (and read it, as a relay that takes over
    does), read the topics it consumes, and, if it consumes, use its group and write dead letters."""
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    read, write, describe = ACLOperation.READ, ACLOperation.WRITE, ACLOperation.DESCRIBE
    own, consumed = entry(service).publishes, entry(service).consumed_topics()
    grants = [(topic, own, op) for op in (write, read, describe)] if own else []
    grants += [(topic, name, op) for name in consumed for op in (read, describe)]
    if consumed:
        grants += [(topic, DEAD_LETTER_TOPIC, write), (topic, DEAD_LETTER_TOPIC, describe), (group, service, read)]
    return grants


def provision(broker: SecureKafkaBroker) -> None:
    """Create every topic of the catalog and the dead-letter topic, and give each service's user its grants."""
    broker.create_topics([*topics().values(), DEAD_LETTER_TOPIC], partitions=PARTITIONS)
    for service in names():
        broker.grant(service, service_grants(service))


def main() -> None:
    """Serve a broker until SIGTERM or Ctrl-C, for manual runs and benchmarks."""
    import argparse

    parser = argparse.ArgumentParser(description="Run a throwaway Kafka broker; prints its bootstrap address.")
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM unwinds like Ctrl-C
    with contextlib.suppress(KeyboardInterrupt), KafkaBroker(partitions=args.partitions) as broker:
        print(broker.bootstrap, flush=True)
        signal.pause()


if __name__ == "__main__":
    main()
