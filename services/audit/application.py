"""The audit application (Trail): a transparency log of every consumed event, and what it proves.

The trail's record is the log itself (services/audit/log.py): index tables written by the sequencer in
the same transaction as the consumed positions. Reads (histories, checkpoints, tiles, proofs) work on any
replica; only the sequencer appends (services/audit/sequencer.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from services.audit import log
from services.audit.entries import Secret, Source, rejected_event, reveal, seal
from services.audit.log import CASES, CHECKPOINTS, ENTRIES, SECRETS, Append, Head, stored_tree
from services.audit.merkle import TILE_WIDTH, encode_entry_bundle, tile_width
from services.audit.note import Checkpoint, Signer, sign_checkpoint
from services.contracts import Envelope
from services.contracts.federation import in_subtree
from services.eventstore import IndexedApplication, Put, Release


class HistoryNotFound(Exception):
    """No history for this case is visible to the caller."""


class NotInLog(Exception):
    """A tile, bundle, index or size the log does not have (yet)."""


class Trail(IndexedApplication):
    """Every event of every service, once each, in one signed Merkle log."""

    name = "Audit"
    tables = log.TABLES

    # Appending (the sequencer only).

    def append(self, messages: Sequence[tuple[Source, bytes | None, Envelope | None, str | None]],
               writer: str) -> Append:
        """Build one batch: an entry per message, the valid ones sealed (personal data committed), the others
        as SourceRejected with the reason. Nothing is stored until `store` commits it with the positions."""
        append = Append.start(self.select_rows, (e.case_id for _, _, e, _ in messages if e is not None), writer)
        for source, raw, envelope, problem in messages:
            if envelope is None:
                append.add(None, None, source, rejected_event(raw, problem or "not a valid event"))
            else:
                sealed, secrets = seal(envelope.to_dict())
                append.add(envelope.case_id, envelope.federation, source, sealed, secrets)
        return append

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
        rows = self.select_rows(ENTRIES, equal={"case_id": case_id})
        latest = self.latest_checkpoint_row()
        signed, note = (0, None) if latest is None else (int(latest["size"]), latest["note"])
        tree = stored_tree(self.select_rows, signed)
        secrets = self._secrets(case_id)
        events = []
        for row in rows:
            entry = json.loads(row["entry"])
            event, erased = reveal(entry["event"], secrets)
            index = int(row["idx"])
            proof = [h.hex() for h in tree.inclusion_proof(index, signed)] if index < signed else None
            events.append({"index": index, "case_seq": entry["case_seq"], "leaf_hash": row["leaf"],
                           "prev_case_hash": entry["prev_case_hash"], "source": entry["source"],
                           "erased": erased, "inclusion": proof, **_shown(event)})
        return {"case_id": case_id, "federation": federation, "checkpoint": note, "size": signed, "events": events}

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

