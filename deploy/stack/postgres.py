"""The stack's PostgreSQL: Debian's server binaries, one cluster in `postgres/`, initialised once.

initdb refuses to run as root, so as root every server binary runs as the `postgres` user, which then owns
the cluster's files. The superuser (`postgres`) connects only through a socket in `run/postgres/` that no
other user can open (trust there); the services' roles log in over TCP on 127.0.0.1 with the passwords of
`secrets/` (SCRAM).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from deploy.stack.layout import HOST, Stack

INSTALL_HINT = "PostgreSQL's server binaries are missing: `make postgres` installs Debian's package (as root)"
SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "unix_socket_permissions": "0700",
    "max_connections": "200",  # 15 per process at most (the library's pool) x 9 processes, plus tools
}


def bindir() -> Path:
    """The newest installed server version's binaries (Debian keeps them off PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(n) for n in re.findall(r"\d+", p)])
    for candidate in reversed(found):
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise RuntimeError(INSTALL_HINT)


class Postgres:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.data = stack.postgres
        self.socket = stack.run / "postgres"
        self.log = stack.logs / "postgres.log"

    def running(self) -> bool:
        if not (self.data / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def start(self) -> None:
        """Initialise the cluster on the first start, then start it and wait until it accepts connections."""
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self._own(self.socket, self.log)
        options = f"-p {self.stack.ports.postgres} -k {self.socket}"
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60")

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60")

    def ensure_databases(self, passwords: dict[str, str]) -> None:
        """One role and one database of its own per service (docs/deploy.md), with the stack's password."""
        with psycopg.connect(host=str(self.socket), port=self.stack.ports.postgres, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            for service, password in passwords.items():
                name = f"relief_{service}"
                role = sql.Identifier(name)
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is None:
                    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))

    def store_url(self, service: str, password: str) -> str:
        return f"postgresql://relief_{service}:{password}@{HOST}:{self.stack.ports.postgres}/relief_{service}"

    def _initdb(self) -> None:
        self._own(self.data)
        self.data.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# The relief stack (deploy/stack/postgres.py); port and socket are given at start.\n")
            conf.writelines(f"{key} = {value}\n" for key, value in SETTINGS.items())

    def _own(self, *paths: Path) -> None:
        """Create the directories (and the log file) the server writes, owned by the user it runs as."""
        for path in paths:
            if path.suffix == ".log":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                owner = pwd.getpwnam("postgres")
                os.chown(path, owner.pw_uid, owner.pw_gid)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*as_postgres, str(bindir() / tool), *args], capture_output=True, text=True,
                              cwd="/")
        if check and done.returncode:
            raise RuntimeError(f"PostgreSQL {tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout}"
                               f"\n(the postgres user must be able to reach {self.data}; see {self.log})")
        return done
