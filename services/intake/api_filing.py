"""Routes of the filing workflow: apply, verify, deliberate, publish, object, approve (申请至录入)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from services.intake.api import APPROVERS, DECIDERS, READERS, STAFF, Routes, case_view, route
from services.intake.schemas import (
    ApprovalRequest,
    CaseList,
    CaseQuery,
    CaseSummary,
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
from services.web.auth import Principal

Reply = tuple[int, Any]
SUMMARIES = CaseSummary(many=True)


class FilingRoutes(Routes):
    @route("POST", "/cases", roles=STAFF, body=OpenCaseRequest, response=CaseView,
           summary="Open an application (申请); 409 if a person already has an active case")
    def open_case(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        principal.require_covers(body["federation"])
        case = self.cases.open_case(opened_by=principal.user, **body)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/verification", roles=STAFF, body=VerificationRequest, response=CaseView,
           summary="Record the home visit and income check (入户核查)")
    def verify(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.verify(by=principal.user, **body))

    @route("POST", "/cases/<case_id>/deliberation", roles=STAFF, body=DeliberationRequest, response=CaseView,
           summary="Record the deliberation (评议)")
    def deliberate(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.deliberate(by=principal.user, **body))

    @route("POST", "/cases/<case_id>/notice", roles=STAFF, body=NoticeRequest, response=CaseView,
           summary="Publish the public notice (公示)")
    def publish_notice(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.publish_notice(by=principal.user, **body))

    @route("POST", "/cases/<case_id>/objections", roles=STAFF, body=ObjectionRequest, response=ObjectionCreated,
           summary="Record an objection raised during the notice")
    def raise_objection(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case, objection_id = self.cases.change(case_id, principal.federation, lambda c: c.raise_objection(**body))
        return 201, {"objection_id": objection_id, "case": case_view(case, principal)}

    @route("POST", "/cases/<case_id>/objections/<objection_id>/resolution", roles=STAFF, body=ResolutionRequest,
           response=CaseView, summary="Resolve an objection; upheld sends the case back to verification")
    def resolve_objection(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str, objection_id: str
    ) -> Reply:
        return self.changed(
            principal, case_id, lambda c: c.resolve_objection(objection_id=objection_id, by=principal.user, **body)
        )

    @route("POST", "/cases/<case_id>/approval", roles=APPROVERS, body=ApprovalRequest, response=CaseView,
           summary="Approve and file the case (审批、录入)")
    def approve(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.approve(body["approved_on"], principal.user))

    @route("POST", "/cases/<case_id>/rejection", roles=DECIDERS, body=ReasonRequest, response=CaseView,
           summary="Reject the application, with the reason")
    def reject(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.reject(body["reason"], principal.user))

    @route("POST", "/cases/<case_id>/withdrawal", roles=STAFF, body=ReasonRequest, response=CaseView,
           summary="Withdraw the application, with the reason")
    def withdraw(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.withdraw(body["reason"], principal.user))

    @route("GET", "/cases/<case_id>", roles=READERS, response=CaseView, summary="One case file")
    def get_case(self, request: Request, principal: Principal, case_id: str) -> Reply:
        return 200, case_view(self.cases.get_case(case_id, principal.federation), principal)

    @route("GET", "/cases", roles=READERS, query=CaseQuery, response=CaseList,
           summary="Cases in your federation's subtree, by federation and state (no personal data)")
    def list_cases(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows = self.cases.list_cases(principal.federation, query.get("federation"), query.get("state"))
        return 200, {"cases": SUMMARIES.dump(rows)}
