"""The pool's pre-ping is made for a connection that sat idle, and skipped for one in steady use."""

import pytest

from services.eventstore.postgres import PingIfIdle


class Connection:
    pass


class Clock:
    def __init__(self, monkeypatch):
        self.now = 100.0
        monkeypatch.setattr("services.eventstore.postgres.time.monotonic", lambda: self.now)


def test_a_connection_is_pinged_when_first_handed_out_and_after_it_sat_idle(monkeypatch):
    clock, pinged = Clock(monkeypatch), []
    check = PingIfIdle(pinged.append, idle_seconds=1.0)
    a, b = Connection(), Connection()
    check(a)
    assert pinged == [a]
    clock.now += 0.5
    check(a)
    clock.now += 0.9  # handed out 0.9 s after the last time: idle less than a second
    check(a)
    assert pinged == [a]
    check(b)
    assert pinged == [a, b]  # each connection on its own
    clock.now += 1.0
    check(a)
    assert pinged == [a, b, a]


def test_a_connection_that_failed_its_ping_is_pinged_again_next_time(monkeypatch):
    Clock(monkeypatch)
    calls = []

    def broken(connection):
        calls.append(connection)
        raise OSError("server closed the connection")

    check = PingIfIdle(broken)
    c = Connection()
    with pytest.raises(OSError):
        check(c)
    with pytest.raises(OSError):
        check(c)  # not remembered as handed out: still checked
    assert calls == [c, c]
