"""What the intake index holds: a row per case for lists, reviews and reports, a row per person."""

from __future__ import annotations

import json
from typing import Any

from services.eventstore import Table
from services.intake.domain import Case

CASES = Table(
    "intake_cases",
    key="case_id",
    columns=(
        "federation", "state", "category", "causes", "opened_at", "updated_at",
        "filed_on", "review_due_on", "timeline", "measures_done",
    ),
    indexes=(("federation", "state"), ("state", "review_due_on")),
)
# One row per person in an active case, keyed by the keyed digest of their ID number (never the number).
PERSONS = Table("intake_persons", key="digest", columns=("case_id", "federation", "role"))


def index_row(case: Case) -> dict[str, Any]:
    """The row that answers lists, review-due queries and reports without loading the aggregate."""
    done: dict[str, list[str]] = {}
    for measure in case.measures.values():
        if measure["done_on"]:
            done.setdefault(measure["kind"], []).append(measure["done_on"])
    timeline = {
        "filed_on": case.filed_on,
        "exits": [e["exited_on"] for e in case.exits],
        "refilings": [r["refiled_on"] for r in case.refilings],
    }
    return {
        "case_id": str(case.id),
        "federation": case.federation,
        "state": case.state,
        "category": case.category,
        "causes": ",".join(case.causes),
        "opened_at": case.created_on.isoformat(),
        "updated_at": case.modified_on.isoformat(),
        "filed_on": case.filed_on,
        "review_due_on": case.review_due_on,
        "timeline": json.dumps(timeline),
        "measures_done": json.dumps(done, sort_keys=True),
    }


def summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "causes": row["causes"].split(",") if row["causes"] else [],
        "timeline": json.loads(row["timeline"]),
        "measures_done": json.loads(row["measures_done"]),
    }

