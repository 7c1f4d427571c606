"""Background processes of the stack, each known by a pid file that `stack-up`, `stack-down` and
`stack-status` share.

A pid file holds the pid and the process's start time (from /proc), so a pid the kernel has since given to
another process is never taken for the stack's, and never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name, in parentheses, may hold spaces
    return None if fields[0] in ("Z", "X") else fields[19]


class Daemon:
    """One detached process of the stack: its pid file under run/, its log under logs/."""

    def __init__(self, name: str, run: Path, logs: Path):
        self.name = name
        self.pidfile = run / f"{name}.pid"
        self.log = logs / f"{name}.log"

    def pid(self) -> int | None:
        """The pid if the process of the pid file is still running, else None."""
        try:
            pid_text, started = self.pidfile.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        return pid if _start_time(pid) == started else None

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
        """Start the process in a session of its own (so it outlives `stack-up`), appending to its log."""
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(
                list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = _start_time(proc.pid)
        if started is None:
            raise RuntimeError(f"{self.name} exited at once; see {self.log}")
        self.pidfile.write_text(f"{proc.pid} {started}\n")
        return proc.pid

    def signal_stop(self) -> int | None:
        """Ask the process to stop (SIGTERM); its pid, or None if it was not running."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        return pid

    def wait_stopped(self, timeout: float) -> bool:
        """Wait for the process to end, SIGKILL it after `timeout`; True if it stopped by itself."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                self.pidfile.unlink(missing_ok=True)
                return True
            time.sleep(0.1)
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic() + 5
            while self.pid() is not None and time.monotonic() < killed:
                time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)
        return pid is None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
