"""The pairing HTTP service (nameko): every route, each calling one named command or query of Pairings.

The roster, each filed household's pairing, visits and coverage (结对帮扶、一帮一、季季访). Who may do what:

- **admin** (the coordinator of a federation): keeps the roster (units, cadres, retirements, imports) and the
  capacity setting, may override a pairing, and is the only role that sees a cadre's phone in full.
- **approver**: may override a pairing in their federation (a coordinator's decision), and reads.
- **caseworker**: records visits to any household of their federation, and reads.
- **cadre**: records visits to their own households only (the application checks the token's user
  against the paired cadre and contact: 403 otherwise) and lists them at `GET /my/households`.
- **auditor**: reads everything a caseworker reads, changes nothing.

Every read and write is limited to the caller's federation subtree. Handlers take each argument from the
validated body by name; the error table and role groups are here, once.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from werkzeug.wrappers import Request

from services.contracts.topics import INTAKE_TOPIC
from services.metrics.gauges import GaugeFeed
from services.pairing.application import (
    CadreInactive,
    CapacityFull,
    ConcurrentChange,
    DuplicateUser,
    NotFound,
    NotYourHousehold,
    OutsideScope,
    OutsideSubtree,
    Pairings,
)
from services.pairing.domain import UNPAIRED, Cadre, IllegalTransition, InvalidValue, NotPaired
from services.pairing.metrics import GAUGES
from services.pairing.outbound import pairing_event
from services.pairing.roster_import import CSV, XLSX, RosterImportError, RosterImportView, import_roster
from services.pairing.schemas import (
    AsOfQuery,
    CadreList,
    CadreQuery,
    CadreRequest,
    CadreView,
    CapacityRequest,
    CapacityView,
    Coverage,
    CoverageQuery,
    FederationQuery,
    HouseholdList,
    HouseholdQuery,
    OverdueList,
    OverrideRequest,
    PairingView,
    RetirementRequest,
    UnitList,
    UnitRequest,
    UnitView,
    VisitList,
    VisitRequest,
)
from services.pairing.views import cadre_view, capacity_view, pairing_view, unit_list, unit_view, visit_list
from services.runtime.batch import Batch
from services.runtime.consumer import consume
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.auth import Principal
from services.web.entrypoint import routes
from services.web.errors import BadRequest
from services.web.operations import Operations

ERRORS: dict[type[Exception], tuple[int, str]] = {
    InvalidValue: (400, "bad_request"),  # a rule the schema did not catch: a future date, a visit before filing
    NotYourHousehold: (403, "not_your_household"),
    OutsideScope: (403, "forbidden"),
    NotFound: (404, "not_found"),
    IllegalTransition: (409, "illegal_transition"),
    NotPaired: (409, "not_paired"),
    CapacityFull: (409, "capacity_full"),
    OutsideSubtree: (409, "outside_subtree"),
    CadreInactive: (409, "cadre_inactive"),
    DuplicateUser: (409, "duplicate_user"),
    ConcurrentChange: (409, "concurrent_change"),
}
route = routes(ERRORS)

COORDINATORS = ("admin",)
OVERRIDERS = ("admin", "approver")
VISITORS = ("cadre", "caseworker")
CADRES = ("cadre",)
SUPERVISORS = ("caseworker", "approver", "auditor", "admin")
READERS = ("caseworker", "approver", "cadre", "auditor", "admin")

ROSTER_MAX_BYTES = 5 * 1024 * 1024  # a roster file; JSON bodies keep the container's MAX_BODY_BYTES
Reply = tuple[int, Any]


class PairingService(Operations):
    name = "pairing"
    title = "Pairing: helper units and cadres for every filed household, and their visits (结对帮扶)"

    pairings: Pairings = EventStore(Pairings, outbound=pairing_event,
                                    PAIRING_FOLLOW_UP_MONTHS="PAIRING_FOLLOW_UP_MONTHS",
                                    PAIRING_PAIRED_WITHIN_DAYS="PAIRING_PAIRED_WITHIN_DAYS")
    waker = HubWaker()
    gauges = GaugeFeed(GAUGES, "pairings")  # coverage gauges read from this service's index

    @consume(topics=[INTAKE_TOPIC])
    def on_intake_events(self, batch: Batch) -> None:
        """Keep pairing's view of each case and pair, hand over or end pairings as intake reports them."""
        for delivery in batch:
            if not self.pairings.apply_intake_event(delivery.envelope):
                batch.already_had(delivery)

    # The roster (帮扶单位, 帮扶责任人) and capacity.

    @route("POST", "/units", roles=COORDINATORS, body=UnitRequest, response=UnitView,
           summary="Register a helper unit (帮扶单位) with its function")
    def register_unit(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        unit = self.pairings.register_unit(name=body["name"], function=body["function"],
                                           federation=body["federation"], scope=principal.federation,
                                           by=principal.user)
        return 201, unit_view(unit)

    @route("GET", "/units", roles=READERS, query=FederationQuery, response=UnitList,
           summary="Helper units at and under a federation (default yours)")
    def list_units(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, unit_list(self.pairings.units(principal.federation, query.get("federation")))

    @route("POST", "/cadres", roles=COORDINATORS, body=CadreRequest, response=CadreView,
           responses={404: "no such unit in your federation"},
           summary="Register a cadre (帮扶责任人); households waiting for one are paired at once")
    def register_cadre(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        cadre = self.pairings.register_cadre(
            name=body["name"], unit_id=body["unit_id"], rank=body["rank"], federation=body["federation"],
            phone=body["phone"], user=body["user"], scope=principal.federation, by=principal.user,
        )
        return 201, self._cadre(cadre, principal)

    @route("GET", "/cadres", roles=READERS, query=CadreQuery, response=CadreList,
           summary="Cadres at and under a federation, each with load and capacity (phones masked but to admin)")
    def list_cadres(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows = self.pairings.cadres(principal.federation, query.get("federation"), query.get("unit_id"))
        return 200, {"cadres": [cadre_view(self.pairings.load(UUID(r["cadre_id"])), principal, r["load"],
                                             r["capacity"]) for r in rows]}

    @route("POST", "/cadres/<cadre_id>/retirement", roles=COORDINATORS, body=RetirementRequest,
           response=CadreView, summary="Retire a cadre (调离、退休); their households are handed over")
    def retire_cadre(self, request: Request, principal: Principal, body: dict[str, Any], cadre_id: str) -> Reply:
        cadre = self.pairings.retire_cadre(cadre_id, principal.federation, retired_on=body["retired_on"],
                                           reason=body["reason"], by=principal.user)
        return 201, self._cadre(cadre, principal)

    @route("POST", "/roster/imports", roles=COORDINATORS, response=RosterImportView, media_types=(CSV, XLSX),
           max_body=ROSTER_MAX_BYTES,
           responses={400: "not a readable CSV (UTF-8) or XLSX file, columns missing, or too many rows"},
           summary="Import units and cadres from one CSV or XLSX file; rows that fail are listed, the others kept")
    def import_roster(self, request: Request, principal: Principal) -> Reply:
        try:
            report = import_roster(self.pairings, request.get_data(), request.headers.get("Content-Type", ""),
                                   scope=principal.federation, by=principal.user)
        except RosterImportError as exc:
            raise BadRequest(str(exc), {"file": [str(exc)]}) from None
        return 200, report

    @route("PUT", "/capacity/<federation>", roles=COORDINATORS, body=CapacityRequest, response=CapacityView,
           summary="Set how many households a leader and a staff cadre carry at and under a federation")
    def set_capacity(self, request: Request, principal: Principal, body: dict[str, Any], federation: str) -> Reply:
        FederationQuery().load({"federation": federation})  # the path's code, checked like any federation
        capacity = self.pairings.set_capacity(federation, principal.federation, leader=body["leader"],
                                              staff=body["staff"], by=principal.user)
        return 200, capacity_view(capacity)

    # A household's pairing.

    @route("GET", "/pairings/<case_id>", roles=READERS, response=PairingView,
           summary="Who helps a household, and the history of its pairing (404 while never paired)")
    def get_pairing(self, request: Request, principal: Principal, case_id: str) -> Reply:
        pairing = self.pairings.get_pairing(case_id, principal.federation)
        if pairing.status == UNPAIRED and not pairing.history:
            raise NotFound(f"case {case_id} has never been paired")
        return 200, pairing_view(pairing)

    @route("PUT", "/pairings/<case_id>", roles=OVERRIDERS, body=OverrideRequest, response=PairingView,
           summary="Pair a household with a named cadre (a coordinator's override): within capacity and subtree")
    def override(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        pairing = self.pairings.override(case_id, principal.federation, cadre_id=body["cadre_id"],
                                         contact=body["contact"], reason=body["reason"], by=principal.user)
        return 200, pairing_view(pairing)

    # Visits (走访, 回访).

    @route("POST", "/cases/<case_id>/visits", roles=VISITORS, body=VisitRequest, response=VisitList,
           summary="Record a visit: by the household's cadre or contact, or a caseworker of its federation")
    def record_visit(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        pairing = self.pairings.record_visit(
            case_id, principal.federation, role=principal.role, user=principal.user, visited_on=body["visited_on"],
            kind=body["kind"], findings=body["findings"], problems_solved=body["problems_solved"],
            measures=body["measures"], next_steps=body["next_steps"],
        )
        return 201, visit_list(pairing)

    @route("GET", "/cases/<case_id>/visits", roles=READERS, response=VisitList, summary="A household's visits")
    def list_visits(self, request: Request, principal: Principal, case_id: str) -> Reply:
        return 200, visit_list(self.pairings.get_pairing(case_id, principal.federation))

    @route("GET", "/visits/overdue", roles=SUPERVISORS, query=AsOfQuery, response=OverdueList,
           summary="Households without their due visit, most overdue first, with the cadre responsible")
    def overdue(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        root = principal.subtree(query.get("federation"))
        as_of = query.get("as_of") or self.pairings.today()
        households = self.pairings.overdue(root, as_of)
        return 200, {"federation": root, "as_of": as_of.isoformat(), "households": households}

    @route("GET", "/my/households", roles=CADRES, query=HouseholdQuery, response=HouseholdList,
           summary="A cadre's households: the last visit and the next visit due")
    def my_households(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        as_of = query.get("as_of") or self.pairings.today()
        found = [h for h in self.pairings.households(principal.user, as_of) if principal.covers(h["federation"])]
        return 200, {"as_of": as_of.isoformat(), "households": found}

    # Reports.

    @route("GET", "/coverage", roles=SUPERVISORS, query=CoverageQuery, response=Coverage,
           summary="Filed, paired (within N days) and uncovered households, cadre loads, visits per quarter")
    def coverage(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        root = principal.subtree(query.get("federation"))
        found = self.pairings.coverage(root, query.get("as_of"), query.get("within_days"))
        if "uncovered_limit" in query:
            found["uncovered_households"] = found["uncovered_households"][:query["uncovered_limit"]]
        return 200, {"federation": root, **found}

    def _cadre(self, cadre: Cadre, principal: Principal) -> dict[str, Any]:
        rows = self.pairings.cadres(principal.federation, cadre.federation, cadre.unit_id)
        row = next(r for r in rows if r["cadre_id"] == str(cadre.id))
        return cadre_view(cadre, principal, row["load"], row["capacity"])
