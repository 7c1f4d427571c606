"""What the intake index holds: a row per case for lists, reviews and reports, a row per person."""

from __future__ import annotations

import json
import re
from typing import Any

from services.eventstore import Table
from services.intake.domain import Case
from services.intake.identity import mask_id_number, person_digest

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
# What the case list shows and searches without any personal data in the clear: the worker's name as a
# keyed digest (found by the exact name) and masked (张*伟), the ID number masked and its last four.
SEARCH = Table("intake_case_search", key="case_id",
               columns=("name_key", "name_masked", "id_masked", "id_tail"),
               indexes=(("name_key",), ("id_tail",), ("id_masked",)))


def name_key(person_key: str, name: str) -> str:
    """The keyed digest a name is searched by: the exact name, spaces around it and inside ignored."""
    return person_digest(person_key, "name:" + "".join(name.split()))


def mask_name(name: str) -> str:
    """张伟 → 张*, 欧阳娜娜 → 欧**娜: the first character, and the last of a name of three or more."""
    name = name.strip()
    if len(name) <= 2:
        return name[:1] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


MASKED_ID = re.compile(r"[0-9]{4}\*{10}[0-9]{3}[0-9X]")
ID_TAIL = re.compile(r"[0-9]{3}[0-9Xx]")


def search_criteria(text: str, person_key: str) -> dict[str, str]:
    """What a search text matches: a masked ID number, the last four of one, else a name."""
    text = text.strip()
    if MASKED_ID.fullmatch(text.upper()):
        return {"id_masked": text.upper()}
    if ID_TAIL.fullmatch(text):
        return {"id_tail": text.upper()}
    return {"name_key": name_key(person_key, text)}


def search_row(case: Case, person_key: str) -> dict[str, Any]:
    worker = case.worker
    return {"case_id": str(case.id), "name_key": name_key(person_key, worker["name"]),
            "name_masked": mask_name(worker["name"]), "id_masked": mask_id_number(worker["id_number"]),
            "id_tail": worker["id_number"][-4:]}


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

