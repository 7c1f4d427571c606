"""The aid HTTP service (nameko): every route, each calling one named command or query of Aids.

Programs and budgets, disbursements of money and goods with their approval, batches (送温暖), job
referrals and trainings, reconciliation and reports (帮扶资金与项目). Who may do what:

- **admin**: creates and revises programs, allocates budgets down the tree, runs batches, records
  payments, failures and reversals, and everything a caseworker does.
- **approver**: approves or rejects requests and batches (never their own request, never for a case they
  verified), records payments, failures and reversals, exports the bank file and imports its results.
- **caseworker**: requests aid, records goods handed out, confirmations (明白卡), referrals, outcomes and
  trainings, and reads.
- **auditor**: reads everything, changes nothing.

Every read and write is limited to the caller's federation subtree. Money is a decimal string in CNY.
Lists are index rows written with their events: `GET /batches` lists the batches made for the subtree,
newest first (a batch made before that list existed, store schema version 1, appears once it next changes).
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

from werkzeug.wrappers import Request, Response

from services.aid.application import (
    Aids,
    ConcurrentChange,
    KeyReused,
    NoParentBudget,
    NotFound,
    OutsideScope,
)
from services.aid.bank import BankFileError, read_results
from services.aid.domain import (
    BudgetExhausted,
    IllegalTransition,
    InvalidValue,
    NotEligible,
    NotFiledOnDay,
    SeparationOfDuties,
)
from services.aid.metrics import GAUGES
from services.aid.money import fen
from services.aid.outbound import aid_event
from services.aid.schemas import (
    AidStats,
    BankResultsView,
    BatchList,
    BatchQuery,
    BatchRequest,
    BatchView,
    BudgetList,
    BudgetQuery,
    BudgetRequest,
    BudgetView,
    CaseAid,
    CompletionRequest,
    ConfirmationRequest,
    DeliveryRequest,
    DisbursementList,
    DisbursementQuery,
    DisbursementRequest,
    DisbursementView,
    DropoutRequest,
    EnrolmentRequest,
    FailureRequest,
    OutcomeRequest,
    PaymentRequest,
    ProgramList,
    ProgramQuery,
    ProgramRequest,
    ProgramView,
    Reconciliation,
    ReconciliationQuery,
    ReferralRequest,
    ReferralView,
    RejectionRequest,
    ReversalRequest,
    RevisionRequest,
    StatsQuery,
    TrainingRequest,
    TrainingView,
)
from services.aid.views import (
    batch_list,
    batch_view,
    budget_list,
    budget_view,
    disbursement_list,
    disbursement_view,
    program_list,
    program_view,
    referral_view,
    training_view,
)
from services.contracts.topics import INTAKE_TOPIC
from services.metrics.gauges import GaugeFeed
from services.runtime.batch import Batch
from services.runtime.consumer import consume
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.auth import Principal
from services.web.entrypoint import routes
from services.web.errors import BadRequest
from services.web.operations import Operations

ERRORS: dict[type[Exception], tuple[int, str]] = {
    InvalidValue: (400, "bad_request"),  # a rule the schema did not catch: a date before the request
    OutsideScope: (403, "forbidden"),
    NotFound: (404, "not_found"),
    IllegalTransition: (409, "illegal_transition"),
    NotEligible: (409, "not_eligible"),
    SeparationOfDuties: (409, "separation_of_duties"),
    BudgetExhausted: (409, "budget_exhausted"),
    NoParentBudget: (409, "no_parent_budget"),
    NotFiledOnDay: (409, "not_filed"),
    KeyReused: (409, "idempotency_key_reused"),
    ConcurrentChange: (409, "concurrent_change"),
}
route = routes(ERRORS)

ADMINS = ("admin",)
APPROVERS = ("approver",)
CASHIERS = ("admin", "approver")  # record what the bank did: payments, failures, reversals, bank files
REQUESTERS = ("caseworker", "admin")
READERS = ("caseworker", "approver", "auditor", "admin")
CSV = "text/csv"
BANK_FILE_MAX_BYTES = 5 * 1024 * 1024
Reply = tuple[int, Any]


def terms(body: dict[str, Any]) -> dict[str, Any]:
    """A request's amount, rule and eligibility with money in fen."""
    rule = body.get("rule")
    eligibility = dict(body.get("eligibility") or {})
    if eligibility.get("household_cap") is not None:
        eligibility["household_cap"] = fen(eligibility["household_cap"])
    return {
        "amount": fen(body["amount"]) if body.get("amount") is not None else None,
        "rule": None if rule is None else {k: (v if k == "share" else fen(v)) for k, v in rule.items()},
        "eligibility": eligibility,
    }


