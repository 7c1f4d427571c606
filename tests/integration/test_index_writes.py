"""Index writes of one save land as if written one by one, however they are grouped into statements."""

from __future__ import annotations

from services.eventstore import IndexedApplication, Put, Release, Table

A = Table("writes_a", key="k", columns=("v",))
B = Table("writes_b", key="k", columns=("v",))


class Writes(IndexedApplication):
    name = "Writes"
    tables = (A, B)


def test_interleaved_puts_repeated_keys_and_releases_end_as_written_in_order(env):
    app = Writes(env)
    try:
        ops = [Put(A, {"k": "1", "v": "a"}), Put(B, {"k": "1", "v": "b"}), Put(A, {"k": "2", "v": "c"}),
               Put(A, {"k": "1", "v": "d"}), Put(B, {"k": "2", "v": "e"}), Release(A, "2"),
               Put(A, {"k": "2", "v": "f"}), Put(B, {"k": "1", "v": "g"}), Put(A, {"k": "3", "v": "h"}),
               Release(B, "2"), Put(A, {"k": "3", "v": "i"})]
        app.commit([], ops, [])
        assert app.select_rows(A) == [{"k": "1", "v": "d"}, {"k": "2", "v": "f"}, {"k": "3", "v": "i"}]
        assert app.select_rows(B) == [{"k": "1", "v": "g"}]
    finally:
        app.close()
