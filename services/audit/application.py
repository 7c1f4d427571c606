"""The audit application (Trail): a transparency log of every consumed event, and what it proves.

The trail's record is the log itself (services/audit/log.py): index tables written by the sequencer in
the same transaction as the consumed positions. Reads (histories, checkpoints, tiles, proofs) work on any
replica; only the sequencer appends (services/audit/sequencer.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from eventsourcing.persistence import Tracking

from services import clock
from services.audit import log
from services.audit.anomalies import Budgets, anomalies
from services.audit.entries import Secret, Source, rejected_event, reveal, seal_checked
from services.audit.fold import CaseFold, as_of_view, card, fold, household_clear, roster_of
from services.audit.log import CASES, CHECKPOINTS, ENTRIES, READS, SECRETS, Append, Head, stored_tree
from services.audit.merkle import TILE_WIDTH, encode_entry_bundle, tile_width
from services.audit.note import Checkpoint, Signer, sign_checkpoint
from services.config import setting
from services.contracts import Envelope
from services.contracts.federation import in_subtree
from services.eventstore import IndexedApplication, Put, Release
from services.eventstore.migrations import Migration, create_tables
from services.pairing.visits import FOLLOW_UP_MONTHS


class HistoryNotFound(Exception):
    """No history for this case is visible to the caller."""


class NotInLog(Exception):
    """A tile, bundle, index or size the log does not have (yet)."""


READ_EVENT = "PersonalDataViewed"  # intake's record of a disclosure


def read_row(index: int, envelope: Envelope) -> dict[str, Any]:
    return {"idx": log.idx_key(index), "case_id": envelope.case_id or "", "federation": envelope.federation or "",
            "by": str(envelope.payload.get("by", "")), "reason": str(envelope.payload.get("reason", "")),
            "viewed_at": envelope.occurred_at.isoformat()}


class Trail(IndexedApplication):
    """Every event of every service, once each, in one signed Merkle log."""

    name = "Audit"
    tables = (*log.TABLES, READS)
    migrations = (
        Migration(1, "create the index tables", create_tables(*log.TABLES)),
        Migration(2, "the reads of personal data (查看记录)", create_tables(READS)),
    )

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        # The same setting as pairing's, so that the trail's overdue visits are the ones pairing reports.
        self.follow_up_months = setting(self.env, "PAIRING_FOLLOW_UP_MONTHS", FOLLOW_UP_MONTHS, 0, 120)

    def today(self) -> date:
        """The day business dates are checked against, as in every service (the machine's clock)."""
        return clock.today()

    # Appending (the sequencer only).

    def append(self, messages: Sequence[tuple[Source, bytes | None, Envelope | None, str | None]],
               writer: str, after: Append | None = None) -> Append:
        """Build one batch: an entry per message, the valid ones sealed (personal data committed), the others
        as SourceRejected with the reason. Nothing is stored until `store` commits it with the positions.
        `after`: the batch before this one, still being committed: this one continues it in memory."""
        case_ids = (e.case_id for _, _, e, _ in messages if e is not None)
        append = Append.start(self.select_rows, case_ids, writer) if after is None \
            else Append.after(after, self.select_rows, case_ids, writer)
        for source, raw, envelope, problem in messages:
            if envelope is None:
                append.add(None, None, source, rejected_event(raw, problem or "not a valid event"))
            else:
                sealed, secrets, plain = seal_checked(envelope.to_dict())
                index = append.add(envelope.case_id, envelope.federation, source, sealed, secrets, plain)
                if envelope.type == READ_EVENT:
                    append.also(Put(READS, read_row(index, envelope)))
        return append

    def reads(self, scope: str, case_id: str | None, after: int | None, limit: int) -> dict[str, Any]:
        """The reads of personal data in the subtree (of one case if asked), oldest first, `limit` a page."""
        criteria: dict[str, Any] = {"subtree": ("federation", scope), "limit": limit}
        if case_id:
            criteria["equal"] = {"case_id": case_id}
        if after is not None:
            criteria["after"] = log.idx_key(after)
        rows = self.select_rows(READS, **criteria)
        reads = [{"index": int(r["idx"]), "case_id": r["case_id"], "federation": r["federation"], "by": r["by"],
                  "reason": r["reason"], "viewed_at": r["viewed_at"]} for r in rows]
        return {"reads": reads, "next": reads[-1]["index"] if len(rows) == limit else None}

    def store(self, append: Append, positions: dict[str, int]) -> None:
        """Commit a batch with the consumed position of every partition it read, or nothing."""
        self.commit([], append.ops(), [Tracking(name, offset) for name, offset in sorted(positions.items())])

    def head(self) -> Head:
        return log.read_head(self.select_rows)

    # Checkpoints.

    def checkpoint_if_due(self, signer: Signer, every: int, seconds: float, now: float | None = None,
                          head: Head | None = None) -> str | None:
        """Sign and keep a checkpoint of the head if `every` entries were appended since the last one, or
        `seconds` passed and the log grew (and always one for the empty log). The signed note, or None.
        `head`: the log's head, if the caller (the sequencer, which just appended) knows it."""
        now = time.time() if now is None else now
        head, last = head or self.head(), self.latest_checkpoint_row()
        if last is not None:
            grown = head.size - int(last["size"])
            if grown <= 0 or (grown < every and now - float(last["made_at"]) < seconds):
                return None
        note = sign_checkpoint(Checkpoint(signer.name, head.size, head.root), signer)
        self.commit([], [Put(CHECKPOINTS, {"size": log.idx_key(head.size), "root": head.root.hex(), "note": note,
                                           "made_at": repr(now)}),
                         Put(log.HEAD, {"name": log.CHECKPOINT, "size": str(head.size), "root": head.root.hex()})], [])
        return note

    def latest_checkpoint_row(self) -> dict[str, Any] | None:
        latest = self.select_rows(log.HEAD, keys=[log.CHECKPOINT])
        if not latest:
            return None
        rows = self.select_rows(CHECKPOINTS, keys=[log.idx_key(int(latest[0]["size"]))])
        return rows[0] if rows else None

    def latest_checkpoint(self) -> tuple[int, str]:
        row = self.latest_checkpoint_row()
        if row is None:
            raise NotInLog("no checkpoint is signed yet")
        return int(row["size"]), row["note"]

    def checkpoints(self, since: int, limit: int = 1000) -> list[dict[str, Any]]:
        after = log.idx_key(since - 1) if since > 0 else None
        return [{"size": int(r["size"]), "root": r["root"], "note": r["note"], "made_at": float(r["made_at"])}
                for r in self.select_rows(CHECKPOINTS, after=after, limit=limit)]

    # Tiles and proofs.

    def tile(self, level: int, index: int, width: int | None) -> bytes:
        """A hash tile, full (width None) or of the partial width asked, if the log holds that many hashes."""
        wanted = self._width("tile", level, index, width)
        data = log.tile_bytes(self.select_rows, level, index, wanted)
        if data is None:
            raise NotInLog(f"tile {level}/{index} is not stored")
        return data

    def entry_bundle(self, index: int, width: int | None) -> bytes:
        wanted = self._width("entry bundle", 0, index, width)
        rows = log.entry_rows(self.select_rows, index * TILE_WIDTH, wanted)
        if len(rows) != wanted:
            raise NotInLog(f"entry bundle {index} is not stored")
        return encode_entry_bundle(r["entry"].encode() for r in rows)

    def _width(self, what: str, level: int, index: int, width: int | None) -> int:
        wanted = TILE_WIDTH if width is None else width
        if not 0 < wanted <= tile_width(level, index, self.head().size):
            raise NotInLog(f"{what} {level}/{index} of width {wanted} is not in the log")
        return wanted

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        self._within(size)
        if not 0 <= index < size:
            raise NotInLog(f"index {index} is not below size {size}")
        tree = stored_tree(self.select_rows, size)
        leaf = self.select_rows(ENTRIES, keys=[log.idx_key(index)])[0]["leaf"]
        return {"index": index, "size": size, "leaf_hash": leaf,
                "hashes": [h.hex() for h in tree.inclusion_proof(index, size)], "root": tree.root_at(size).hex()}

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        self._within(second)
        if not 0 < first <= second:
            raise NotInLog(f"consistency needs 0 < from <= to, got {first} and {second}")
        tree = stored_tree(self.select_rows, second)
        return {"from": first, "to": second, "hashes": [h.hex() for h in tree.consistency_proof(first, second)],
                "from_root": tree.root_at(first).hex(), "to_root": tree.root_at(second).hex()}

    def _within(self, size: int) -> None:
        if size > self.head().size or size < 0:
            raise NotInLog(f"the log has no size {size}")

    # Cases.

    def history(self, case_id: str, scope: str | None = None) -> dict[str, Any]:
        """A case's entries in order, each revealed (or "erased") and proved against the latest checkpoint;
        HistoryNotFound for a case outside `scope` (a federation)."""
        federation = self._federation(case_id, scope)
        latest = self.latest_checkpoint_row()
        signed, note = (0, None) if latest is None else (int(latest["size"]), latest["note"])
        tree = stored_tree(self.select_rows, signed)
        events = []
        for event in self._events(case_id):
            index = event["index"]
            proof = [h.hex() for h in tree.inclusion_proof(index, signed)] if index < signed else None
            events.append({**event, "inclusion": proof})
        return {"case_id": case_id, "federation": federation, "checkpoint": note, "size": signed, "events": events}

    def _events(self, case_id: str) -> list[dict[str, Any]]:
        """A case's (or a unit's, program's…) entries in log order, personal values revealed or "erased"."""
        secrets = self._secrets(case_id)
        events = []
        for row in self.select_rows(ENTRIES, equal={"case_id": case_id}):
            entry = json.loads(row["entry"])
            event, erased = reveal(entry["event"], secrets)
            events.append({"index": int(row["idx"]), "case_seq": entry["case_seq"], "leaf_hash": row["leaf"],
                           "prev_case_hash": entry["prev_case_hash"], "source": entry["source"], "erased": erased,
                           **_shown(event)})
        return events

    # Folds of the trail: the case as of a day, its clarity card, household-clear, anomalies.

    def as_of(self, case_id: str, day: date, scope: str | None = None) -> dict[str, Any]:
        """The case as the trail recorded it by the end of `day`."""
        self._federation(case_id, scope)
        case = fold(case_id, self._events(case_id), until=day)
        if not case.indexes:
            raise HistoryNotFound(f"{case_id} has no entry recorded by {day}")
        return as_of_view(case, day)

    def card(self, case_id: str, day: date, scope: str | None = None) -> dict[str, Any]:
        """The household's clarity card (明白卡) from the trail, every line with the indexes that prove it."""
        self._federation(case_id, scope)
        case = fold(case_id, self._events(case_id), until=day)
        if case.worker is None:
            raise HistoryNotFound(f"{case_id} is not a household's case")
        wanted = [] if case.pairing is None else [case.pairing["unit_id"], case.pairing["cadre_id"]]
        roster = self._records(wanted)
        programs = self._records({str(d["program_id"]) for d in case.disbursements.values() if d.get("program_id")})
        trainings = self._records({t["training_id"] for t in case.trainings.values()})
        return card(case, roster, programs, trainings, day)

    def household_clear(self, scope: str, day: date, after: str | None = None,
                        limit: int = 500) -> dict[str, Any]:
        """户户清 for each household filed on `day` in the subtree, `limit` cases scanned at a time from `after`."""
        heads = self.select_rows(CASES, subtree=("federation", scope), after=after, limit=limit)
        results = []
        trainings: dict[str, dict[str, Any]] = {}  # the courses, read once for the whole page
        for head in heads:
            case = fold(head["case_id"], self._events(head["case_id"]), until=day)
            if case.worker is not None and case.filed_on(day):
                trainings.update(self._records({t["training_id"] for t in case.trainings.values()} - set(trainings)))
                results.append(household_clear(case, day, trainings, self.follow_up_months))
        return {"federation": scope, "as_of": day.isoformat(), "households": len(results),
                "clear": sum(1 for r in results if r["clear"]), "cases": results,
                "next": heads[-1]["case_id"] if len(heads) == limit else None}

    def anomalies(self, scope: str, start: date | None, end: date) -> dict[str, Any]:
        """Every anomaly found in the subtree's trail from `start` to `end`, each with the indexes proving it."""
        cases: list[CaseFold] = []
        budgets, programs = Budgets(), {}
        for head in self.select_rows(CASES, subtree=("federation", scope)):
            events = self._events(head["case_id"])
            kinds = {e["type"] for e in events}
            if "BudgetAllocated" in kinds:
                for e in events:
                    budgets.allocated(e)
            elif "ProgramCreated" in kinds:
                programs[head["case_id"]] = roster_of(events)
            else:
                cases.append(fold(head["case_id"], events, until=end))
        wanted = {str(d["program_id"]) for c in cases for d in c.disbursements.values() if d.get("program_id")}
        programs.update(self._records(wanted - set(programs)))
        found = anomalies(cases, programs, budgets, start, end, self.follow_up_months)
        return {"federation": scope, "from": start.isoformat() if start else None, "to": end.isoformat(),
                "findings": found}

    def _records(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The own records (units, cadres, programs, trainings) of these ids, whatever their federation: they
        hold no household's data."""
        return {i: roster_of(events) for i in ids if (events := self._events(i))}

    def bundle(self, case_id: str, scope: str | None = None, since: int | None = None) -> dict[str, Any]:
        """What an auditor takes away to verify offline (services/audit/verify.py): the case's entries up to the
        newest checkpoint with their inclusion proofs, that checkpoint, the openings of the personal values
        still kept, and with `since` a consistency proof from that earlier size."""
        federation = self._federation(case_id, scope)
        latest = self.latest_checkpoint_row()
        if latest is None:
            raise NotInLog("no checkpoint is signed yet")
        size = int(latest["size"])
        if since is not None and not 0 < since <= size:
            raise NotInLog(f"the checkpoint of size {size} has no consistency proof from size {since}")
        tree = stored_tree(self.select_rows, size)
        rows = [r for r in self.select_rows(ENTRIES, equal={"case_id": case_id}) if int(r["idx"]) < size]
        entries = [{"index": int(r["idx"]), "leaf_hash": r["leaf"], "entry": r["entry"],
                    "inclusion": [h.hex() for h in tree.inclusion_proof(int(r["idx"]), size)]} for r in rows]
        openings = {c: {"salt": s.salt, "value": s.value} for c, s in self._secrets(case_id).items()}
        consistency = None if since is None else {
            "from": since, "hashes": [h.hex() for h in tree.consistency_proof(since, size)]}
        return {"case_id": case_id, "federation": federation, "size": size, "checkpoint": latest["note"],
                "entries": entries, "openings": openings, "consistency": consistency}

    def _federation(self, case_id: str, scope: str | None) -> str:
        heads = self.select_rows(CASES, keys=[case_id])
        if not heads or (scope is not None and not in_subtree(heads[0]["federation"], scope)):
            raise HistoryNotFound(case_id)
        return str(heads[0]["federation"])

    def _secrets(self, case_id: str) -> dict[str, Secret]:
        return {r["commitment"]: Secret(r["commitment"], r["salt"], r["value"], r["case_id"], r["subject"])
                for r in self.select_rows(SECRETS, equal={"case_id": case_id})}

    def erase(self, case_id: str, subject: str | None, scope: str | None = None) -> int:
        """Erase the personal data of one person of a case (their id digest), or of the whole case: the values
        beside the log go; the log keeps its commitments and still verifies. How many values were erased.

        The store then scrubs its files: on SQLite the deleted rows were overwritten and the write-ahead log
        is truncated, so the values are nowhere in the files; on PostgreSQL they leave the disk when VACUUM
        reuses the space."""
        self._federation(case_id, scope)
        equal = {"case_id": case_id} if subject is None else {"case_id": case_id, "subject": subject}
        rows = self.select_rows(SECRETS, equal=equal)
        if rows:
            self.commit([], [Release(SECRETS, r["commitment"]) for r in rows], [])
            self.indexed.scrub()
        return len(rows)


def _shown(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("event_id", "type", "version", "service", "federation", "occurred_at", "recorded_at", "payload")
    return {k: event.get(k) for k in keys}

