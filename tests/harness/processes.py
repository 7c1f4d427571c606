"""Stopping a child process the way a supervisor does."""

from __future__ import annotations

import subprocess


def terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process, SIGKILL it if it has not exited `grace` seconds later, and always reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
