"""The pairing application on every backend: coverage, waiting lists and slots agree with the events."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from eventsourcing.persistence import Tracking

from services.contracts import Envelope
from services.eventstore.unit import UnitOfWork
from services.pairing.application import Pairings
from services.pairing.domain import Pairing
from services.pairing.index import SLOTS, claim_slot
from tests.factories import PAIRING_TODAY
from tests.unit.test_pairing_lifecycle import cadre, filed, moment, unit

TODAY = PAIRING_TODAY


def recount(app, case_ids):
    """Coverage counted from the aggregates themselves, not the index."""
    found = [app.repository.get(Pairing.create_id(c)) for c in case_ids]
    filed_now = [p for p in found if p.state == "filed"]
    loads = Counter(p.cadre_id for p in filed_now if p.status == "active")
    return {
        "filed": len(filed_now),
        "paired": sum(1 for p in filed_now if p.status == "active"),
        "uncovered": sum(1 for p in filed_now if p.status == "uncovered"),
        "loads": loads,
    }


def quarter_ends(until):
    """The last days of the calendar quarters of 2026 ended by `until`."""
    return [day for day in (date(2026, 3, 31), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31))
            if day <= until]


def recount_from_events(app, as_of, within_days=15):
    """Coverage on `as_of` counted from the stored events alone (not the index, not the aggregates)."""
    cases = {}
    for item in app.recorder.select_notifications(start=1, limit=100_000):
        event = app.mapper.to_domain_event(item)
        name = type(event).__qualname__
        if not name.startswith("Pairing.") or name == "Pairing.Tracked":
            continue
        case = cases.setdefault(event.case_id, {"periods": [], "timeline": [], "visits": []})
        if name == "Pairing.Filed":
            case["periods"].append([date.fromisoformat(event.filed_on), None])
        elif name == "Pairing.Exited":
            case["periods"][-1][1] = date.fromisoformat(event.exited_on)
        elif name == "Pairing.Assigned":
            case["timeline"].append((date.fromisoformat(event.assigned_on), "active", event.cadre_id))
        elif name == "Pairing.Reassigned":
            case["timeline"].append((date.fromisoformat(event.reassigned_on), "active", event.to_cadre_id))
        elif name == "Pairing.CoverageGap":
            case["timeline"].append((date.fromisoformat(event.since), "uncovered", None))
        elif name == "Pairing.Ended":
            case["timeline"].append((date.fromisoformat(event.ended_on), "ended", None))
        elif name == "Pairing.VisitRecorded":
            case["visits"].append(date.fromisoformat(event.visited_on))
    filed = paired = uncovered = within = 0
    loads = Counter()
    visits = {}
    for case in cases.values():
        for end in quarter_ends(as_of - timedelta(days=1) if as_of.month in (3, 6, 9, 12) and as_of.day >= 30
                                else as_of):
            start = date(end.year, end.month - 2, 1)
            due = [(f, e) for f, e in case["periods"] if f <= end and (e is None or e > end)]
            if due:
                tally = visits.setdefault(f"{end.year}Q{end.month // 3}", [0, 0])
                tally[0] += 1
                tally[1] += any(max(start, due[0][0]) <= v <= end for v in case["visits"])
        now = [(f, e) for f, e in case["periods"] if f <= as_of and (e is None or e > as_of)]
        if not now:
            continue
        filed += 1
        since = now[0][0]
        seen = [t for t in case["timeline"] if since <= t[0] <= as_of]
        first = next((t for t in seen if t[1] == "active"), None)
        within += first is not None and (first[0] - since).days <= within_days
        if seen and seen[-1][1] == "active":
            paired += 1
            loads[seen[-1][2]] += 1
        uncovered += bool(seen) and seen[-1][1] == "uncovered"
    return {"filed": filed, "paired": paired, "uncovered": uncovered, "within": within, "loads": loads,
            "visits": [{"quarter": q, "due": d, "visited": v} for q, (d, v) in sorted(visits.items())]}


def same_as_recount(app, as_of):
    found = app.coverage("gs", as_of)
    counted = recount_from_events(app, as_of)
    assert (found["filed"], found["paired"], found["uncovered"], found["paired_within"]["households"]) == (
        counted["filed"], counted["paired"], counted["uncovered"], counted["within"]), as_of
    assert len(found["uncovered_households"]) == counted["uncovered"]
    assert found["visits"] == counted["visits"][-4:], as_of
    carrying = Counter(counted["loads"].values())
    assert {k: v for k, v in found["cadre_loads"].items() if k != "0"} == {str(n): c for n, c in carrying.items()}
    return found


def index_loads(app):
    return {c["cadre_id"]: c["load"] for c in app.cadres("gs") if c["load"]}


def never_overfilled(app):
    return all(c["load"] <= c["capacity"] for c in app.cadres("gs"))


def test_thirty_households_wait_oldest_first_and_are_paired_as_cadres_arrive(pairings):
    health = unit(pairings)
    for rank in ("leader", "leader", "staff"):  # 2 + 2 + 1 = 5 slots for 30 households
        cadre(pairings, health, "gs.by", rank)
    filing_days = [date(2026, 1, 1) + timedelta(days=(7 * i) % 30) for i in range(30)]  # filed out of order
    cases = [filed(pairings, "gs.by.pg", filed_on=day) for day in filing_days]
    waiting = pairings.uncovered("gs")
    assert len(waiting) == 25
    assert [r["filed_on"] for r in waiting] == sorted(r["filed_on"] for r in waiting)
    oldest_two = [r["case_id"] for r in waiting[:2]]

    newcomer = cadre(pairings, health, "gs.by.pg", "leader")
    assert {pairings.get_pairing(c, "gs").cadre_id for c in oldest_two} == {newcomer}
    assert len(pairings.uncovered("gs")) == 23

    pairings.set_capacity("gs.by", "gs", leader=10, staff=5, by="admin")
    assert pairings.uncovered("gs") == []
    coverage = pairings.coverage("gs")
    assert (coverage["filed"], coverage["paired"], coverage["uncovered"]) == (30, 30, 0)
    counted = recount(pairings, cases)
    assert (counted["filed"], counted["paired"], counted["uncovered"]) == (30, 30, 0)
    assert dict(counted["loads"]) == index_loads(pairings)
    assert never_overfilled(pairings)


def test_coverage_equals_a_recount_after_exits_retirements_and_refilings(pairings, env):
    health, schools = unit(pairings, "health"), unit(pairings, "education")
    doctors = [cadre(pairings, health, "gs.by", "leader") for _ in range(3)]
    teacher = cadre(pairings, schools, "gs.by", "staff")
    cases = [filed(pairings, "gs.by", causes=["illness"] if i % 3 else ["education"],
                   filed_on=date(2026, 2, 1) + timedelta(days=i)) for i in range(12)]
    for case_id in cases[:3]:
        pairings.case_exited(case_id, "gs.by", reason="stable_employment", exited_on=date(2026, 6, 1),
                             occurred_at=moment())
    pairings.retire_cadre(doctors[0], "gs", retired_on=date(2026, 7, 1), reason="退休", by="admin")
    pairings.case_refiled(cases[0], "gs.by", refiled_on=date(2026, 8, 1), occurred_at=moment())
    pairings.retire_cadre(teacher, "gs", retired_on=date(2026, 8, 2), reason="调离", by="admin")
    for i, case_id in enumerate(cases):
        if pairings.get_pairing(case_id, "gs").responsible and i % 2:
            pairings.record_visit(case_id, "gs", role="caseworker", user="li", visited_on=date(2026, 9, 1 + i),
                                  kind="routine", findings="家中困难已缓解", problems_solved="", measures="",
                                  next_steps="")
    for as_of in (date(2026, 1, 31), date(2026, 2, 5), date(2026, 5, 31), date(2026, 6, 1), date(2026, 7, 1),
                  date(2026, 8, 1), date(2026, 10, 1), TODAY):
        same_as_recount(pairings, as_of)
    assert [q["quarter"] for q in pairings.coverage("gs")["visits"]] == ["2026Q1", "2026Q2", "2026Q3"]

    counted = recount(pairings, cases)
    coverage = pairings.coverage("gs")
    assert (coverage["filed"], coverage["paired"], coverage["uncovered"]) == (
        counted["filed"], counted["paired"], counted["uncovered"])
    assert dict(counted["loads"]) == index_loads(pairings)
    assert never_overfilled(pairings)
    slots = pairings.select_rows(SLOTS)
    assert sorted(s["case_id"] for s in slots) == sorted(
        c for c in cases if pairings.get_pairing(c, "gs").status == "active")

    if "memory" not in env["PERSISTENCE_MODULE"]:
        reopened = Pairings(env)
        reopened.today = pairings.today  # the same day as the test's application, whatever the real date
        try:
            assert reopened.coverage("gs") == coverage
        finally:
            reopened.close()


def test_a_slot_taken_meanwhile_by_another_pairing_is_never_overfilled(pairings, monkeypatch):
    doctor = cadre(pairings, unit(pairings), "gs.by", "leader")
    first = filed(pairings)
    rows = pairings._rows

    def stale_once(table, **criteria):  # as if read before the first pairing claimed its slot
        if table == SLOTS:
            monkeypatch.setattr(pairings, "_rows", rows)
            return []
        return rows(table, **criteria)

    monkeypatch.setattr(pairings, "_rows", stale_once)
    second = filed(pairings)
    third = filed(pairings)
    assert pairings.get_pairing(first, "gs").slot == f"{doctor}:0"
    assert pairings.get_pairing(second, "gs").slot == f"{doctor}:1"
    assert pairings.get_pairing(third, "gs").status == "uncovered"
    assert index_loads(pairings) == {doctor: 2}


def intake(event_type, case_id, payload, offset):
    at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=offset)
    return Envelope(str(uuid4()), event_type, 1, at, at, "gs.by", case_id, "intake", payload)


def test_a_consumer_batch_of_intake_events_commits_pairings_and_positions_together(pairings):
    doctor = cadre(pairings, unit(pairings), "gs.by", "leader")
    case_ids = [str(uuid4()) for _ in range(4)]
    events = []
    for i, case_id in enumerate(case_ids):
        events.append(intake("CaseOpened", case_id, {"category": "subsistence", "causes": ["illness"]}, i))
        events.append(intake("CaseApproved", case_id, {"approved_on": "2026-03-13", "approver": "wang"}, i))
        events.append(intake("CaseFiled", case_id, {"filed_on": f"2026-03-1{i}"}, i))
    events.append(intake("CaseExited", case_ids[0], {"reason": "moved", "exited_on": "2026-05-01", "notes": "",
                                                     "by": "li"}, 9))
    batch = UnitOfWork()
    pairings.bind(batch)
    try:
        for envelope in events:
            pairings.apply_intake_event(envelope)
    finally:
        pairings.bind(None)
    pairings.commit(batch.events, batch.index, [Tracking("relief.intake.case-events:0", len(events) - 1)])

    statuses = [pairings.get_pairing(c, "gs").status for c in case_ids]
    assert statuses == ["ended", "active", "active", "uncovered"]
    assert index_loads(pairings) == {doctor: 2}
    assert pairings.position("relief.intake.case-events:0") == len(events) - 1
    assert [r["case_id"] for r in pairings.uncovered("gs")] == [case_ids[3]]


def test_a_command_whose_commit_loses_a_slot_runs_again_on_what_the_store_holds(pairings, monkeypatch):
    pairings.set_capacity("gs.by", "gs", leader=1, staff=1, by="admin")
    leader = cadre(pairings, unit(pairings), "gs.by", "leader")
    filed(pairings)
    waiting = filed(pairings)
    commit = pairings.commit
    other = str(uuid4())

    def another_replica_first(events, index, positions):  # its pairing claims the slot this command chose
        monkeypatch.setattr(pairings, "commit", commit)
        pairings.record(index=[claim_slot(leader, 1, "gs.by", other)])
        commit(events, index, positions)

    monkeypatch.setattr(pairings, "commit", another_replica_first)
    pairings.set_capacity("gs.by", "gs", leader=2, staff=1, by="admin")
    assert pairings.get_pairing(waiting, "gs").status == "uncovered"
    assert [(c["load"], c["capacity"]) for c in pairings.cadres("gs")] == [(2, 2)]
    assert sorted(s["slot"] for s in pairings.select_rows(SLOTS)) == [f"{leader}:0", f"{leader}:1"]
