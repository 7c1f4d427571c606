"""The intake HTTP service (nameko): every route, each calling one named command of Cases.

Identification, filing and dynamic management (精准识别、建档立卡、动态管理), bulk import and reports.
Handlers take each argument from the validated body by name; the error table and role groups are here.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from werkzeug.wrappers import Request

from services.intake.application import CaseNotFound, Cases, ConcurrentChange, DuplicatePerson
from services.intake.domain import IllegalTransition, InvalidValue, SeparationOfDuties
from services.intake.import_rows import CSV, XLSX, ImportFileError, count_rows
from services.intake.import_runner import ImportRunner
from services.intake.imports import ImportJob, file_digest
from services.intake.outbound import case_event
from services.intake.reports import yearly_stats
from services.intake.schemas import (
    AmendmentRequest,
    ApprovalRequest,
    CaseList,
    CaseQuery,
    CaseView,
    CompletionRequest,
    DeliberationRequest,
    Disclosure,
    DisclosureRequest,
    DueQuery,
    ExitRequest,
    ImportView,
    MeasureCreated,
    MeasureRequest,
    NoticeRequest,
    ObjectionCreated,
    ObjectionRequest,
    OpenCaseRequest,
    ReasonRequest,
    RefilingRequest,
    ResolutionRequest,
    ReviewRequest,
    Stats,
    StatsQuery,
    VerificationRequest,
)
from services.intake.views import SEES_PERSONAL_DATA, case_list, case_view, disclosure_view, import_view
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.auth import Principal
from services.web.entrypoint import routes
from services.web.errors import BadRequest, NotFound
from services.web.operations import Operations

ERRORS: dict[type[Exception], tuple[int, str]] = {
    IllegalTransition: (409, "illegal_transition"),
    SeparationOfDuties: (409, "separation_of_duties"),
    DuplicatePerson: (409, "duplicate_person"),
    ConcurrentChange: (409, "concurrent_change"),
    InvalidValue: (400, "bad_request"),  # a rule the schema did not catch: future date, age, repeated person
    CaseNotFound: (404, "not_found"),
}
route = routes(ERRORS)

# Who may do what (docs/decisions.md): caseworkers move cases, approvers approve, everyone reads.
STAFF = ("caseworker",)
DECIDERS = ("caseworker", "approver")
APPROVERS = ("approver",)
READERS = ("caseworker", "approver", "cadre", "auditor", "admin")
STATS = Stats()
IMPORT_MAX_BYTES = 20 * 1024 * 1024  # an import file; JSON bodies keep the container's MAX_BODY_BYTES

Reply = tuple[int, Any]


class IntakeService(Operations):
    name = "intake"
    title = "Intake: identification, filing and dynamic management (精准识别、建档立卡、动态管理)"

    cases: Cases = EventStore(Cases, outbound=case_event, PERSON_KEY="PERSON_KEY")
    imports: ImportRunner = ImportRunner()
    waker = HubWaker()

    # The filing workflow: apply, verify, deliberate, publish, object, approve (申请至录入).

    @route("POST", "/cases", roles=STAFF, body=OpenCaseRequest, response=CaseView,
           summary="Open an application (申请); 409 if a person already has an active case")
    def open_case(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        principal.require_covers(body["federation"])
        case = self.cases.open_case(
            federation=body["federation"], worker=body["worker"], household=body["household"],
            category=body["category"], causes=body["causes"], opened_by=principal.user,
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/verification", roles=STAFF, body=VerificationRequest, response=CaseView,
           summary="Record the home visit and income check (入户核查)")
    def verify(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.verify(
            case_id, principal.federation, by=principal.user, visitors=body["visitors"],
            visited_on=body["visited_on"], per_capita_income=body["per_capita_income"], findings=body["findings"],
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/deliberation", roles=STAFF, body=DeliberationRequest, response=CaseView,
           summary="Record the deliberation (评议)")
    def deliberate(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.deliberate(
            case_id, principal.federation, by=principal.user, decided_on=body["decided_on"],
            outcome=body["outcome"], notes=body["notes"],
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/notice", roles=STAFF, body=NoticeRequest, response=CaseView,
           summary="Publish the public notice (公示)")
    def publish_notice(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.publish_notice(
            case_id, principal.federation, by=principal.user, starts_on=body["starts_on"], days=body["days"]
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/objections", roles=STAFF, body=ObjectionRequest, response=ObjectionCreated,
           summary="Record an objection raised during the notice")
    def raise_objection(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case, objection_id = self.cases.raise_objection(
            case_id, principal.federation, objector=body["by"], raised_on=body["raised_on"], reason=body["reason"]
        )
        return 201, {"objection_id": objection_id, "case": case_view(case, principal, self.cases.digest)}

    @route("POST", "/cases/<case_id>/objections/<objection_id>/resolution", roles=STAFF, body=ResolutionRequest,
           response=CaseView, summary="Resolve an objection; upheld sends the case back to verification")
    def resolve_objection(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str, objection_id: str
    ) -> Reply:
        case = self.cases.resolve_objection(
            case_id, principal.federation, by=principal.user, objection_id=objection_id, upheld=body["upheld"],
            notes=body["notes"],
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/approval", roles=APPROVERS, body=ApprovalRequest, response=CaseView,
           summary="Approve and file the case (审批、录入); not by who opened it or visited the home")
    def approve(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.approve(case_id, principal.federation, by=principal.user, approved_on=body["approved_on"])
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/rejection", roles=DECIDERS, body=ReasonRequest, response=CaseView,
           summary="Reject the application, with the reason")
    def reject(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.reject(case_id, principal.federation, by=principal.user, reason=body["reason"])
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/withdrawal", roles=STAFF, body=ReasonRequest, response=CaseView,
           summary="Withdraw the application, with the reason")
    def withdraw(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.withdraw(case_id, principal.federation, by=principal.user, reason=body["reason"])
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/disclosure", roles=SEES_PERSONAL_DATA, body=DisclosureRequest,
           response=Disclosure, responses={200: "the personal data in full, once the read is recorded"},
           summary="See the ID numbers and phone in full, giving the reason (the read goes to the audit trail)")
    def disclose(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.disclose(case_id, principal.federation, by=principal.user, reason=body["reason"])
        return 200, disclosure_view(case)

    @route("GET", "/cases/<case_id>", roles=READERS, response=CaseView, summary="One case file")
    def get_case(self, request: Request, principal: Principal, case_id: str) -> Reply:
        return 200, case_view(self.cases.get_case(case_id, principal.federation), principal, self.cases.digest)

    @route("GET", "/cases", roles=READERS, query=CaseQuery, response=CaseList,
           summary="Cases in your federation's subtree, newest first: by federation, state, category, cause, a name "
                   "or masked ID number; paged (names and ID numbers masked)")
    def list_cases(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        found = self.cases.find_cases(
            principal.federation, federation=query.get("federation"), state=query.get("state"),
            category=query.get("category"), cause=query.get("cause"), text=query.get("q"),
            offset=query.get("offset", 0), limit=query.get("limit"))
        return 200, case_list(found["cases"], found["total"], found["offset"])

    # Dynamic management (动态管理) and the household plan (一户一计划).

    @route("POST", "/cases/<case_id>/review", roles=STAFF, body=ReviewRequest, response=CaseView,
           summary="Record the yearly review (年度复核)")
    def review(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.review(
            case_id, principal.federation, by=principal.user, reviewed_on=body["reviewed_on"],
            findings=body["findings"], still_qualifies=body["still_qualifies"],
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("GET", "/cases/due-for-review", roles=READERS, query=DueQuery, response=CaseList,
           summary="Filed cases whose yearly review is due by as_of (default today)")
    def due_for_review(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        as_of = query.get("as_of") or self.cases.today()
        return 200, case_list(self.cases.due_for_review(principal.federation, query.get("federation"), as_of))

    @route("POST", "/cases/<case_id>/exit", roles=STAFF, body=ExitRequest, response=CaseView,
           summary="Exit a filed case (解困脱困), with the reason")
    def exit(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.exit(
            case_id, principal.federation, by=principal.user, reason=body["reason"], exited_on=body["exited_on"],
            notes=body["notes"],
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/refiling", roles=APPROVERS, body=RefilingRequest, response=CaseView,
           summary="Re-file an exited household that fell back into hardship (返困)")
    def refile(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.refile(
            case_id, principal.federation, by=principal.user, refiled_on=body["refiled_on"], reason=body["reason"]
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/amendment", roles=STAFF, body=AmendmentRequest, response=CaseView,
           summary="Amend the case file, saying why (what changed is recorded)")
    def amend(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case = self.cases.amend(
            case_id, principal.federation, by=principal.user, changes=body["changes"], reason=body["reason"]
        )
        return 201, case_view(case, principal, self.cases.digest)

    @route("POST", "/cases/<case_id>/measures", roles=STAFF, body=MeasureRequest, response=MeasureCreated,
           summary="Add a measure to the household plan (一户一措施)")
    def add_measure(self, request: Request, principal: Principal, body: dict[str, Any], case_id: str) -> Reply:
        case, measure_id = self.cases.add_measure(
            case_id, principal.federation, by=principal.user, kind=body["kind"], description=body["description"],
            planned_on=body["planned_on"], due_on=body["due_on"],
        )
        return 201, {"measure_id": measure_id, "case": case_view(case, principal, self.cases.digest)}

    @route("POST", "/cases/<case_id>/measures/<measure_id>/completion", roles=STAFF, body=CompletionRequest,
           response=CaseView, summary="Mark a measure of the plan done, with its result")
    def complete_measure(
        self, request: Request, principal: Principal, body: dict[str, Any], case_id: str, measure_id: str
    ) -> Reply:
        case = self.cases.complete_measure(
            case_id, principal.federation, by=principal.user, measure_id=measure_id, done_on=body["done_on"],
            result=body["result"],
        )
        return 201, case_view(case, principal, self.cases.digest)

    # Reports.

    @route("GET", "/stats", roles=READERS, query=StatsQuery, response=Stats,
           summary="Counts by state, category and cause; filings, exits, exit and return rates of a year")
    def stats(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        root = principal.subtree(query.get("federation"))
        year = query.get("year") or self.cases.today().year
        return 200, STATS.dump({"federation": root, **yearly_stats(self.cases.case_rows(root), year)})

    # Bulk import of files from a previous system.

    @route("POST", "/imports", roles=STAFF, response=ImportView, media_types=(CSV, XLSX), max_body=IMPORT_MAX_BYTES,
           responses={202: "started: follow it at GET /imports/{import_id}",
                      200: "the same file again: its job, and nothing is filed twice",
                      400: "not a readable CSV (UTF-8) or XLSX file, or columns missing"},
           summary="Import existing files (CSV UTF-8 with or without BOM, or XLSX); 202 with a job to follow")
    def start_import(self, request: Request, principal: Principal) -> Reply:
        data = request.get_data()
        content_type = request.headers.get("Content-Type", "")
        try:
            rows_total = count_rows(data, content_type)
        except ImportFileError as exc:
            raise BadRequest(str(exc), {"file": [str(exc)]}) from None
        digest = file_digest(data)
        job = self.cases.get_job(ImportJob.create_id(digest, principal.federation))
        if job is not None and (job.state == "done" or job.id in self.imports.running):
            return 200, import_view(job, self.imports.running.get(job.id))  # the same file again: nothing twice
        if job is None:
            job = ImportJob(digest, principal.federation, request.args.get("filename", "upload"), principal.user)
        else:
            job.restart(principal.user)
        self.cases.save_job(job)
        self.imports.launch(self.cases, job, data, content_type, rows_total)
        return 202, import_view(job, self.imports.running.get(job.id))

    @route("GET", "/imports/<import_id>", roles=READERS, response=ImportView, summary="An import's progress")
    def get_import(self, request: Request, principal: Principal, import_id: str) -> Reply:
        try:
            job = self.cases.get_job(UUID(import_id))
        except ValueError:
            job = None
        if job is None or not principal.covers(job.scope):
            raise NotFound(f"no import {import_id}")
        return 200, import_view(job, self.imports.running.get(job.id))
