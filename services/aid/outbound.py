"""Build aid's integration events from its stored events, field by field, money as yuan strings.

Each published type has one builder naming every payload field it takes from the domain event, so a
renamed attribute inside aid never changes a public contract. Published (version 1,
services/contracts/aid_events.py): programs, budget allocations, every disbursement step, batches,
referrals and trainings. Internal (`aid_event` returns None): aid's view of each case (`AidCase.*`,
intake publishes those facts) and a budget's own bookkeeping (`Budget.Opened`, `PassedDown`,
`Reserved`, `Spent`, `Released`, `Returned`: each disbursement step already carries its amount). Any
other stored type raises, so the relay stops at it (`relief_outbox_stalled`) until someone decides here.

Household events are keyed by the case id the domain event records; a program, budget, batch or
training event by its own id, which the envelope carries in `case_id` (decisions.md, "Aid").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Notification

from services.aid.money import yuan
from services.aid.views import terms_view
from services.contracts import Envelope
from services.contracts.envelope import Publication
from services.eventstore import IndexedApplication

SERVICE = "aid"

Payload = dict[str, Any]
Builder = Callable[[Any], Payload]


def maybe_yuan(amount: int | None) -> str | None:
    return yuan(amount) if amount is not None else None


def program_created(e: Any) -> Payload:
    return {"program_id": str(e.originator_id), "name": e.name, "kind": e.kind, "year": e.year,
            "festival": e.festival, "help": e.help_kind, "version": 1, "terms": terms_view(e.terms), "by": e.by}


def program_revised(e: Any) -> Payload:
    return {"program_id": str(e.originator_id), "version": e.rule_version, "terms": terms_view(e.terms),
            "reason": e.reason, "by": e.by}


def budget_allocated(e: Any) -> Payload:
    return {"program_id": e.program_id, "amount": yuan(e.amount), "delta": yuan(e.delta), "by": e.by}


def requested(e: Any) -> Payload:
    items = None if e.items is None else [
        {"item": i["item"], "quantity": i["quantity"], "unit": i["unit"], "value": yuan(i["value"])} for i in e.items]
    return {
        "disbursement_id": str(e.originator_id), "program_id": e.program_id, "kind": e.kind, "form": e.form,
        "amount": yuan(e.amount), "items": items, "delivered_on": e.delivered_on, "reason": e.reason,
        "beneficiary": e.beneficiary, "batch_id": e.batch_id, "budget_federation": e.budget_federation,
        "decision": {"rule_version": e.decision["rule_version"], "passed": e.decision["passed"],
                     "checks": e.decision["checks"]},
        "requested_on": e.requested_on, "by": e.by,
    }


def step(e: Any) -> Payload:
    return {"disbursement_id": str(e.originator_id), "kind": e.kind, "amount": yuan(e.amount),
            "rule_version": e.rule_version, "on": e.on, "reason": e.reason, "by": e.by}


def paid(e: Any) -> Payload:
    return {**step(e), "bank_reference": e.detail["bank_reference"]}


def confirmed(e: Any) -> Payload:
    return {**step(e), "confirmed_by": e.detail["confirmed_by"]}


def batch_created(e: Any) -> Payload:
    return {"batch_id": str(e.originator_id), "program_id": e.program_id, "reason": e.reason,
            "rule_version": e.rule_version, "amount": yuan(e.amount), "included": e.included,
            "total": yuan(e.amount * e.included), "by": e.by}


def batch_excluded(e: Any) -> Payload:
    return {"batch_id": str(e.originator_id), "failed": e.failed}


def batch_approved(e: Any) -> Payload:
    return {"batch_id": str(e.originator_id), "approved": e.approved, "total": yuan(e.total), "on": e.on, "by": e.by}


def results_imported(e: Any) -> Payload:
    return {"batch_id": str(e.originator_id), "sha256": e.digest, "paid": e.paid, "failed": e.failed,
            "refused": e.refused, "by": e.by}


def referral_made(e: Any) -> Payload:
    return {"referral_id": str(e.originator_id), "person": e.person, "employer": e.employer, "position": e.position,
            "monthly_wage_offered": maybe_yuan(e.wage_offered), "referred_on": e.referred_on, "by": e.by}


def referral_outcome(e: Any) -> Payload:
    return {"referral_id": str(e.originator_id), "outcome": e.outcome, "monthly_wage": maybe_yuan(e.monthly_wage),
            "recorded_on": e.recorded_on, "by": e.by}


def training_created(e: Any) -> Payload:
    return {"training_id": str(e.originator_id), "course": e.course, "provider": e.provider,
            "starts_on": e.starts_on, "ends_on": e.ends_on, "by": e.by}


def enrolled(e: Any) -> Payload:
    return {"training_id": str(e.originator_id), "person": e.person, "enrolled_on": e.enrolled_on, "by": e.by}


def completed(e: Any) -> Payload:
    return {"training_id": str(e.originator_id), "person": e.person, "completed_on": e.completed_on,
            "certificate": e.certificate, "by": e.by}


def dropped_out(e: Any) -> Payload:
    return {"training_id": str(e.originator_id), "person": e.person, "dropped_on": e.dropped_on, "reason": e.reason,
            "by": e.by}


def case_key(e: Any) -> str:
    return str(e.case_id)


def own_key(e: Any) -> str:
    return str(e.originator_id)


BUILDERS: dict[str, tuple[str, Builder, Callable[[Any], str]]] = {
    "Program.Created": ("ProgramCreated", program_created, own_key),
    "Program.Revised": ("ProgramRevised", program_revised, own_key),
    "Budget.Allocated": ("BudgetAllocated", budget_allocated, own_key),
    "Disbursement.Requested": ("DisbursementRequested", requested, case_key),
    "Disbursement.Approved": ("DisbursementApproved", step, case_key),
    "Disbursement.Rejected": ("DisbursementRejected", step, case_key),
    "Disbursement.Paid": ("DisbursementPaid", paid, case_key),
    "Disbursement.Confirmed": ("DisbursementConfirmed", confirmed, case_key),
    "Disbursement.Failed": ("DisbursementFailed", step, case_key),
    "Disbursement.Reversed": ("DisbursementReversed", step, case_key),
    "Disbursement.Cancelled": ("DisbursementCancelled", step, case_key),
    "Batch.Assembled": ("BatchCreated", batch_created, own_key),
    "Batch.Excluded": ("BatchExcluded", batch_excluded, case_key),
    "Batch.Approved": ("BatchApproved", batch_approved, own_key),
    "Batch.ResultsImported": ("BankResultsImported", results_imported, own_key),
    "Referral.Made": ("ReferralMade", referral_made, case_key),
    "Referral.OutcomeRecorded": ("ReferralOutcome", referral_outcome, case_key),
    "Training.Created": ("TrainingCreated", training_created, own_key),
    "Training.Enrolled": ("TrainingEnrolled", enrolled, case_key),
    "Training.Completed": ("TrainingCompleted", completed, case_key),
    "Training.DroppedOut": ("TrainingDroppedOut", dropped_out, case_key),
}
INTERNAL = (
    "AidCase.Tracked", "AidCase.Filed", "AidCase.Exited", "AidCase.Closed", "AidCase.Verified", "AidCase.Amended",
    "AidCase.Held", "AidCase.LetGo", "Program.BudgetOpened", "Budget.Opened", "Budget.PassedDown", "Budget.Reserved",
    "Budget.Spent", "Budget.Released", "Budget.Returned", "Batch.Started", "Batch.Included", "Batch.Applied",
)
PUBLICATION = Publication(SERVICE, BUILDERS, INTERNAL)
TYPES = PUBLICATION.types


def aid_event(app: IndexedApplication, notification: Notification, now: datetime) -> Envelope | None:
    """The integration event of one stored event, or None if the event stays inside aid."""
    return PUBLICATION.of_stored(app.mapper, notification, now)
