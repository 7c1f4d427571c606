"""Apply index operations through a DB-API cursor, inside the transaction that records the events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.eventstore.index import Claim, ClaimConflict, Dialect, IndexOp, Put, Release, row_params


def apply_ops(cursor: Any, dialect: Dialect, ops: Sequence[IndexOp]) -> None:
    """Write every operation, raising ClaimConflict (and so rolling back) if a claim is held."""
    for op in ops:
        if isinstance(op, Put):
            cursor.execute(dialect.upsert(op.table), row_params(op.table, op.row))
        elif isinstance(op, Claim):
            cursor.execute(dialect.claim(op.table), row_params(op.table, op.row))
            if cursor.fetchone() is None:
                key = op.row[op.table.key]
                sql, params = dialect.select(op.table, {op.table.key: key}, None, 1)
                cursor.execute(sql, params)
                holder = cursor.fetchone()
                raise ClaimConflict(op.table, dict(holder) if holder else {op.table.key: key})
        elif isinstance(op, Release):
            cursor.execute(dialect.delete(op.table), {"key": op.key})