def maybe_fen(value: Any) -> int | None:
    return fen(value) if value is not None else None


class AidService(Operations):
    name = "aid"
    title = "Aid: programs, budgets, payments, goods, job referrals and training (帮扶资金与项目)"

    aids: Aids = EventStore(Aids, outbound=aid_event)
    waker = HubWaker()
    gauges = GaugeFeed(GAUGES, "aids")  # budget-remaining gauges read from this service's index

    @consume(topics=[INTAKE_TOPIC])
    def on_intake_events(self, batch: Batch) -> None:
        """Keep aid's view of each case; an exit cancels the case's pending disbursements."""
        for delivery in batch:
            if not self.aids.apply_intake_event(delivery.envelope):
                batch.already_had(delivery)

    # Programs and budgets.

    @route("POST", "/programs", roles=ADMINS, body=ProgramRequest, response=ProgramView,
           summary="Create an aid program of a year, with a fixed amount or a rule, and its eligibility")
    def create_program(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        program = self.aids.create_program(
            name=body["name"], kind=body["kind"], year=body["year"], federation=body["federation"],
            festival=body["festival"], help_kind=body["help"], **terms(body), scope=principal.federation,
            by=principal.user,
        )
        return 201, program_view(program)

    @route("GET", "/programs", roles=READERS, query=ProgramQuery, response=ProgramList,
           summary="Programs of your federation, the ones above it and the ones under it")
    def list_programs(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, program_list(self.aids.programs(principal.federation, query.get("year"), query.get("kind")))

    @route("GET", "/programs/<program_id>", roles=READERS, response=ProgramView,
           summary="A program with every version of its rules")
    def get_program(self, request: Request, principal: Principal, program_id: str) -> Reply:
        return 200, program_view(self.aids.program(program_id, principal.federation))

    @route("PUT", "/programs/<program_id>", roles=ADMINS, body=RevisionRequest, response=ProgramView,
           summary="Change a program's amount, rule or eligibility: a new version (decisions keep theirs)")
    def revise_program(self, request: Request, principal: Principal, body: dict[str, Any], program_id: str) -> Reply:
        program = self.aids.revise_program(program_id, principal.federation, **terms(body), reason=body["reason"],
                                           by=principal.user)
        return 200, program_view(program)

    @route("POST", "/budgets", roles=ADMINS, body=BudgetRequest, response=BudgetView,
           responses={404: "no such program visible to you"},
           summary="Set a federation's budget of a program: the program's federation first, each child out of "
                   "its parent's remainder")
    def allocate(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        budget = self.aids.allocate(program_id=body["program_id"], federation=body["federation"],
                                    amount=fen(body["amount"]), scope=principal.federation, by=principal.user)
        return 201, budget_view(budget)

    @route("GET", "/budgets", roles=READERS, query=BudgetQuery, response=BudgetList,
           summary="Budgets at and under a federation (default yours), optionally of one program")
    def list_budgets(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows = self.aids.budgets(principal.federation, query.get("program_id"), query.get("federation"))
        return 200, budget_list(rows)

    # Disbursements of money and goods.

    @route("POST", "/disbursements", roles=REQUESTERS, body=DisbursementRequest, response=DisbursementView,
           responses={200: "the same idempotency key and body were requested before: the first disbursement",
                      404: "no such case or program visible to you"},
           summary="Request aid for a household, decided on the program's current rules (409 with the checks)")
    def request_disbursement(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        disbursement, created = self.aids.request(
            case_id=body["case_id"], program_id=body["program_id"], amount=maybe_fen(body["amount"]),
            idempotency_key=body["idempotency_key"], reason=body["reason"], beneficiary=body["beneficiary"],
            out_of_pocket=maybe_fen(body["out_of_pocket"]), scope=principal.federation, by=principal.user,
        )
        return (201 if created else 200), disbursement_view(disbursement)

    @route("POST", "/deliveries", roles=REQUESTERS, body=DeliveryRequest, response=DisbursementView,
           responses={200: "the same idempotency key and body were recorded before: the first delivery",
                      404: "no such case or program visible to you"},
           summary="Goods (物资) for a household, counted against a goods program's budget by value")
    def deliver(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        delivery, created = self.aids.deliver(
            case_id=body["case_id"], program_id=body["program_id"], items=body["items"],
            delivered_on=body["delivered_on"], idempotency_key=body["idempotency_key"], reason=body["reason"],
            scope=principal.federation, by=principal.user,
        )
        return (201 if created else 200), disbursement_view(delivery)

    @route("GET", "/disbursements", roles=READERS, query=DisbursementQuery, response=DisbursementList,
           summary="Disbursements at and under a federation, e.g. the approval queue (state=requested)")
    def list_disbursements(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows = self.aids.disbursements(principal.federation, query.get("federation"), query.get("state"),
                                       query.get("program_id"), query["limit"])
        return 200, disbursement_list(rows)

    @route("GET", "/disbursements/<disbursement_id>", roles=READERS, response=DisbursementView,
           summary="A disbursement with its eligibility decision and every step")
    def get_disbursement(self, request: Request, principal: Principal, disbursement_id: str) -> Reply:
        return 200, disbursement_view(self.aids.disbursement(disbursement_id, principal.federation))

    @route("POST", "/disbursements/<disbursement_id>/approval", roles=APPROVERS, response=DisbursementView,
           summary="Approve: the amount is reserved from the budget at once (never the requester or verifier)")
    def approve(self, request: Request, principal: Principal, disbursement_id: str) -> Reply:
        return 201, disbursement_view(self.aids.approve(disbursement_id, principal.federation, by=principal.user))

    @route("POST", "/disbursements/<disbursement_id>/rejection", roles=APPROVERS, body=RejectionRequest,
           response=DisbursementView, summary="Reject a request, with the reason")
    def reject(self, request: Request, principal: Principal, body: dict[str, Any], disbursement_id: str) -> Reply:
        d = self.aids.reject(disbursement_id, principal.federation, reason=body["reason"], by=principal.user)
        return 201, disbursement_view(d)

    @route("POST", "/disbursements/<disbursement_id>/payment", roles=CASHIERS, body=PaymentRequest,
           response=DisbursementView,
           summary="Paid by the bank (goods: handed over): refused unless the case is filed that day")
    def pay(self, request: Request, principal: Principal, body: dict[str, Any], disbursement_id: str) -> Reply:
        d = self.aids.pay(disbursement_id, principal.federation, paid_on=body["paid_on"],
                          bank_reference=body["bank_reference"], by=principal.user)
        return 201, disbursement_view(d)

    @route("POST", "/disbursements/<disbursement_id>/failure", roles=CASHIERS, body=FailureRequest,
           response=DisbursementView, summary="The bank returned it: the reservation goes back to the budget")
    def fail(self, request: Request, principal: Principal, body: dict[str, Any], disbursement_id: str) -> Reply:
        d = self.aids.fail(disbursement_id, principal.federation, failed_on=body["failed_on"], reason=body["reason"],
                           by=principal.user)
        return 201, disbursement_view(d)

    @route("POST", "/disbursements/<disbursement_id>/confirmation", roles=REQUESTERS, body=ConfirmationRequest,
           response=DisbursementView, summary="The household confirmed receipt (明白卡 signature)")
    def confirm(self, request: Request, principal: Principal, body: dict[str, Any], disbursement_id: str) -> Reply:
        d = self.aids.confirm(disbursement_id, principal.federation, confirmed_on=body["confirmed_on"],
                              confirmed_by=body["by"], by=principal.user)
        return 201, disbursement_view(d)

    @route("POST", "/disbursements/<disbursement_id>/reversal", roles=CASHIERS, body=ReversalRequest,
           response=DisbursementView, summary="Money recovered after payment, with the reason: back to the budget")
    def reverse(self, request: Request, principal: Principal, body: dict[str, Any], disbursement_id: str) -> Reply:
        d = self.aids.reverse(disbursement_id, principal.federation, reversed_on=body["reversed_on"],
                              reason=body["reason"], by=principal.user)
        return 201, disbursement_view(d)

    # Batches (送温暖).

    @route("POST", "/programs/<program_id>/batches", roles=ADMINS, body=BatchRequest, response=BatchView,
           responses={200: "the same idempotency key was used before: the first batch"},
           summary="One request per eligible filed household of a subtree; every other one listed with the check")
    def create_batch(self, request: Request, principal: Principal, body: dict[str, Any], program_id: str) -> Reply:
        batch, created = self.aids.create_batch(program_id, principal.federation, federation=body["federation"],
                                                reason=body["reason"], idempotency_key=body["idempotency_key"],
                                                by=principal.user)
        return (201 if created else 200), batch_view(batch)

    @route("GET", "/batches", roles=READERS, query=BatchQuery, response=BatchList,
           summary="Batches made for a federation's subtree (default yours), newest first; paged")
    def list_batches(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        rows, total = self.aids.batches(principal.federation, query.get("federation"), query.get("program_id"),
                                        query["offset"], query["limit"])
        return 200, batch_list(rows, total, query["offset"])

    @route("GET", "/batches/<batch_id>", roles=READERS, response=BatchView, summary="A batch and what became of it")
    def get_batch(self, request: Request, principal: Principal, batch_id: str) -> Reply:
        return 200, batch_view(self.aids.batch(batch_id, principal.federation))

    @route("POST", "/batches/<batch_id>/approval", roles=APPROVERS, response=BatchView,
           summary="Approve the whole batch within budget: all of it, or nothing (409 says what is missing)")
    def approve_batch(self, request: Request, principal: Principal, batch_id: str) -> Reply:
        return 201, batch_view(self.aids.approve_batch(batch_id, principal.federation, by=principal.user))

    @route("GET", "/batches/<batch_id>/bank-file", roles=CASHIERS,
           responses={200: ("the payment file (text/csv): disbursement_id, name, account (masked), amount", None)},
           summary="The bank's payment file of the batch's approved, unpaid disbursements")
    def bank_file(self, request: Request, principal: Principal, batch_id: str) -> Response:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["disbursement_id", "name", "account", "amount"])
        for row in self.aids.bank_file(batch_id, principal.federation):
            writer.writerow([row["disbursement_id"], row["name"], row["account"], row["amount"]])
        return Response(out.getvalue(), status=200, mimetype=CSV,
                        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'})

    @route("POST", "/batches/<batch_id>/bank-results", roles=CASHIERS, response=BankResultsView,
           media_types=(CSV,), max_body=BANK_FILE_MAX_BYTES,
           responses={200: "each line applied, unchanged (already applied) or refused with the reason",
                      400: "not a readable CSV (UTF-8), columns missing, or too many lines"},
           summary="Import the bank's results (disbursement_id, result, date, bank_reference, reason), idempotently")
    def bank_results(self, request: Request, principal: Principal, batch_id: str) -> Reply:
        data = request.get_data()
        try:
            lines, refused = read_results(data, request.headers.get("Content-Type", ""))
        except BankFileError as exc:
            raise BadRequest(str(exc), {"file": [str(exc)]}) from None
        report = self.aids.apply_bank_results(batch_id, principal.federation, lines, hashlib.sha256(data).hexdigest(),
                                              by=principal.user, unread=len(refused))
        report["refused"] += len(refused)
        report["lines"] = sorted([*report["lines"], *refused], key=lambda line: line["line"])
        return 200, report

    # Job referrals and training.

    @route("POST", "/referrals", roles=REQUESTERS, body=ReferralRequest, response=ReferralView,
           responses={404: "no such case visible to you"},
           summary="Refer a person of a household to an employer for a position (就业推介)")
    def refer(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        referral = self.aids.refer(
            case_id=body["case_id"], person=body["person"], employer=body["employer"], position=body["position"],
            wage_offered=maybe_fen(body["monthly_wage_offered"]), referred_on=body["referred_on"],
            scope=principal.federation, by=principal.user,
        )
        return 201, referral_view(referral)

    @route("GET", "/referrals/<referral_id>", roles=READERS, response=ReferralView,
           summary="A referral and its outcome")
    def get_referral(self, request: Request, principal: Principal, referral_id: str) -> Reply:
        return 200, referral_view(self.aids.referral(referral_id, principal.federation))

    @route("POST", "/referrals/<referral_id>/outcome", roles=REQUESTERS, body=OutcomeRequest, response=ReferralView,
           summary="What came of a referral: interviewed, then hired (with the wage) or not hired")
    def record_outcome(self, request: Request, principal: Principal, body: dict[str, Any], referral_id: str) -> Reply:
        referral = self.aids.record_outcome(referral_id, principal.federation, outcome=body["outcome"],
                                            monthly_wage=maybe_fen(body["monthly_wage"]),
                                            recorded_on=body["recorded_on"], by=principal.user)
        return 201, referral_view(referral)

    @route("POST", "/trainings", roles=REQUESTERS, body=TrainingRequest, response=TrainingView,
           summary="A skills course (技能培训): course, provider, federation, start and end")
    def create_training(self, request: Request, principal: Principal, body: dict[str, Any]) -> Reply:
        training = self.aids.create_training(course=body["course"], provider=body["provider"],
                                             federation=body["federation"], starts_on=body["starts_on"],
                                             ends_on=body["ends_on"], scope=principal.federation, by=principal.user)
        return 201, training_view(training)

    @route("GET", "/trainings/<training_id>", roles=READERS, response=TrainingView,
           summary="A course and its enrolments")
    def get_training(self, request: Request, principal: Principal, training_id: str) -> Reply:
        return 200, training_view(self.aids.training(training_id, principal.federation))

    @route("POST", "/trainings/<training_id>/enrolments", roles=REQUESTERS, body=EnrolmentRequest,
           response=TrainingView, summary="Enrol a person of a household in the course")
    def enrol(self, request: Request, principal: Principal, body: dict[str, Any], training_id: str) -> Reply:
        training = self.aids.enrol(training_id, principal.federation, case_id=body["case_id"], person=body["person"],
                                   enrolled_on=body["enrolled_on"], by=principal.user)
        return 201, training_view(training)

    @route("POST", "/trainings/<training_id>/completions", roles=REQUESTERS, body=CompletionRequest,
           response=TrainingView, summary="A person completed the course, with the certificate number")
    def complete(self, request: Request, principal: Principal, body: dict[str, Any], training_id: str) -> Reply:
        training = self.aids.complete(training_id, principal.federation, case_id=body["case_id"],
                                      person=body["person"], completed_on=body["completed_on"],
                                      certificate=body["certificate"], by=principal.user)
        return 201, training_view(training)

    @route("POST", "/trainings/<training_id>/dropouts", roles=REQUESTERS, body=DropoutRequest,
           response=TrainingView, summary="A person left the course before the end, with the reason")
    def drop_out(self, request: Request, principal: Principal, body: dict[str, Any], training_id: str) -> Reply:
        training = self.aids.drop_out(training_id, principal.federation, case_id=body["case_id"],
                                      person=body["person"], dropped_on=body["dropped_on"], reason=body["reason"],
                                      by=principal.user)
        return 201, training_view(training)

    # Reconciliation and reports.

    @route("GET", "/reconciliation", roles=READERS, query=ReconciliationQuery, response=Reconciliation,
           summary="Budget, allocated down, requested, reserved, paid, failed, reversed, remaining, to the fen")
    def reconciliation(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, self.aids.reconciliation(principal.federation, query.get("federation"), query.get("year"),
                                             query.get("program"))

    @route("GET", "/cases/<case_id>/aid", roles=READERS, response=CaseAid,
           summary="Everything a household received: money, goods, referrals, training (its clarity card)")
    def case_aid(self, request: Request, principal: Principal, case_id: str) -> Reply:
        return 200, self.aids.case_aid(case_id, principal.federation)

    @route("GET", "/aid-stats", roles=READERS, query=StatsQuery, response=AidStats,
           summary="People and households helped by kind, money by program kind, referrals, hires, trainings")
    def aid_stats(self, request: Request, principal: Principal, query: dict[str, Any]) -> Reply:
        return 200, self.aids.aid_stats(principal.federation, query.get("federation"), query["year"])
