"""Session-wide set-up: eventlet first (nameko needs it), then the real servers tests share."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on a free port, for the whole test session."""
    from tests.harness.postgres import PostgresCluster

    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka():
    """A real Kafka broker (KRaft) on free ports, for the whole test session; yields its address."""
    from tests.harness.kafka_broker import KafkaBroker

    with KafkaBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def secure_kafka():
    """A second broker, reached only over TLS with a SCRAM login (SASL_SSL), whose authorizer lets each
    service's user (named as the service) use only its topics and group; yields the SecureKafkaBroker."""
    from services.catalog import names
    from tests.harness.kafka_broker import SecureKafkaBroker, provision

    with SecureKafkaBroker(users=names()) as broker:
        provision(broker)
        yield broker


@pytest.fixture(scope="session")
def tlogclient(tmp_path_factory):
    """The Go client of tests/interop/tlogclient (golang.org/x/mod/sumdb), built from go.mod and go.sum as
    committed (no module changes allowed); the path of the binary."""
    import shutil
    import subprocess
    from pathlib import Path

    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is not on PATH: install Go 1.26 or later to run the interoperability test")
    source = Path(__file__).resolve().parent / "interop" / "tlogclient"
    binary = tmp_path_factory.mktemp("tlogclient") / "tlogclient"
    env = {**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local"}
    built = subprocess.run([go, "build", "-o", str(binary), "."], cwd=source, env=env, capture_output=True,
                           text=True, timeout=600)
    if built.returncode != 0:
        pytest.fail(f"go build of {source} failed:\n{built.stdout}{built.stderr}")
    return binary
