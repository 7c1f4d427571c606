"""Federation codes (`gs`, `gs.by`, `gs.by.pg`) and the one rule of which federation covers which."""

from __future__ import annotations

import re
from functools import lru_cache

# Lower-case ASCII parts joined by dots, as a bare pattern (for documents such as OpenAPI) and compiled to
# match the whole value: `\Z`, not `$`, which would let a trailing newline through (`gs.by\n`). At most 8
# levels (province to village is 5) of at most 24 characters each, so a code is at most 199 characters:
# every event carries one, and some carry a case's whole ancestry (docs/events.md, "Size").
FEDERATION_PATTERN = r"[a-z][a-z0-9]{0,23}(\.[a-z][a-z0-9]{0,23}){0,7}"
FEDERATION_CODE = re.compile(rf"^{FEDERATION_PATTERN}\Z")


def is_federation_code(value: str) -> bool:
    """Tell whether a value is a whole federation code, lower-case parts joined by dots."""
    return FEDERATION_CODE.fullmatch(value) is not None


def in_subtree(federation: str, root: str) -> bool:
    """Tell whether a federation lies at or under root: `gs.by` covers `gs.by.pg`, not `gs.byx`."""
    return federation == root or federation.startswith(root + ".")


@lru_cache(maxsize=4096)
def ancestry(federation: str) -> tuple[str, ...]:
    """The federation and every federation above it, nearest first: gs.by.pg, gs.by, gs (cached: matching and
    funding ask it of the same few federations again and again)."""
    parts = federation.split(".")
    return tuple(".".join(parts[:n]) for n in range(len(parts), 0, -1))


def ancestors(federation: str) -> list[str]:
    """`ancestry` as a list."""
    return list(ancestry(federation))
