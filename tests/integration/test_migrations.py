"""Index tables carry a schema version: an upgrade migrates an existing store instead of needing a new one."""

from __future__ import annotations

import pytest

from services.aid.application import Aids
from services.aid.index import TABLES as AID_TABLES
from services.eventstore import Put, Table
from services.eventstore.migrations import Migration, StoreTooNew, create_tables
from services.intake.application import Cases
from tests.aid_flows import program
from tests.backends import BACKENDS, backend_env
from tests.factories import application_body

NOTES = Table("test_notes", key="note_id", columns=("text",))
NOTES_V2 = Table("test_notes", key="note_id", columns=("text", "author"))


class NotesV1(Cases):
    name = "Notes"
    tables = (*Cases.tables, NOTES)
    migrations = (Migration(1, "intake tables and notes", create_tables(*Cases.tables, NOTES)),)


class NotesV2(NotesV1):
    name = "Notes"
    tables = (*Cases.tables, NOTES_V2)
    migrations = (
        *NotesV1.migrations,
        Migration(2, "notes get an author", lambda d: ["ALTER TABLE test_notes ADD COLUMN author TEXT"]),
    )


def version_of(app: Cases, component: str) -> int:
    with app.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SELECT version FROM relief_schema WHERE component = '{component}'")
        return int(cursor.fetchone()["version"])


@pytest.fixture(params=[b for b in BACKENDS if b != "memory"])  # memory outlives nothing: nothing to migrate
def stored_env(request, tmp_path):
    return backend_env(request, tmp_path, request.param)


def test_an_upgrade_adds_a_column_and_keeps_the_rows(stored_env):
    old = NotesV1(stored_env)
    case = old.open_case(opened_by="li", **application_body())
    note = old.open_case(opened_by="li", **application_body())
    old.record(note, index=[Put(NOTES, {"note_id": "n1", "text": "kept"})])
    old.close()

    new = NotesV2(stored_env)
    assert version_of(new, "notes") == 2
    assert new.select_rows(NOTES_V2, keys=["n1"]) == [{"note_id": "n1", "text": "kept", "author": None}]
    assert new.get_case(str(case.id), "gs").state == "applied"
    new.close()

    again = NotesV2(stored_env)  # a second start runs no step twice (ADD COLUMN would fail)
    assert version_of(again, "notes") == 2
    again.close()


def test_a_store_from_before_versioning_is_adopted_at_version_one(stored_env):
    app = Cases(stored_env)
    case = app.open_case(opened_by="li", **application_body())
    with app.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
        cursor.execute("DROP TABLE relief_schema")
    app.close()

    reopened = Cases(stored_env)
    assert version_of(reopened, "intake") == len(Cases.migrations)  # adopted at 1, then the steps after it ran
    assert reopened.list_cases("gs")[0]["case_id"] == str(case.id)
    assert reopened.find_cases("gs")["cases"][0]["name_masked"] == "张*"  # step 2's table, kept by the save
    reopened.close()


def test_an_older_build_refuses_a_store_a_newer_one_migrated(stored_env):
    NotesV2(stored_env).close()
    with pytest.raises(StoreTooNew, match="schema version 2, this build knows 1"):
        NotesV1(stored_env)


class AidsV1(Aids):
    """Aid as built before its list of batches: step 1 only."""

    name = "Aid"  # the same store (eventsourcing names it after the class otherwise)
    tables = AID_TABLES
    migrations = Aids.migrations[:1]


def test_an_aid_store_of_the_build_before_gets_its_list_of_batches(stored_env):
    old = AidsV1(stored_env)
    p = program(old)
    old.close()

    new = Aids(stored_env)
    assert version_of(new, "aid") == 2
    assert new.batches("gs", None, None, 0, 10) == ([], 0)
    new.allocate(program_id=p, federation="gs", amount=100_000, scope="gs", by="admin")
    batch, _ = new.create_batch(p, "gs", federation="gs", reason="春节", idempotency_key="b1", by="admin")
    assert [r["batch_id"] for r in new.batches("gs", None, None, 0, 10)[0]] == [str(batch.id)]
    new.close()
