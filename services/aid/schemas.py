"""The aid API's request and response schemas: every field checked at the boundary, as intake's are.

Money is a decimal string with at most two places in CNY ("1000.00"); the responses always write two.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.aid.domain import (
    CATEGORIES,
    CAUSES,
    DISBURSEMENT_STATES,
    FESTIVALS,
    HELP_KINDS,
    KINDS,
    OUTCOMES,
)
from services.web.fields import (
    BoundedList,
    Code,
    Day,
    Matching,
    Money,
    Name,
    StrictBoolean,
    StrictInteger,
    Text,
    uuid_field,
)

KEY = r"[A-Za-z0-9._:-]{1,100}"
DIGEST = r"[0-9a-f]{64}"
PERSON = rf"worker|{DIGEST}"
SHARE = r"0\.[0-9]{1,4}|1(\.0{1,4})?"
REFERENCE = r"[A-Za-z0-9_-]{1,64}"


def key_field() -> Matching:
    return Matching(KEY, "letters, digits and . _ : - only, 1 to 100 of them", required=True,
                    metadata={"description": "the same key twice is the same request (use a UUID)"})


def person_field() -> Matching:
    return Matching(PERSON, 'either "worker" or a household member\'s id_digest (64 hex digits)', required=True)


def optional_money(**kwargs: Any) -> Money:
    return Money(positive=True, required=False, allow_none=True, load_default=None, **kwargs)


# Requests.


class Rule(Schema):
    """A share of the out-of-pocket cost with a cap (`share`, `cap`), or any amount up to `max`."""

    share = Matching(SHARE, "a share from 0.0001 to 1, such as 0.5")
    cap = Money(positive=True, required=False)
    max = Money(positive=True, required=False)

    @validates_schema
    def one_form(self, data: dict[str, Any], **kwargs: Any) -> None:
        if set(data) not in ({"share", "cap"}, {"max"}):
            raise ValidationError('a rule is {"share", "cap"} or {"max"}', "rule")


class Eligibility(Schema):
    include_exited = StrictBoolean(load_default=False,
                                   metadata={"description": "exited households are eligible too"})
    categories = BoundedList(fields.String(validate=validate.OneOf(CATEGORIES)), max_items=3, load_default=list)
    causes = BoundedList(fields.String(validate=validate.OneOf(CAUSES)), max_items=8, load_default=list,
                         metadata={"description": "at least one of these causes (none: any)"})
    household_cap = optional_money(metadata={"description": "at most this much per household in the year"})
    min_members = StrictInteger(validate=validate.Range(min=1, max=30), allow_none=True, load_default=None)
    max_members = StrictInteger(validate=validate.Range(min=1, max=30), allow_none=True, load_default=None)


class Terms(Schema):
    amount = optional_money(metadata={"description": "a fixed amount per household (or give a rule)"})
    rule = fields.Nested(Rule, allow_none=True, load_default=None)
    eligibility = fields.Nested(Eligibility, load_default=dict)

    @validates_schema
    def amount_or_rule(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("amount") is None) == (data.get("rule") is None):
            raise ValidationError("give either a fixed amount or a rule", "amount")


class ProgramRequest(Terms):
    name = Name(100)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    year = StrictInteger(required=True, validate=validate.Range(min=2000, max=2100))
    federation = Code(required=True)
    festival = fields.String(validate=validate.OneOf(FESTIVALS), allow_none=True, load_default=None)
    help = fields.String(validate=validate.OneOf(HELP_KINDS), allow_none=True, load_default=None,
                         metadata={"description": "the kind of help it counts as in reports (default by kind)"})


class RevisionRequest(Terms):
    reason = Text(500)


class BudgetRequest(Schema):
    program_id = uuid_field(required=True)
    federation = Code(required=True)
    amount = Money(metadata={"description": "the federation's budget for the program from now on"})


class DisbursementRequest(Schema):
    case_id = uuid_field(required=True)
    program_id = uuid_field(required=True)
    amount = optional_money(metadata={"description": "omit for a fixed-amount or share program"})
    idempotency_key = key_field()
    reason = Text(500)
    beneficiary = Matching(DIGEST, "a household member's id_digest (64 hex digits)", allow_none=True,
                           load_default=None)
    out_of_pocket = optional_money(metadata={"description": "the cost a share rule takes its share of"})


class Item(Schema):
    item = Name(50)
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=100000))
    unit = Name(20)
    value = Money(positive=True, metadata={"description": "the value of the whole line"})


class DeliveryRequest(Schema):
    case_id = uuid_field(required=True)
    program_id = uuid_field(required=True)
    items = BoundedList(fields.Nested(Item), min_items=1, max_items=50, required=True)
    delivered_on = Day(required=True)
    idempotency_key = key_field()
    reason = Text(500, required=False)


class RejectionRequest(Schema):
    reason = Text(500)


class PaymentRequest(Schema):
    paid_on = Day(required=True)
    bank_reference = Matching(REFERENCE, "letters, digits, _ and - only, 1 to 64", required=True,
                              metadata={"description": "the bank's reference (for goods: the delivery note's)"})


class FailureRequest(Schema):
    failed_on = Day(required=True)
    reason = Text(500)


class ConfirmationRequest(Schema):
    confirmed_on = Day(required=True)
    by = Name(50, metadata={"description": "who signed the clarity card (明白卡) for the household"})


class ReversalRequest(Schema):
    reversed_on = Day(required=True)
    reason = Text(500)


class BatchRequest(Schema):
    federation = Code(required=True)
    reason = Text(500)
    idempotency_key = key_field()


class ReferralRequest(Schema):
    case_id = uuid_field(required=True)
    person = person_field()
    employer = Name(100)
    position = Name(100)
    monthly_wage_offered = optional_money()
    referred_on = Day(required=True)


class OutcomeRequest(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    monthly_wage = optional_money(metadata={"description": "with a hire only"})
    recorded_on = Day(required=True)


class TrainingRequest(Schema):
    course = Name(100)
    provider = Name(100)
    federation = Code(required=True)
    starts_on = Day(required=True)
    ends_on = Day(required=True)


class EnrolmentRequest(Schema):
    case_id = uuid_field(required=True)
    person = person_field()
    enrolled_on = Day(required=True)


class CompletionRequest(Schema):
    case_id = uuid_field(required=True)
    person = person_field()
    completed_on = Day(required=True)
    certificate = Matching(REFERENCE, "letters, digits, _ and - only, 1 to 64", required=True)


class DropoutRequest(Schema):
    case_id = uuid_field(required=True)
    person = person_field()
    dropped_on = Day(required=True)
    reason = Text(500)


class ProgramQuery(Schema):
    year = StrictInteger(text=True, validate=validate.Range(min=2000, max=2100))
    kind = fields.String(validate=validate.OneOf(KINDS))


class BudgetQuery(Schema):
    program_id = uuid_field()
    federation = Code()


class DisbursementQuery(Schema):
    federation = Code()
    state = fields.String(validate=validate.OneOf(DISBURSEMENT_STATES))
    program_id = uuid_field()
    limit = StrictInteger(text=True, validate=validate.Range(min=1, max=1000), load_default=200)


class BatchQuery(Schema):
    federation = Code(metadata={"description": "batches made for this subtree and under it (default: yours)"})
    program_id = uuid_field()
    offset = StrictInteger(text=True, validate=validate.Range(min=0, max=10_000_000), load_default=0)
    limit = StrictInteger(text=True, validate=validate.Range(min=1, max=1000), load_default=100)


class ReconciliationQuery(Schema):
    federation = Code()
    year = StrictInteger(text=True, validate=validate.Range(min=2000, max=2100))
    program = uuid_field(metadata={"description": "one program's id"})


class StatsQuery(Schema):
    federation = Code()
    year = StrictInteger(text=True, required=True, validate=validate.Range(min=2000, max=2100))


# Responses.

Amount = fields.String  # "1000.00"


class RuleView(Schema):
    share = fields.String()
    cap = Amount()
    max = Amount()


class EligibilityView(Schema):
    include_exited = fields.Boolean(required=True)
    categories = fields.List(fields.String(), required=True)
    causes = fields.List(fields.String(), required=True)
    household_cap = Amount(allow_none=True, required=True)
    min_members = fields.Integer(allow_none=True, required=True)
    max_members = fields.Integer(allow_none=True, required=True)


class VersionView(Schema):
    version = fields.Integer(required=True)
    amount = Amount(allow_none=True, required=True)
    rule = fields.Nested(RuleView, allow_none=True, required=True)
    eligibility = fields.Nested(EligibilityView, required=True)


class ProgramView(Schema):
    program_id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    year = fields.Integer(required=True)
    federation = fields.String(required=True)
    festival = fields.String(allow_none=True, required=True)
    help = fields.String(required=True)
    version = fields.Integer(required=True)
    amount = Amount(allow_none=True, required=True)
    rule = fields.Nested(RuleView, allow_none=True, required=True)
    eligibility = fields.Nested(EligibilityView, required=True)
    versions = fields.List(fields.Nested(VersionView), required=True)


class ProgramRow(Schema):
    program_id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    year = fields.Integer(required=True)
    federation = fields.String(required=True)
    festival = fields.String(allow_none=True, required=True)
    version = fields.Integer(required=True)


class ProgramList(Schema):
    programs = fields.List(fields.Nested(ProgramRow), required=True)


class Figures(Schema):
    """What a program's money at a federation (or a subtree) amounts to, in yuan."""

    program_id = fields.String(required=True)
    kind = fields.String(required=True)
    year = fields.Integer(required=True)
    budget = Amount(required=True)
    reserved = Amount(required=True)
    paid = Amount(required=True, metadata={"description": "paid (confirmed or not) and not reversed"})
    failed = Amount(required=True)
    reversed = Amount(required=True)
    remaining = Amount(required=True, metadata={"description": "budget − allocated to children − reserved − paid"})


