"""Describe index rows that are written in the same transaction as the events that cause them.

An index answers the queries an event log cannot (cases of a federation by state) and enforces the
uniqueness an aggregate cannot (one open file per person): both must never disagree with the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Table:
    """An index table: a text primary key and text or integer columns."""

    name: str
    key: str
    columns: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    all_columns: tuple[str, ...] = field(init=False, repr=False, compare=False)  # the key, then the columns
    column_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_columns", (self.key, *self.columns))
        object.__setattr__(self, "column_set", frozenset(self.all_columns))


@dataclass(frozen=True)
class Put:
    """Insert the row, or replace the row with the same key."""

    table: Table
    row: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """Insert the row only if no row holds its key; otherwise the whole save fails."""

    table: Table
    row: dict[str, Any]


@dataclass(frozen=True)
class Release:
    """Delete the row with this key, if any."""

    table: Table
    key: str


IndexOp = Put | Claim | Release


class ClaimConflict(Exception):
    """A claimed key is already held; `holder` is the row that holds it."""

    def __init__(self, table: Table, holder: dict[str, Any]):
        super().__init__(f"{table.name}: {table.key} already held")
        self.table = table
        self.holder = holder


class Dialect:
    """Render index statements with one database's parameter style."""

    def __init__(self, param: str, arrays: bool, array_param: str | None = None, unlimited: str = "ALL"):
        self.param = param  # e.g. ":{}" for SQLite, "%({})s" for psycopg
        self.arrays = arrays  # whether a list binds as one array parameter (PostgreSQL)
        self.array_param = array_param or param  # psycopg's "%({})b": an array sent in binary, nothing escaped
        self.unlimited = unlimited  # the LIMIT that is none, for an OFFSET without a limit (SQLite: -1)

    def p(self, name: str) -> str:
        return self.param.format(name)

    def create(self, table: Table, integer_columns: frozenset[str] = frozenset()) -> list[str]:
        cols = ", ".join(
            f"{c} {'BIGINT' if c in integer_columns else 'TEXT'}" for c in table.all_columns
        )
        statements = [f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}, PRIMARY KEY ({table.key}))"]
        for cols_of_index in table.indexes:
            name = f"{table.name}_{'_'.join(cols_of_index)}_idx"
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table.name} ({', '.join(cols_of_index)})"
            )
        return statements

    def upsert(self, table: Table) -> str:
        names = table.all_columns
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.columns)
        return (
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join(self.p(c) for c in names)}) "
            f"ON CONFLICT ({table.key}) DO UPDATE SET {updates}"
        )

    def upsert_many(self, table: Table) -> str:
        """`upsert` of many rows at once, each column bound as one text array (PostgreSQL only)."""
        names = table.all_columns
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.columns)
        arrays = ", ".join(f"{self.array_param.format(c)}::text[]" for c in names)
        return (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({table.key}) DO UPDATE SET {updates}"
        )

    def claim(self, table: Table) -> str:
        names = table.all_columns
        return (
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join(self.p(c) for c in names)}) "
            f"ON CONFLICT ({table.key}) DO NOTHING RETURNING {table.key}"
        )

    def delete(self, table: Table) -> str:
        return f"DELETE FROM {table.name} WHERE {table.key} = {self.p('key')}"

    def select(
        self,
        table: Table,
        equal: dict[str, Any],
        subtree: tuple[str, str] | None,
        limit: int | None,
        keys: Sequence[str] | None = None,
        until: tuple[str, str] | None = None,
        after: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        clauses, params = self.where(table, equal, subtree, keys, until, after)
        chosen = table.all_columns if columns is None else projection(table, columns)
        sql = f"SELECT {', '.join(chosen)} FROM {table.name}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {table.key}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql, params

    def page(
        self, table: Table, equal: dict[str, Any], subtree: tuple[str, str] | None, keys: Sequence[str] | None,
        contains: tuple[str, str] | None, newest: str, offset: int, limit: int | None,
    ) -> tuple[str, str, dict[str, Any]]:
        """A page of rows, the `newest` column's greatest first (then the key's), and the count of them all;
        no limit: every row from `offset` on."""
        known(table, [newest])
        clauses, params = self.where(table, equal, subtree, keys, None, None, contains)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        most = self.unlimited if limit is None else str(int(limit))
        rows = (f"SELECT {', '.join(table.all_columns)} FROM {table.name}{where} "
                f"ORDER BY {newest} DESC NULLS LAST, {table.key} DESC LIMIT {most} OFFSET {int(offset)}")
        return rows, f"SELECT COUNT(*) AS n FROM {table.name}{where}", params

    def where(
        self, table: Table, equal: dict[str, Any], subtree: tuple[str, str] | None, keys: Sequence[str] | None,
        until: tuple[str, str] | None, after: str | None, contains: tuple[str, str] | None = None,
    ) -> tuple[list[str], dict[str, Any]]:
        clauses, params = [], dict(equal)
        known(table, equal)
        if contains is not None:
            column, item = contains
            known(table, [column])
            params["contains_like"] = f"%,{like_escaped(item)},%"
            clauses.append(f"(',' || {column} || ',') LIKE {self.p('contains_like')} ESCAPE '\\'")
        for column in equal:
            clauses.append(f"{column} = {self.p(column)}")
        if after is not None:
            params["after_key"] = after
            clauses.append(f"{table.key} > {self.p('after_key')}")
        if until is not None:
            column, last = until
            params["until"] = last
            clauses.append(f"{column} <= {self.p('until')}")
        if keys is not None:
            if self.arrays:
                params["keys"] = list(keys)
                clauses.append(f"{table.key} = ANY({self.p('keys')})")
            else:
                names = [f"key{i}" for i in range(len(keys))]
                params.update(zip(names, keys, strict=True))
                clauses.append(f"{table.key} IN ({', '.join(self.p(n) for n in names) or 'NULL'})")
        if subtree is not None:
            column, root = subtree
            params["subtree_root"], params["subtree_like"] = root, root + ".%"
            clauses.append(
                f"({column} = {self.p('subtree_root')} OR {column} LIKE {self.p('subtree_like')})"
            )
        return clauses, params


def like_escaped(text: str) -> str:
    """Text matched literally by LIKE … ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def known(table: Table, columns: Iterable[str]) -> None:
    """Refuse a column the table does not have (names are put into statements, never values)."""
    unknown = set(columns) - table.column_set
    if unknown:
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")


def projection(table: Table, columns: Sequence[str]) -> tuple[str, ...]:
    """The key and the columns asked for (a row always carries its key); an unknown column is refused."""
    known(table, columns)
    return (table.key, *(c for c in columns if c != table.key))


def row_params(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Return the row's values for every column, None for the ones it leaves out."""
    known(table, row)
    return {c: row.get(c) for c in table.all_columns}
