"""Replay and verify the audit trail from its store: 1,000,000 entries, entries/s and the verifier's peak memory.

    python -m bench.trail_replay [--entries 1000000] [--cases 5000] [--reuse PATH]
    python -m bench.trail_replay --entries 20000 --cases 500      # a quick look

The trail is built first (timed apart; it is not the figure) in a SQLite store through the application's own
path, `Trail.append` and `Trail.store` in batches of 1,000, a signed checkpoint after each (every 1,000
entries, as the service's default), so the tables are those the sequencer writes. Its messages are the three
services' events in the order they would be published (`backlog`): the roster (units, cadres, programs,
budgets, trainings), then round after round one event of each household's life (opened, verified,
deliberated, the notice, approved, filed, paired, a measure planned, then visits, disbursements requested,
approved, paid and confirmed, measures done, reviews, referrals, trainings, amendments), sealed as the
trail seals them (personal values committed), a few malformed messages among them. `--reuse PATH` keeps
the store at PATH, or checks the one already there without building.

Then, timed, `python -m services.audit.logcheck`'s check runs in a fresh process (so the peak resident set
is the verifier's alone: the child's own VmHWM): every entry read from the store in index
order, a page at a time, its leaf hash and the RFC 6962 tree recomputed over a frontier, every case's chain,
every signed checkpoint's root and signature, the head. Beside it, in the same run, the floor: hashlib's
SHA-256 over the same entry bytes (leaf hashing only, no tree, no checks), read the same way.

Targets (issue 9): replay + verify ≥ 100,000 entries/s, ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count, islice
from pathlib import Path
from typing import Any

from bench.intake_http import ROOT, load_average
from bench.pairing_throughput import FEDERATIONS, case_federation, opened_payloads
from services.audit.application import Trail
from services.audit.entries import Source
from services.audit.log import Head
from services.audit.logcheck import PAGE, sqlite_entries
from services.audit.note import Signer
from services.config import service_config
from services.contracts import Envelope, InvalidEvent, decode, encode
from services.contracts.topics import TOPICS
from services.eventstore import store_env

TARGET_RATE = 100_000  # entries/s
TARGET_RSS_MB = 300
CHECKPOINT_EVERY = 1000
MALFORMED_EVERY = 50_000  # one message in this many is not a valid event
WRITER = "bench-trail"
DAY0 = date(2026, 1, 5)
IDS = uuid.UUID("6c1f3e0a-5b7d-4c2e-9a43-0d8e2f6b1a77")
# A household's life: these once, in order, then the cycle over and over.
LIFE = ("CaseOpened", "CaseVerified", "CaseDeliberated", "NoticePublished", "CaseApproved", "CaseFiled",
        "PairingAssigned", "MeasurePlanned")
CYCLE = ("VisitRecorded", "DisbursementRequested", "DisbursementApproved", "DisbursementPaid",
         "DisbursementConfirmed", "MeasureDone", "VisitRecorded", "CaseReviewed", "ReferralMade",
         "TrainingEnrolled", "CaseAmended", "MeasurePlanned")
SERVICE = {"Pairing": "pairing", "Visit": "pairing", "Disbursement": "aid", "Referral": "aid", "Training": "aid",
           "Program": "aid", "Budget": "aid", "Unit": "pairing", "Cadre": "pairing"}
MALFORMED = (b'{"event_id": "7", "type": "CaseFiled", "payload": ', b'{"type": "CaseFiled", "version": 1}')


@dataclass(frozen=True)
class Household:
    n: int
    case_id: str
    federation: str
    opened: dict[str, Any]  # intake's CaseOpened payload, masked as intake masks it
    unit_id: str
    cadre_id: str
    program_id: str
    training_id: str

    @property
    def person(self) -> str:
        return str(self.opened["worker"]["id_digest"])


def derived(*parts: object) -> str:
    """A stable id, so that the steps of one disbursement (or measure) name the same one."""
    return str(uuid.uuid5(IDS, ":".join(map(str, parts))))


Roster = list[tuple[str, str, str, dict[str, Any]]]


def roster(households: int) -> tuple[Roster, list[str], list[str], list[str], list[str]]:
    """What comes before any household: units, cadres (one per 25 households), programs with a budget per
    county, trainings; as (type, own id, federation, payload), and the ids households draw on."""
    units = [derived("unit", n) for n in range(len(FEDERATIONS))]
    cadres = [derived("cadre", n) for n in range(max(1, households // 25))]
    programs = [derived("program", n) for n in range(2)]
    trainings = [derived("training", n) for n in range(5)]
    events: Roster = []
    for n, unit in enumerate(units):
        events.append(("UnitRegistered", unit, FEDERATIONS[n], {
            "unit_id": unit, "name": f"县人社局{n}", "function": "employment", "by": "admin"}))
    for n, cadre in enumerate(cadres):
        events.append(("CadreRegistered", cadre, FEDERATIONS[n % len(units)], {
            "cadre_id": cadre, "name": f"干部{n}", "unit_id": units[n % len(units)], "rank": "staff",
            "phone_masked": "139****5678", "user": f"cadre{n}", "by": "admin"}))
    eligibility = {"include_exited": False, "categories": ["marginal"], "causes": [], "household_cap": None,
                   "min_members": None, "max_members": None}
    for n, program in enumerate(programs):
        events.append(("ProgramCreated", program, "gs", {
            "program_id": program, "name": f"生活救助 {n}", "kind": "living", "year": 2026, "festival": None,
            "help": "每户每月生活补助", "version": 1, "by": "admin",
            "terms": {"amount": "200.00", "rule": None, "eligibility": eligibility}}))
        for federation in FEDERATIONS:
            events.append(("BudgetAllocated", derived("budget", program, federation), federation, {
                "program_id": program, "amount": "1000000.00", "delta": "1000000.00", "by": "admin"}))
    for n, training in enumerate(trainings):
        events.append(("TrainingCreated", training, "gs", {"training_id": training, "course": f"电工培训 {n}",
                                                     "provider": "市技工学校", "starts_on": "2026-03-01",
                                                     "ends_on": "2026-04-30", "by": "admin"}))
    return events, units, cadres, programs, trainings


def payload(kind: str, h: Household, step: int, on: date) -> dict[str, Any]:
    """The payload of a household's event of this type at this step of its life (valid for its contract)."""
    day, later = on.isoformat(), (on + timedelta(days=30)).isoformat()
    cycle = (step - len(LIFE)) // len(CYCLE)
    disbursement = {"disbursement_id": derived("d", h.case_id, cycle), "kind": "living", "amount": "200.00",
                    "rule_version": 1, "on": day, "reason": None, "by": "zhao"}
    measure = derived("m", h.case_id, cycle)
    match kind:
        case "CaseOpened":
            return h.opened
        case "CaseVerified":
            return {"visitors": ["王芳", "赵强"], "visited_on": day, "per_capita_income": "600.00",
                    "findings": "妻子慢性病，儿子高三", "by": "li"}
        case "CaseDeliberated":
            return {"decided_on": day, "outcome": "recommend", "notes": "一致同意", "by": "li"}
        case "NoticePublished":
            return {"starts_on": day, "days": 7, "ends_on": (on + timedelta(days=7)).isoformat(), "by": "li"}
        case "CaseApproved":
            return {"approved_on": day, "approver": "zhao"}
        case "CaseFiled":
            return {"filed_on": day}
        case "PairingAssigned":
            return {"unit_id": h.unit_id, "cadre_id": h.cadre_id, "contact": "139****5678", "assigned_on": day,
                    "by": "matching", "rule": {"summary": "按致困原因匹配帮扶单位", "cause": "illness",
                                               "function": "employment", "unit_id": h.unit_id,
                                               "cadre_federation": h.federation, "distance": 0, "load_before": 3,
                                               "capacity": 25}}
        case "MeasurePlanned":
            return {"measure_id": measure, "kind": "employment", "description": "推荐到本地企业就业",
                    "planned_on": day, "due_on": later, "by": "li"}
        case "MeasureDone":
            return {"measure_id": derived("m", h.case_id, cycle - 1) if cycle else measure, "done_on": day,
                    "result": "已在本地企业就业", "by": "li"}
        case "VisitRecorded":
            return {"visit_id": derived("v", h.case_id, step), "visited_on": day, "kind": "routine",
                    "findings": "家中情况稳定，妻子按时复查", "problems_solved": "协调了门诊报销",
                    "measures": "继续跟踪就业", "next_steps": "下月回访", "visitor": "王芳", "cadre_id": h.cadre_id}
        case "DisbursementRequested":
            return {**{k: v for k, v in disbursement.items() if k not in ("rule_version", "on")},
                    "program_id": h.program_id, "form": "money", "items": None, "delivered_on": None,
                    "reason": "生活救助", "beneficiary": None, "batch_id": None, "budget_federation": h.federation,
                    "decision": {"rule_version": 1, "passed": True, "checks": [
                        {"check": "category", "passed": True, "detail": "marginal"},
                        {"check": "budget", "passed": True, "detail": "within the county's budget"}]},
                    "requested_on": day, "by": "li"}
        case "DisbursementApproved":
            return disbursement
        case "DisbursementPaid":
            return {**disbursement, "bank_reference": f"B{h.n:06d}{cycle:04d}"}
        case "DisbursementConfirmed":
            return {**disbursement, "confirmed_by": "li"}
        case "CaseReviewed":
            return {"reviewed_on": day, "findings": "收入仍低于标准", "still_qualifies": True, "by": "li"}
        case "ReferralMade":
            return {"referral_id": derived("r", h.case_id, cycle), "person": h.person, "employer": "白银有色集团",
                    "position": "操作工", "monthly_wage_offered": "3200.00", "referred_on": day, "by": "li"}
        case "TrainingEnrolled":
            return {"training_id": h.training_id, "person": h.person, "enrolled_on": day, "by": "li"}
        case "CaseAmended":
            return {"changed": ["category"], "changes": {"category": "subsistence"},
                    "reason": "年度核查", "by": "li"}
    raise LookupError(kind)