class BudgetView(Figures):
    federation = fields.String(required=True)
    allocated_to_children = Amount(required=True)


class BudgetList(Schema):
    budgets = fields.List(fields.Nested(BudgetView), required=True)


class CheckView(Schema):
    check = fields.String(required=True)
    passed = fields.Boolean(required=True)
    detail = fields.String(required=True)


class DecisionView(Schema):
    rule_version = fields.Integer(required=True)
    passed = fields.Boolean(required=True)
    checks = fields.List(fields.Nested(CheckView), required=True)


class StepView(Schema):
    state = fields.String(required=True)
    on = fields.String(required=True)
    by = fields.String(required=True)
    reason = fields.String(allow_none=True)
    bank_reference = fields.String()
    confirmed_by = fields.String()


class ItemView(Schema):
    item = fields.String(required=True)
    quantity = fields.String(required=True)
    unit = fields.String(required=True)
    value = Amount(required=True)


class DisbursementView(Schema):
    disbursement_id = fields.String(required=True)
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    program_id = fields.String(required=True)
    kind = fields.String(required=True)
    form = fields.String(required=True, validate=validate.OneOf(("money", "goods")))
    amount = Amount(required=True)
    state = fields.String(required=True, validate=validate.OneOf(DISBURSEMENT_STATES))
    reason = fields.String(required=True)
    beneficiary = fields.String(allow_none=True, required=True)
    idempotency_key = fields.String(required=True)
    batch_id = fields.String(allow_none=True, required=True)
    budget_federation = fields.String(required=True)
    requested_by = fields.String(required=True)
    requested_on = fields.String(required=True)
    delivered_on = fields.String(allow_none=True, required=True)
    bank_reference = fields.String(allow_none=True, required=True)
    items = fields.List(fields.Nested(ItemView), allow_none=True, required=True)
    decision = fields.Nested(DecisionView, required=True)
    steps = fields.List(fields.Nested(StepView), required=True)


