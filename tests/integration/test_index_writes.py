"""Index writes of one save land as if written one by one, however they are grouped into statements."""

from __future__ import annotations

import pytest

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


C = Table("writes_c", key="k", columns=("v", "w"))


class Wide(IndexedApplication):
    name = "Wide"
    tables = (C,)


def test_a_thousand_puts_in_one_save_replace_rows_keep_odd_text_and_nulls(env):
    """What the trail's sequencer does a batch at a time (one statement for the lot on PostgreSQL): rows
    already stored are replaced, absent columns are NULL, and text an array literal would have to escape
    comes back byte for byte."""
    app = Wide(env)
    odd = ['{"a","b"}', "NULL", "back\\slash", "a,b", "引号“”", "", " spaced ", "'quote'", "{}"]
    try:
        app.commit([], [Put(C, {"k": f"{i:04d}", "v": "old", "w": "kept?"}) for i in range(0, 1000, 2)], [])
        ops = [Put(C, {"k": f"{i:04d}", "v": odd[i % len(odd)]} if i % 3 else {"k": f"{i:04d}", "v": "x", "w": "y"})
               for i in range(1000)]
        app.commit([], ops, [])
        rows = app.select_rows(C)
        assert len(rows) == 1000
        for i, row in enumerate(rows):
            expected = {"k": f"{i:04d}", "v": odd[i % len(odd)], "w": None} if i % 3 else \
                {"k": f"{i:04d}", "v": "x", "w": "y"}
            assert row == expected
    finally:
        app.close()


def test_a_scan_may_ask_for_a_few_columns_and_gets_the_key_with_them_and_no_unknown_one(env):
    app = Wide(env)
    try:
        app.commit([], [Put(C, {"k": "2", "v": "b", "w": "y"}), Put(C, {"k": "1", "v": "a"})], [])
        assert app.select_rows(C, columns=("w",)) == [{"k": "1", "w": None}, {"k": "2", "w": "y"}]
        assert app.select_rows(C, equal={"v": "b"}, columns=("k", "v")) == [{"k": "2", "v": "b"}]
        with pytest.raises(ValueError, match="no columns"):
            app.select_rows(C, columns=("v", "phone"))
    finally:
        app.close()