def service_of(kind: str) -> str:
    return next((s for prefix, s in SERVICE.items() if kind.startswith(prefix)), "intake")


def backlog(total: int, households: int, malformed_every: int = MALFORMED_EVERY
            ) -> Iterator[tuple[str, str, Envelope | bytes]]:
    """`total` messages (topic, key, and the envelope or a malformed message's bytes) in publishing order: the
    roster, then each round one event of every household's life; one in `malformed_every` is malformed."""
    opened = opened_payloads(households, derived("import"))
    events, units, cadres, programs, trainings = roster(households)
    people = [Household(n, derived("case", n), case_federation(n), {**opened[n], "imported": None},
                        units[n % len(units)], cadres[n % len(cadres)], programs[n % len(programs)],
                        trainings[n % len(trainings)]) for n in range(households)]
    t0 = datetime(2026, 1, 5, 8, tzinfo=UTC)

    def lives() -> Iterator[tuple[str, str, str, dict[str, Any]]]:  # (type, case id, federation, payload)
        yield from events
        for step in count():
            kind = LIFE[step] if step < len(LIFE) else CYCLE[(step - len(LIFE)) % len(CYCLE)]
            on = DAY0 + timedelta(days=3 * step)
            for h in people:
                yield kind, h.case_id, h.federation, payload(kind, h, step, on)

    checked: set[str] = set()
    for n, (kind, case_id, federation, body) in enumerate(islice(lives(), total)):
        topic = TOPICS[service_of(kind)]
        if n % malformed_every == malformed_every - 1:
            yield topic, case_id, MALFORMED[(n // malformed_every) % len(MALFORMED)]
            continue
        at = t0 + timedelta(milliseconds=n)
        envelope = Envelope(str(uuid.uuid4()), kind, 1, at, at, federation, case_id, service_of(kind), body)
        if kind not in checked:  # every type once against its contract: the entries are what services publish
            encode(envelope, check=True)
            checked.add(kind)
        yield topic, case_id, envelope


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def build(url: str, total: int, households: int, signer: Signer) -> float:
    """Append the backlog to a fresh trail in batches of CHECKPOINT_EVERY, a checkpoint after each; seconds."""
    trail = Trail(store_env(url))
    offsets: dict[str, int] = {}
    started = time.perf_counter()
    try:
        trail.checkpoint_if_due(signer, CHECKPOINT_EVERY, math.inf)  # the empty log's, as the sequencer signs
        for chunk in batched(backlog(total, households), CHECKPOINT_EVERY):
            items: list[tuple[Source, bytes | None, Envelope | None, str | None]] = []
            positions: dict[str, int] = {}
            for topic, _, message in chunk:
                offsets[topic] = positions[f"{topic}:0"] = offsets.get(topic, -1) + 1
                source = Source(topic, 0, offsets[topic])
                items.append((source, None, message, None) if isinstance(message, Envelope) else
                             (source, message, None, reason(message)))
            append = trail.append(items, WRITER)
            trail.store(append, positions)
            trail.checkpoint_if_due(signer, CHECKPOINT_EVERY, 0.0, head=Head(append.size, append.root()))
            if append.size % 100_000 < CHECKPOINT_EVERY:
                print(f"  built {append.size:,} entries ({time.perf_counter() - started:.0f}s)", flush=True)
    finally:
        trail.close()
    return time.perf_counter() - started


def reason(raw: bytes) -> str:
    """Why the sequencer refuses a malformed message (what its SourceRejected entry says)."""
    try:
        decode(raw)
    except InvalidEvent as refused:
        return refused.reason
    raise ValueError("a message meant to be malformed decodes")


# The child's own high-water resident set: getrusage's RUSAGE_CHILDREN would count the parent's pages the
# child had between fork and exec (the built trail's, here).
PEAK = "next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) / 1024"


def verify_in_child(url: str, key: str, page: int) -> dict[str, Any]:
    """Run logcheck's command in a fresh process; its answer, seconds, output and peak RSS, and the peak RSS of
    a process that only imports it."""
    imports = subprocess.run([sys.executable, "-c", f"import services.audit.logcheck; print({PEAK})"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.split()[-1]
    code = ("import json, sys, time; from services.audit.logcheck import main; t = time.perf_counter(); "
            f"c = main(sys.argv[1:]); print(json.dumps({{'code': c, 'seconds': time.perf_counter() - t, "
            f"'peak_mb': {PEAK}}}))")
    done = subprocess.run([sys.executable, "-c", code, "--store", url, "--key", key, "--page", str(page)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    lines = done.stdout.strip().splitlines()
    if not lines or done.returncode != 0:
        raise RuntimeError(f"the check's process failed ({done.returncode}): {done.stderr[-2000:]}")
    return {**json.loads(lines[-1]), "output": lines[:-1], "imports_mb": float(imports)}


def sha256_floor(path: Path, page: int) -> dict[str, float]:
    """hashlib SHA-256 of every entry's bytes (the leaf hash, nothing else), read in pages as the check reads
    them: the seconds hashing alone and with the reads."""
    hashing = 0.0
    entries = 0
    started = time.perf_counter()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        read, after = sqlite_entries(db), None
        while rows := read(after, page):
            began = time.perf_counter()
            for row in rows:
                hashlib.sha256(b"\x00" + row[4]).digest()
            hashing += time.perf_counter() - began
            entries += len(rows)
            after = rows[-1][0]
    return {"entries": entries, "hashing": hashing, "with_reads": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries of the trail built")
    parser.add_argument("--cases", type=int, default=5_000, help="households whose lives fill the trail")
    parser.add_argument("--page", type=int, default=PAGE, help="entries the check reads per query")
    parser.add_argument("--reuse", type=Path, metavar="PATH",
                        help="a SQLite store kept between runs: built there if absent, else checked as it is")
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    signer = Signer.parse(str(service_config("audit")["AUDIT_SIGNING_KEY"]))
    with tempfile.TemporaryDirectory(prefix="relief-bench-") as tmp:
        path = args.reuse.resolve() if args.reuse else Path(tmp) / "audit.db"
        url = f"sqlite:///{path}"
        if path.exists():
            print(f"reusing {path} ({path.stat().st_size / 1e9:.2f} GB)")
        else:
            seconds = build(url, args.entries, args.cases, signer)
            print(f"built {args.entries:,} entries of {args.cases:,} households in {seconds:.0f}s "
                  f"({args.entries / seconds:,.0f} entries/s, not the figure); {path.stat().st_size / 1e9:.2f} GB")
        found = verify_in_child(url, signer.verifier.format(), args.page)
        floor = sha256_floor(path, args.page)
    for line in found["output"]:
        print(f"  logcheck: {line}")
    entries = floor["entries"]
    rate = entries / found["seconds"]
    valid = found["code"] == 0
    met = valid and rate >= TARGET_RATE and found["peak_mb"] <= TARGET_RSS_MB
    print(f"replay + verify (services.audit.logcheck, a fresh process, pages of {args.page:,}): {entries:,} entries "
          f"in {found['seconds']:.1f}s = {rate:,.0f} entries/s; peak RSS {found['peak_mb']:.0f} MB (its imports "
          f"alone {found['imports_mb']:.0f} MB); {'valid' if valid else 'NOT VALID'}")
    print(f"floor, hashlib SHA-256 of the same entry bytes: {entries / floor['hashing']:,.0f} entries/s hashing alone, "
          f"{entries / floor['with_reads']:,.0f} entries/s with the page reads")
    print(f"targets ≥ {TARGET_RATE:,} entries/s and ≤ {TARGET_RSS_MB} MB: {'met' if met else 'NOT met'}")
    print(f"load average at the end: {load_average()}")
    if not valid:
        sys.exit(1)


if __name__ == "__main__":
    main()
