"""The audit HTTP service (nameko): the trail as a C2SP tlog-tiles log, proofs, case histories, erasure.

The sequencer (services/audit/sequencer.py) appends on the replica that holds its lease; every replica
serves these reads from the store they share.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from werkzeug.wrappers import Request, Response

from services.audit.application import HistoryNotFound, NotInLog, Trail
from services.audit.card_page import render
from services.audit.metrics import GAUGES
from services.audit.schemas import (
    AnomaliesQuery,
    AnomaliesView,
    AsOfQuery,
    AsOfView,
    BundleQuery,
    BundleView,
    CardQuery,
    CardView,
    CaseHistoryView,
    CheckpointList,
    CheckpointsQuery,
    ClearQuery,
    ClearView,
    ConsistencyProof,
    ConsistencyQuery,
    ErasureRequest,
    ErasureView,
    InclusionProof,
    InclusionQuery,
    ReadsQuery,
    ReadsView,
)
from services.audit.sequencer import Sequencer
from services.metrics.gauges import GaugeFeed
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.auth import Principal
from services.web.entrypoint import routes
from services.web.errors import BadRequest
from services.web.operations import Operations

route = routes({HistoryNotFound: (404, "not_found"), NotInLog: (404, "not_found")})
HISTORY_READERS = ("auditor", "caseworker", "approver", "admin")
LOG_READERS = ("auditor", "admin")
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"
BINARY = "application/octet-stream"
# C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>], N in 3-digit groups, x on all but the last.
TILE_PATH = re.compile(r"(entries|[0-9]|[1-5][0-9]|6[0-3])/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")
Reply = tuple[int, Any]


class AuditService(Operations):
    name = "audit"
    title = "Audit: a transparency log of every event (审计)"

    trail: Trail = EventStore(Trail)
    sequencer = Sequencer()
    waker = HubWaker()
    gauges = GaugeFeed(GAUGES, "trail")  # checkpoint age and log size, read from the store on every replica

    @route("GET", "/log/checkpoint", roles=LOG_READERS,
           responses={200: ("the newest signed checkpoint: a C2SP checkpoint in a C2SP signed note "
                            "(text/plain; charset=utf-8)", None)},
           summary="The log's newest signed checkpoint (C2SP tlog-checkpoint)")
    def checkpoint(self, request: Request, principal: Principal) -> Response:
        _, note = self.trail.latest_checkpoint()
        return Response(note.encode(), status=200, content_type=TEXT, headers={"Cache-Control": "no-cache"})

    @route("GET", "/log/tile/<path:tile>", roles=LOG_READERS,
           responses={200: ("a hash tile (32-byte hashes) or an entry bundle (uint16 length + entry each), "
                            "application/octet-stream", None),
                      400: "not a tile path of C2SP tlog-tiles"},
           summary="Hash tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>] (C2SP tlog-tiles)")
    def tile(self, request: Request, principal: Principal, tile: str) -> Response:
        match = TILE_PATH.fullmatch(tile)
        if match is None:
            raise BadRequest("not a tile path", {"tile": [
                "not a tlog-tiles path: <L>/<N>[.p/<W>] or entries/<N>[.p/<W>], N as 3-digit groups with x on all "
                "but the last (x001/234)"]})
        kind, digits, width_text = match.groups()
        width = int(width_text) if width_text is not None else None
        if width is not None and not 1 <= width <= 255:
            raise BadRequest("not a tile path", {"tile": ["a partial tile's width is 1 to 255"]})
        index = int(digits.replace("x", "").replace("/", ""))
        read = self.trail.entry_bundle if kind == "entries" else partial(self.trail.tile, int(kind))
        data = read(index, width)
        cache = "no-cache" if width is not None else "public, max-age=31536000, immutable"
        return Response(data, status=200, content_type=BINARY, headers={"Cache-Control": cache})

    @route("GET", "/log/checkpoints", roles=LOG_READERS, query=CheckpointsQuery, response=CheckpointList,
           summary="Every signed checkpoint from a size on (kept forever), oldest first, 1,000 at a time")
    def checkpoints(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, {"checkpoints": self.trail.checkpoints(query.get("from_", 0))}

    @route("GET", "/proofs/inclusion", roles=LOG_READERS, query=InclusionQuery, response=InclusionProof,
           responses={404: "the log has no such size yet, or the index is not below it"},
           summary="Inclusion proof of the entry at an index in the tree of a size (RFC 9162)")
    def inclusion(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, self.trail.inclusion(query["index"], query["size"])

    @route("GET", "/proofs/consistency", roles=LOG_READERS, query=ConsistencyQuery, response=ConsistencyProof,
           responses={404: "the log has no such size yet, or from is above to"},
           summary="Consistency proof between two sizes of the log (RFC 9162)")
    def consistency(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, self.trail.consistency(query["from_"], query["to"])

    @route("GET", "/cases/<case_id>/history", roles=HISTORY_READERS, response=CaseHistoryView,
           summary="A case's entries in the trail, in order, each with its inclusion proof")
    def case_history(self, request: Request, principal: Principal, case_id: str) -> Reply:
        return 200, self.trail.history(case_id, principal.federation)

    @route("GET", "/cases/<case_id>/bundle", roles=LOG_READERS, query=BundleQuery, response=BundleView,
           responses={404: "no such case in your federation, no checkpoint yet, or no such earlier size"},
           summary="A case's entries with their proofs, the checkpoint and the key: to verify offline (make verify)")
    def case_bundle(self, request: Request, principal: Principal, query: dict[str, Any], case_id: str) -> Reply:
        bundle = self.trail.bundle(case_id, principal.federation, query.get("since"))
        return 200, {**bundle, "verifier_key": self.sequencer.signer.verifier.format()}

    @route("POST", "/cases/<case_id>/erasure", roles=("admin",), body=ErasureRequest, response=ErasureView,
           responses={200: "the person's (or the case's) values beside the log are erased; the count"},
           summary="Erase a person's personal data beside the log (PIPL); the log and its proofs stay valid")
    def erase(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        erased = self.trail.erase(case_id, body["subject"], principal.federation)
        return 200, {"case_id": case_id, "subject": body["subject"], "erased": erased}

    @route("GET", "/cases/<case_id>/as-of", roles=HISTORY_READERS, query=AsOfQuery, response=AsOfView,
           responses={404: "no such case in your federation, or nothing of it recorded by that day"},
           summary="The case as the trail recorded it by the end of a day: state, pairing, visits, aid, referrals")
    def case_as_of(self, request: Request, principal: Principal, query: dict[str, Any], case_id: str) -> Reply:
        return 200, self.trail.as_of(case_id, query["date"], principal.federation)

    @route("GET", "/cases/<case_id>/card", roles=HISTORY_READERS, query=CardQuery, response=CardView,
           responses={404: "no such household in your federation"},
           summary="The household's clarity card (明白卡) from the trail, each line with its trail indexes")
    def case_card(self, request: Request, principal: Principal, query: dict[str, Any], case_id: str) -> Reply:
        return 200, self.trail.card(case_id, query.get("as_of") or self.trail.today(), principal.federation)

    @route("GET", "/cases/<case_id>/card.html", roles=HISTORY_READERS, query=CardQuery,
           responses={200: ("the clarity card as a printable zh-CN page (text/html; charset=utf-8)", None),
                      404: "no such household in your federation"},
           summary="The household's clarity card (明白卡) as a printable page")
    def case_card_page(self, request: Request, principal: Principal, query: dict[str, Any], case_id: str) -> Response:
        card = self.trail.card(case_id, query.get("as_of") or self.trail.today(), principal.federation)
        return Response(render(card).encode(), status=200, content_type=HTML,
                        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; "
                                 "style-src 'unsafe-inline'"})

    @route("GET", "/household-clear", roles=HISTORY_READERS, query=ClearQuery, response=ClearView,
           summary="户户清: for each household filed on a day, which of the six clear items fail and why")
    def household_clear(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        root = principal.subtree(query.get("federation"))
        return 200, self.trail.household_clear(root, query.get("as_of") or self.trail.today(), query.get("after"),
                                                query.get("limit", 500))

    @route("GET", "/reads", roles=LOG_READERS, query=ReadsQuery, response=ReadsView,
           summary="Who was shown a case's ID numbers and phone in full, when, and the reason they gave (查看记录)")
    def reads(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        root = principal.subtree(query.get("federation"))
        return 200, self.trail.reads(root, query.get("case_id"), query.get("after"), query.get("limit", 200))

    @route("GET", "/anomalies", roles=LOG_READERS, query=AnomaliesQuery, response=AnomaliesView,
           summary="Anomalies (跑冒滴漏) found in the trail alone, each with the entries that prove it")
    def anomalies(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        root = principal.subtree(query.get("federation"))
        end = query.get("to") or self.trail.today()
        start = query.get("from_")
        if start is not None and start > end:
            raise BadRequest("invalid query", {"from": ["must not be after to"]})
        return 200, self.trail.anomalies(root, start, end)
