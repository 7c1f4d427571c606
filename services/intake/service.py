"""The intake HTTP service (nameko): thin entrypoints over the Cases application."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from services.intake.application import CaseNotFound, Cases
from services.intake.domain import Case, IllegalTransition
from services.intake.identity import mask_id_number, mask_phone
from services.intake.outbound import case_event
from services.intake.schemas import (
    ApprovalRequest,
    CaseList,
    CaseQuery,
    CaseView,
    DeliberationRequest,
    NoticeRequest,
    ObjectionCreated,
    ObjectionRequest,
    OpenCaseRequest,
    ReasonRequest,
    ResolutionRequest,
    VerificationRequest,
)
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.auth import Principal
from services.web.entrypoint import routes
from services.web.operations import Operations

route = routes({IllegalTransition: (409, "illegal_transition"), CaseNotFound: (404, "not_found")})
STAFF = ("caseworker",)
DECIDERS = ("caseworker", "approver")
READERS = ("caseworker", "approver", "cadre", "auditor", "admin")
SEES_PERSONAL_DATA = ("caseworker", "approver")


class IntakeService(Operations):
    name = "intake"
    title = "Intake: identification and filing (建档立卡)"

    cases: Cases = EventStore(Cases, outbound=case_event, PERSON_KEY="PERSON_KEY")  # type: ignore[assignment]
    waker = HubWaker()

    @route("POST", "/cases", roles=STAFF, body=OpenCaseRequest, response=CaseView,
           summary="Open an application (申请)")
    def open_case(self, request: Request, principal: Principal, body: dict[str, Any]) -> tuple[int, Any]:
        principal.require_covers(body["federation"])
        case = self.cases.open_case(opened_by=principal.user, **body)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/verification", roles=STAFF, body=VerificationRequest, response=CaseView,
           summary="Record the home visit and income check (入户核查)")
    def verify(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> tuple[int, Any]:
        case = self.cases.verify(case_id, principal.federation, by=principal.user, **body)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/deliberation", roles=STAFF, body=DeliberationRequest, response=CaseView,
           summary="Record the deliberation (评议)")
    def deliberate(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str
    ) -> tuple[int, Any]:
        case = self.cases.deliberate(case_id, principal.federation, by=principal.user, **body)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/notice", roles=STAFF, body=NoticeRequest, response=CaseView,
           summary="Publish the public notice (公示)")
    def publish_notice(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str
    ) -> tuple[int, Any]:
        case = self.cases.publish_notice(case_id, principal.federation, by=principal.user, **body)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/objections", roles=STAFF, body=ObjectionRequest, response=ObjectionCreated,
           summary="Record an objection raised during the notice")
    def raise_objection(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str
    ) -> tuple[int, Any]:
        case, objection_id = self.cases.raise_objection(case_id, principal.federation, **body)
        return 201, {"objection_id": objection_id, "case": case_view(case, principal)}

    @route("POST", "/cases/<case_id>/objections/<objection_id>/resolution", roles=STAFF, body=ResolutionRequest,
           response=CaseView, summary="Resolve an objection; upheld sends the case back to verification")
    def resolve_objection(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str, objection_id: str
    ) -> tuple[int, Any]:
        case = self.cases.resolve_objection(
            case_id, principal.federation, objection_id=objection_id, by=principal.user, **body
        )
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/approval", roles=("approver",), body=ApprovalRequest, response=CaseView,
           summary="Approve and file the case (审批、录入)")
    def approve(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> tuple[int, Any]:
        case = self.cases.approve(case_id, principal.federation, body["approved_on"], approver=principal.user)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/rejection", roles=DECIDERS, body=ReasonRequest, response=CaseView,
           summary="Reject the application, with the reason")
    def reject(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> tuple[int, Any]:
        case = self.cases.reject(case_id, principal.federation, body["reason"], by=principal.user)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/withdrawal", roles=STAFF, body=ReasonRequest, response=CaseView,
           summary="Withdraw the application, with the reason")
    def withdraw(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> tuple[int, Any]:
        case = self.cases.withdraw(case_id, principal.federation, body["reason"], by=principal.user)
        return 201, case_view(case, principal)

    @route("GET", "/cases/<case_id>", roles=READERS, response=CaseView, summary="One case file")
    def get_case(self, request: Request, principal: Principal, case_id: str) -> tuple[int, Any]:
        return 200, case_view(self.cases.get_case(case_id, principal.federation), principal)

    @route("GET", "/cases", roles=READERS, query=CaseQuery, response=CaseList,
           summary="Cases in your federation's subtree, by federation and state")
    def list_cases(self, request: Request, principal: Principal, query: dict[str, Any]) -> tuple[int, Any]:
        rows = self.cases.list_cases(principal.federation, query.get("federation"), query.get("state"))
        return 200, {"cases": rows}


def case_view(case: Case, principal: Principal) -> dict[str, Any]:
    """Render a case; only staff who work the case see the ID number and phone in full."""
    worker = dict(case.worker)
    if principal.role not in SEES_PERSONAL_DATA:
        worker["id_number"] = mask_id_number(worker["id_number"])
        worker["phone"] = mask_phone(worker["phone"])
    view = {
        "case_id": str(case.id),
        "federation": case.federation,
        "state": case.state,
        "category": case.category,
        "causes": case.causes,
        "worker": worker,
        "household": case.household,
        "verification": case.verification,
        "deliberation": case.deliberation,
        "notice": case.notice,
        "objections": [{"objection_id": oid, **o} for oid, o in case.objections.items()],
        "approval": case.approval,
        "closure": case.closure,
        "opened_by": case.opened_by,
        "opened_at": case.created_on.isoformat(),
        "updated_at": case.modified_on.isoformat(),
        "version": case.version,
    }
    return CaseView().dump(view)
