"""Routes of dynamic management (动态管理) and the household plan (一户一计划)."""

from __future__ import annotations

from datetime import date
from typing import Any

from werkzeug.wrappers import Request

from services.intake.api import APPROVERS, READERS, STAFF, Routes, case_view, route
from services.intake.schemas import (
    AmendmentRequest,
    CaseList,
    CaseSummary,
    CaseView,
    CompletionRequest,
    DueQuery,
    ExitRequest,
    MeasureCreated,
    MeasureRequest,
    RefilingRequest,
    ReviewRequest,
)
from services.web.auth import Principal

Reply = tuple[int, Any]
SUMMARIES = CaseSummary(many=True)


class ManagementRoutes(Routes):
    @route("POST", "/cases/<case_id>/review", roles=STAFF, body=ReviewRequest, response=CaseView,
           summary="Record the yearly review (年度复核)")
    def review(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.review(by=principal.user, **body))

    @route("GET", "/cases/due-for-review", roles=READERS, query=DueQuery, response=CaseList,
           summary="Filed cases whose yearly review is due by as_of (default today)")
    def due_for_review(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows = self.cases.due_for_review(
            principal.federation, query.get("federation"), query.get("as_of") or date.today()
        )
        return 200, {"cases": SUMMARIES.dump(rows)}

    @route("POST", "/cases/<case_id>/exit", roles=STAFF, body=ExitRequest, response=CaseView,
           summary="Exit a filed case (解困脱困), with the reason")
    def exit(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.exit(by=principal.user, **body))

    @route("POST", "/cases/<case_id>/refiling", roles=APPROVERS, body=RefilingRequest, response=CaseView,
           summary="Re-file an exited household that fell back into hardship (返困)")
    def refile(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        return self.changed(principal, case_id, lambda c: c.refile(by=principal.user, **body))

    @route("POST", "/cases/<case_id>/amendment", roles=STAFF, body=AmendmentRequest, response=CaseView,
           summary="Amend the case file, saying why (what changed is recorded)")
    def amend(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.amend(case_id, principal.federation, body["changes"], body["reason"], principal.user)
        return 201, case_view(case, principal)

    @route("POST", "/cases/<case_id>/measures", roles=STAFF, body=MeasureRequest, response=MeasureCreated,
           summary="Add a measure to the household plan (一户一措施)")
    def add_measure(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case, measure_id = self.cases.change(
            case_id, principal.federation, lambda c: c.add_measure(by=principal.user, **body)
        )
        return 201, {"measure_id": measure_id, "case": case_view(case, principal)}

    @route("POST", "/cases/<case_id>/measures/<measure_id>/completion", roles=STAFF, body=CompletionRequest,
           response=CaseView, summary="Mark a measure of the plan done, with its result")
    def complete_measure(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str, measure_id: str
    ) -> Reply:
        return self.changed(principal, case_id, lambda c: c.complete_measure(measure_id, by=principal.user, **body))