class DisbursementRow(Schema):
    disbursement_id = fields.String(required=True)
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    program_id = fields.String(required=True)
    kind = fields.String(required=True)
    form = fields.String(required=True)
    amount = Amount(required=True)
    state = fields.String(required=True)
    batch_id = fields.String(allow_none=True, required=True)
    requested_by = fields.String(required=True)
    requested_on = fields.String(required=True)


class DisbursementList(Schema):
    disbursements = fields.List(fields.Nested(DisbursementRow), required=True)


class Exclusion(Schema):
    case_id = fields.String(required=True)
    failed = fields.List(fields.Nested(CheckView), required=True)


class BatchApproval(Schema):
    by = fields.String(required=True)
    on = fields.String(required=True)
    approved = fields.Integer(required=True, metadata={"description": "requests the approval decided"})
    total = Amount(required=True, metadata={"description": "reserved from the budgets at the decision"})
    complete = fields.Boolean(required=True, metadata={
        "description": "every decided request reached; false while the approval is applied step by step "
                       "(send the approval again to finish an interrupted one)"})
    applied = fields.Integer(required=True, metadata={"description": "decided requests reached so far"})
    released = fields.Integer(required=True, metadata={
        "description": "of those, the ones no longer requested (their share of the reservation went back)"})


class BatchHead(Schema):
    """What a batch and its row in the list both show."""

    batch_id = fields.String(required=True)
    program_id = fields.String(required=True)
    federation = fields.String(required=True)
    reason = fields.String(required=True)
    amount = Amount(required=True, metadata={"description": "per household"})
    created_by = fields.String(required=True)
    created_on = fields.String(required=True)
    included = fields.Integer(required=True)
    total = Amount(required=True)
    assembled = fields.Boolean(required=True, metadata={
        "description": "every household of the subtree looked at; false while the batch is built step by step "
                       "(send its creation again to finish an interrupted one)"})


