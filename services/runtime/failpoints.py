"""Named places where a test can make the process die, to prove that a crash loses nothing.

`RELIEF_FAILPOINTS="consumer.after_poll=3"` SIGKILLs the process the third time it passes that
point. Unset (always, in production), a pass costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_armed: dict[str, int] | None = None
_passes: Counter[str] = Counter()


def _parse(spec: str) -> dict[str, int]:
    armed = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        armed[name] = int(count or "1")
    return armed


def reached(name: str) -> None:
    """Die here if a test armed this point and this is the pass it named."""
    global _armed
    if _armed is None:
        _armed = _parse(os.environ.get("RELIEF_FAILPOINTS", ""))
    if name not in _armed:
        return
    _passes[name] += 1
    if _passes[name] == _armed[name]:
        os.kill(os.getpid(), signal.SIGKILL)
