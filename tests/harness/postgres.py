"""Throwaway PostgreSQL cluster for tests, in a temp dir on a free loopback port."""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install them with "
    "`apt-get install postgresql` (or run deploy/postgres/install.sh)"
)
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresNotInstalledError(RuntimeError):
    """Raised when no PostgreSQL server binaries can be found."""


def _version(path: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", path)]


def find_bindir() -> Path:
    """Locate the server binaries, which Debian keeps off PATH."""
    candidates = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    for candidate in filter(None, candidates):
        if all((Path(candidate) / tool).is_file() for tool in ("initdb", "pg_ctl")):
            return Path(candidate)
    raise PostgresNotInstalledError(INSTALL_HINT)


def free_port() -> int:
    """Ask the kernel for an unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """Start a private PostgreSQL cluster and remove every trace of it on stop."""

    def __init__(
        self, user: str = "relief", password: str = "relief", dbname: str = "relief", durable: bool = False
    ):
        """`durable`: commit to disk as production does, for tests that crash the server and count what survived."""
        self.durable = durable
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.user = user
        self.password = password
        self.dbname = dbname
        self.tmpdir: Path | None = None
        self.bindir: Path | None = None

    @property
    def dsn(self) -> str:
        """Return a libpq connection string for the default database."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.dbname}"
        )

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    def start(self) -> PostgresCluster:
        """Init a cluster in a temp dir and start it on a free loopback port."""
        self.bindir = find_bindir()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pgtest-"))
        atexit.register(self.stop)
        log = self.tmpdir / "server.log"
        try:
            self._initdb()
            for attempt in range(3):  # Someone may grab the free port before we bind it.
                self.port = free_port()
                try:
                    self._pg_ctl("-l", str(log), "-o", f"-p {self.port}", "start")
                    break
                except subprocess.CalledProcessError:
                    if attempt == 2:
                        raise
            self.create_database(self.dbname)
        except subprocess.CalledProcessError as exc:
            detail = log.read_text()[-2000:] if log.exists() else ""
            self.stop()
            raise RuntimeError(f"PostgreSQL {exc.cmd} failed: {exc.stderr}\n{detail}") from exc
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut the server down and delete its files."""
        if self.tmpdir is None:
            return
        atexit.unregister(self.stop)
        if (self.datadir / "postmaster.pid").exists():
            try:
                self._pg_ctl("-m", "fast", "-t", "30", "stop")
            except subprocess.CalledProcessError:
                self._kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def halt(self) -> None:
        """Stop the server but keep its files and port, as in an outage (resume() starts it again)."""
        self._pg_ctl("-m", "immediate", "-t", "30", "stop")

    def resume(self) -> None:
        self._pg_ctl("-l", str(self.tmpdir / "server.log"), "-o", f"-p {self.port}", "start")

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database, so each test module can start clean."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self._run("createdb", "-h", str(self.tmpdir), "-p", str(self.port), "-U", self.user, name)
        return name

    def env(self, prefix: str = "", dbname: str | None = None) -> dict[str, str]:
        """Return eventsourcing settings that point an application at this cluster."""
        settings = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname or self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
        }
        return {prefix + key: value for key, value in settings.items()}

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _initdb(self) -> None:
        """Create the cluster: trust on our private socket, passwords over TCP."""
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.tmpdir, owner.pw_uid, owner.pw_gid)
        pwfile = self.tmpdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._run(
            "initdb", "-D", str(self.datadir), "-U", self.user, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )
        pwfile.unlink()
        settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{self.tmpdir}'"}
        if self.durable:
            settings.update({"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-w", *args)

    def _run(self, tool: str, *args: str) -> None:
        """Run a server binary, as `postgres` when root because initdb refuses root."""
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_postgres, str(self.bindir / tool), *args],
            check=True, capture_output=True, text=True, cwd=self.tmpdir,
        )

    def _kill(self) -> None:
        """Force an immediate shutdown when pg_ctl could not stop the server."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGQUIT)
        except (OSError, ValueError, IndexError):
            pass