class BatchView(BatchHead):
    idempotency_key = fields.String(required=True)
    rule_version = fields.Integer(required=True)
    excluded = fields.List(fields.Nested(Exclusion), required=True)
    disbursements = fields.List(fields.String(), required=True)
    approval = fields.Nested(BatchApproval, allow_none=True, required=True)
    results = fields.List(fields.Dict(), required=True)


class BatchRow(BatchHead):
    kind = fields.String(required=True)
    excluded = fields.Integer(required=True, metadata={"description": "filed households left out"})
    approved_on = fields.String(allow_none=True, required=True)
    approved_by = fields.String(allow_none=True, required=True)
    complete = fields.Boolean(required=True, metadata={"description": "approved, and every request reached"})
    paid = fields.Integer(required=True, metadata={"description": "lines the bank results have paid"})
    failed = fields.Integer(required=True, metadata={"description": "lines the bank results have returned"})


class BatchList(Schema):
    batches = fields.List(fields.Nested(BatchRow), required=True, metadata={
        "description": "newest first; a batch made before this list existed appears once it next changes"})
    total = fields.Integer(required=True, metadata={"description": "batches that match, in all pages"})
    offset = fields.Integer(required=True)


class BankLine(Schema):
    line = fields.Integer(required=True)
    disbursement_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(("paid", "failed", "refused", "unchanged")))
    reason = fields.String(allow_none=True, required=True)


class BankResultsView(Schema):
    batch_id = fields.String(required=True)
    paid = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    lines = fields.List(fields.Nested(BankLine), required=True)


class OutcomeView(Schema):
    outcome = fields.String(required=True)
    monthly_wage = Amount(allow_none=True, required=True)
    recorded_on = fields.String(required=True)
    by = fields.String(required=True)


class ReferralView(Schema):
    referral_id = fields.String(required=True)
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    person = fields.String(required=True)
    employer = fields.String(required=True)
    position = fields.String(required=True)
    monthly_wage_offered = Amount(allow_none=True, required=True)
    referred_on = fields.String(required=True)
    outcome = fields.String(allow_none=True, required=True)
    by = fields.String(required=True)
    outcomes = fields.List(fields.Nested(OutcomeView), required=True)


class EnrolmentView(Schema):
    case_id = fields.String(required=True)
    person = fields.String(required=True)
    state = fields.String(required=True)
    enrolled_on = fields.String(required=True)
    completed_on = fields.String(allow_none=True, required=True)
    certificate = fields.String(allow_none=True, required=True)
    dropped_on = fields.String(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)


class TrainingView(Schema):
    training_id = fields.String(required=True)
    course = fields.String(required=True)
    provider = fields.String(required=True)
    federation = fields.String(required=True)
    starts_on = fields.String(required=True)
    ends_on = fields.String(required=True)
    enrolments = fields.List(fields.Nested(EnrolmentView), required=True)


class ReconciliationLine(BudgetView):
    requested = Amount(required=True, metadata={"description": "waiting for approval against this budget"})


class ReconciliationTotal(Figures):
    budget = Amount(required=True, metadata={"description": "what came into the subtree, counted once"})
    requested = Amount(required=True)


class Reconciliation(Schema):
    federation = fields.String(required=True)
    budgets = fields.List(fields.Nested(ReconciliationLine), required=True)
    totals = fields.List(fields.Nested(ReconciliationTotal), required=True)


class CaseTraining(Schema):
    training_id = fields.String(required=True)
    course = fields.String(required=True)
    provider = fields.String(required=True)
    person = fields.String(required=True)
    state = fields.String(required=True)
    enrolled_on = fields.String(required=True)
    completed_on = fields.String(allow_none=True, required=True)


class CaseAid(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    state = fields.String(required=True)
    received = Amount(required=True, metadata={"description": "money paid and goods handed over, in yuan"})
    money = fields.List(fields.Nested(DisbursementView), required=True)
    goods = fields.List(fields.Nested(DisbursementView), required=True)
    referrals = fields.List(fields.Nested(ReferralView), required=True)
    trainings = fields.List(fields.Nested(CaseTraining), required=True)


class Helped(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(HELP_KINDS))
    people = fields.Integer(required=True)
    households = fields.Integer(required=True)


class KindMoney(Schema):
    kind = fields.String(required=True)
    paid = Amount(required=True)


class AidStats(Schema):
    federation = fields.String(required=True)
    year = fields.Integer(required=True)
    helped = fields.List(fields.Nested(Helped), required=True)
    money_by_kind = fields.List(fields.Nested(KindMoney), required=True)
    referrals = fields.Integer(required=True)
    hires = fields.Integer(required=True)
    trainings_completed = fields.Integer(required=True)
    hired_after_training = fields.Integer(required=True)
