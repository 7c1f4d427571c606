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


L = Table("writes_list", key="k", columns=("fed", "at", "tags"))


class Listed(IndexedApplication):
    name = "Listed"
    tables = (L,)


def test_a_page_is_ordered_filtered_counted_and_cut_by_the_store_alike_on_every_backend(env):
    app = Listed(env)
    rows = [{"k": f"{i:03d}", "fed": ("gs.a", "gs.ab", "gs.a.x")[i % 3], "at": f"2026-01-{1 + i % 28:02d}",
             "tags": ("illness,education", "education", "ill%_,x", None)[i % 4]} for i in range(60)]
    try:
        app.commit([], [Put(L, r) for r in rows], [])
        in_a = [r for r in rows if r["fed"] in ("gs.a", "gs.a.x")]  # gs.ab only shares a prefix
        newest = sorted(in_a, key=lambda r: (r["at"], r["k"]), reverse=True)
        page, total = app.page_rows(L, newest="at", offset=5, limit=10, subtree=("fed", "gs.a"))
        assert (page, total) == (newest[5:15], len(in_a))
        assert app.page_rows(L, newest="at", offset=0, limit=None, subtree=("fed", "gs.a")) == (newest, len(in_a))
        educated = [r for r in newest if r["tags"] and "education" in r["tags"].split(",")]
        assert app.page_rows(L, newest="at", offset=0, limit=100, subtree=("fed", "gs.a"),
                             contains=("tags", "education")) == (educated, len(educated))
        # a list item is matched whole and literally: "ill" is not "illness", "%" and "_" are not wildcards
        assert app.page_rows(L, newest="at", offset=0, limit=100, contains=("tags", "ill")) == ([], 0)
        odd = [r for r in sorted(rows, key=lambda r: (r["at"], r["k"]), reverse=True) if r["tags"] == "ill%_,x"]
        assert app.page_rows(L, newest="at", offset=0, limit=100, contains=("tags", "ill%_")) == (odd, len(odd))
        same = [r for r in newest if r["fed"] == "gs.a.x"][:2]
        found = app.page_rows(L, newest="at", offset=1, limit=5, keys=[r["k"] for r in same] + [newest[0]["k"], "none"],
                              equal={"fed": "gs.a.x"})
        assert found == ([same[1]], 2)
        assert app.page_rows(L, newest="at", offset=0, limit=5, keys=[]) == ([], 0)
        with pytest.raises(ValueError, match="no column"):
            app.page_rows(L, newest="phone", offset=0, limit=5)
    finally:
        app.close()
