"""Run a throwaway single-node Kafka broker (KRaft) on loopback so tests and benchmarks hit the real protocol."""

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient

KAFKA_DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
STARTED_LINE = "Kafka Server started"


def fetch_libs() -> Path:
    """Return the cached broker jar directory, fetching it from Maven Central on first use."""
    out = subprocess.run(
        [str(KAFKA_DEPLOY / "fetch-jars.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


def create_topics(bootstrap: str, names, partitions: int = 3) -> None:
    """Create the topics that do not exist yet and wait until they have leaders, so producers never race auto-creation."""
    with KafkaAdminClient(bootstrap_servers=bootstrap, client_id="relief-harness") as admin:
        missing = set(names) - set(admin.list_topics())
        if missing:
            admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": 1} for name in missing},
                wait_for_metadata=True,
            )


def _free_ports(count: int) -> list[int]:
    """Reserve distinct free loopback ports by holding them open together until all are chosen."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _cluster_id() -> str:
    """Make a Kafka-style cluster id; one starting with '-' would be parsed as a StorageTool option."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _die_with_parent() -> list[str]:
    """Prefix a command so the kernel SIGTERMs it if the test process dies without calling stop()."""
    return ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []


class KafkaBroker:
    """Start and stop one combined broker+controller node whose state lives in a temp dir."""

    def __init__(self, partitions: int = 3, startup_timeout: float = 60.0, stop_timeout: float = 5.0):
        self.partitions = partitions
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.bootstrap: str | None = None
        self.tmp: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.tmp / "broker.log"

    def start(self) -> str:
        """Format storage, launch the JVM and block until a client can talk to it; return the bootstrap address."""
        libs = fetch_libs()
        self.tmp = Path(tempfile.mkdtemp(prefix="relief-kafka-"))
        try:
            broker_port, controller_port = _free_ports(2)
            config = self.tmp / "server.properties"
            config.write_text(self._properties(broker_port, controller_port))
            jvm = [self._java(), f"-Dlog4j2.configurationFile={KAFKA_DEPLOY / 'log4j2.properties'}",
                   "-cp", f"{libs}/*"]
            subprocess.run(
                [*jvm, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config)],
                check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [*_die_with_parent(), *jvm, "-Xms256m", "-Xmx512m", "kafka.Kafka", str(config)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.tmp, start_new_session=True,
                )
            self.bootstrap = f"127.0.0.1:{broker_port}"
            self._wait_ready()
        except subprocess.CalledProcessError as exc:
            self.stop()
            raise RuntimeError(f"Kafka storage format failed:\n{exc.stdout}") from exc
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def stop(self) -> None:
        """Stop the broker politely, kill it if it lingers, and delete its data; safe to call twice."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self) -> "KafkaBroker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _properties(self, broker_port: int, controller_port: int) -> str:
        props = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.tmp / "data",
            "num.partitions": self.partitions,
            "auto.create.topics.enable": "true",
            "offsets.topic.num.partitions": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            # Must exceed 1 MiB per cleaner thread or KafkaConfig refuses to load.
            "log.cleaner.dedupe.buffer.size": 2 * 1024 * 1024,
        }
        return "".join(f"{key}={value}\n" for key, value in props.items())

    @staticmethod
    def _java() -> str:
        home = os.environ.get("JAVA_HOME")
        return str(Path(home) / "bin" / "java") if home else "java"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"Kafka broker exited with code {self.proc.returncode}")
            if STARTED_LINE in self.log_path.read_text(errors="replace") and self._answers():
                return
            time.sleep(0.2)
        self._fail(f"Kafka broker not ready after {self.startup_timeout:.0f}s")

    def _answers(self) -> bool:
        try:
            with KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000) as admin:
                admin.list_topics()
            return True
        except Exception:
            return False

    def _fail(self, reason: str) -> None:
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"{reason}; broker log tail:\n{tail}")


def main() -> None:
    """Serve a broker until SIGTERM or Ctrl-C, for manual runs and benchmarks."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM unwinds like Ctrl-C
    with KafkaBroker(partitions=args.partitions) as broker:
        print(broker.bootstrap, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
