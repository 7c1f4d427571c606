"""GET /stats figures equal a recount from the stored events, on every backend."""

import random
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.contracts.federation import in_subtree
from services.intake.domain import CATEGORIES, CAUSES, MEASURE_KINDS
from services.intake.reports import yearly_stats
from tests.factories import application_body

FEDERATIONS = ["gs.by", "gs.by.pg", "gs.by.jc", "gs.ln"]


def populate(cases, rng, n=60):
    """Cases in every state, filed across 2024-2025, with exits, returns and measures."""
    cases.today = lambda: date(2027, 12, 31)  # business dates run up to late 2027
    for _ in range(n):
        body = application_body(rng.choice(FEDERATIONS))
        body["household"]["monthly_income"] = Decimal(rng.randrange(500, 3000))
        body["category"] = rng.choice(CATEGORIES)
        body["causes"] = rng.sample(CAUSES, rng.randint(1, 3))
        case_id = str(cases.open_case(opened_by="li", **body).id)
        staff = {"case_id": case_id, "scope": "gs", "by": "li"}
        if rng.random() < 0.1:
            cases.withdraw(**staff, reason="撤回")
            continue
        visited = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 600))
        cases.verify(**staff, visitors=["a", "b"], visited_on=visited, per_capita_income=Decimal("500"), findings="f")
        if rng.random() < 0.1:
            continue  # still verified
        cases.deliberate(**staff, decided_on=visited, outcome="recommend", notes="")
        cases.publish_notice(**staff, starts_on=visited, days=7)
        filed = visited + timedelta(days=7)
        cases.approve(case_id, "gs", by="wang", approved_on=filed)
        for _ in range(rng.randint(0, 2)):
            done = filed + timedelta(days=rng.randrange(1, 400))
            _, measure = cases.add_measure(**staff, kind=rng.choice(MEASURE_KINDS), description="措施",
                                           planned_on=filed, due_on=None)
            cases.complete_measure(**staff, measure_id=measure, done_on=done, result="完成")
        if rng.random() < 0.5:
            exited = filed + timedelta(days=rng.randrange(30, 500))
            cases.exit(**staff, reason="stable_employment", exited_on=exited, notes="")
            if rng.random() < 0.4:
                refiled = exited + timedelta(days=rng.randrange(1, 200))
                cases.refile(case_id, "gs", by="wang", refiled_on=refiled, reason="返困")


def recount(cases, root, year):
    """Fold every stored event, independently of the index, into the same figures."""
    state, category, causes, federation = {}, {}, {}, {}
    filings, exits, returns, done = {}, {}, {}, []
    for n in cases.recorder.select_notifications(start=None, limit=10**6):
        e = cases.mapper.to_domain_event(n)
        cid, kind = e.originator_id, type(e).__name__
        if kind == "Opened":
            state[cid], category[cid], causes[cid], federation[cid] = "applied", e.category, e.causes, e.federation
            filings[cid], exits[cid], returns[cid] = [], [], []
        elif kind in ("Verified", "Deliberated", "NoticePublished", "Approved", "Rejected", "Withdrawn"):
            state[cid] = {"Verified": "verified", "Deliberated": "deliberated", "NoticePublished": "on_notice",
                          "Approved": "approved", "Rejected": "rejected", "Withdrawn": "withdrawn"}[kind]
        elif kind == "Filed":
            state[cid] = "filed"
            filings[cid].append(e.filed_on)
        elif kind == "Exited":
            state[cid] = "exited"
            exits[cid].append(e.exited_on)
        elif kind == "Refiled":
            state[cid] = "filed"
            filings[cid].append(e.refiled_on)
            returns[cid].append(e.refiled_on)
        elif kind == "MeasurePlanned":
            done.append([cid, e.kind, None])
        elif kind == "MeasureDone":
            [m for m in done if m[0] == cid and m[2] is None][0][2] = e.done_on  # noqa: RUF015
    mine = [c for c in state if in_subtree(federation[c], root)]
    y0, y1 = f"{year}-01-01", f"{year}-12-31"

    def filed_at(c, day):
        events = sorted([(d, 0) for d in filings[c]] + [(d, 1) for d in exits[c]])
        before = [ev for ev in events if ev[0] < day]
        return bool(before) and before[-1][1] == 0

    filed_now = [c for c in mine if state[c] == "filed"]
    exited = sum(1 for c in mine for d in exits[c] if y0 <= d <= y1)
    at_start = sum(1 for c in mine if filed_at(c, y0))
    returned = sum(1 for c in mine for d in returns[c] if y0 <= d <= y1)
    ever = sum(1 for c in mine if any(d <= y1 for d in exits[c]))
    return {
        "by_state": Counter(state[c] for c in mine),
        "filed_by_category": Counter(category[c] for c in filed_now),
        "filed_by_cause": Counter(x for c in filed_now for x in causes[c]),
        "filed_in_year": sum(1 for c in mine if filings[c] and y0 <= filings[c][0] <= y1),
        "exited_in_year": exited,
        "returned_in_year": returned,
        "files_at_start_of_year": at_start,
        "exit_rate": round(exited / at_start, 4) if at_start else None,
        "return_to_hardship_rate": round(returned / ever, 4) if ever else None,
        "measures_done_in_year": Counter(k for c, k, d in done if c in mine and d and y0 <= d <= y1),
    }


@pytest.mark.parametrize("root", ["gs", "gs.by"])
@pytest.mark.parametrize("year", [2025, 2026])
def test_stats_equal_a_recount_from_the_events(cases, root, year):
    populate(cases, random.Random(7))
    stats = yearly_stats(cases.case_rows(root), year)
    expected = recount(cases, root, year)
    for key, value in expected.items():
        if isinstance(value, Counter):
            assert {k: v for k, v in stats[key].items() if v} == dict(value), key
        else:
            assert stats[key] == value, key
    assert stats["exited_in_year"] > 0 and stats["files_at_start_of_year"] > 0
