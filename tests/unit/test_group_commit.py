"""Saves made at the same moment share a transaction; a failing save fails only itself."""

import eventlet
import pytest

from services.eventstore.group_commit import GroupCommit


class Store:
    """A store that commits lists atomically and refuses any transaction holding a 'bad' event."""

    def __init__(self):
        self.committed = []
        self.transactions = 0

    def put(self, events, index):
        self.transactions += 1
        eventlet.sleep(0.001)  # a commit takes time; other requests arrive meanwhile
        if "bad" in events:
            raise ValueError("refused")
        self.committed += events


def test_concurrent_saves_share_transactions_and_all_commit():
    store = Store()
    group = GroupCommit(store.put)
    savers = [eventlet.spawn(group.save, [f"e{i}"], []) for i in range(40)]
    for saver in savers:
        saver.wait()
    assert sorted(store.committed) == sorted(f"e{i}" for i in range(40))
    assert store.transactions < 40


def test_a_bad_save_in_a_group_fails_alone():
    store = Store()
    group = GroupCommit(store.put)
    savers = [eventlet.spawn(group.save, ["bad" if i == 7 else f"e{i}"], []) for i in range(20)]
    results = []
    for saver in savers:
        try:
            saver.wait()
            results.append("ok")
        except ValueError:
            results.append("refused")
    assert results.count("refused") == 1 and results[7] == "refused"
    assert sorted(store.committed) == sorted(f"e{i}" for i in range(20) if i != 7)


def test_a_lone_save_raises_its_own_error():
    group = GroupCommit(Store().put)
    with pytest.raises(ValueError):
        group.save(["bad"], [])
