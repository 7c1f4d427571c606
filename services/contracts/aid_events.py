"""The aid service's integration events (version 1): programs, budgets, every step of every disbursement
of money or goods, batches, job referrals and trainings.

Money is a decimal string with two places in CNY ("1000.00"). Events about a household are keyed by its
case id; a program, a budget, a batch or a training is about no one household, so its envelope's
`case_id` holds its own id (as pairing's roster events do, decisions.md). Every disbursement step carries
its amount, the program kind, the version of the rules it was decided on and who acted. No name, ID number
or phone leaves aid: a beneficiary or a person is a member's keyed digest (or "worker"). Every field is
bounded as aid's requests bound it, or as long as what aid writes itself may be (bounds.py: every event
must fit one trail entry).
"""

from marshmallow import Schema, fields, validate

from services.contracts.bounds import (
    CODE,
    DIGEST_PATTERN,
    LOGIN,
    NAME,
    REASON,
    REFERENCE,
    TITLE,
    YUAN_PATTERN,
    count,
    federation,
    integer,
    listing,
    text,
    uuid,
    whole,
)

By = text(LOGIN)  # a login name, or "aid" for what aid does itself
Yuan = whole(YUAN_PATTERN)
MaybeYuan = whole(YUAN_PATTERN, allow_none=True)
Person = whole(DIGEST_PATTERN)
Kind = fields.String(required=True, validate=validate.OneOf(
    ["festival", "education", "medical", "mutual_insurance", "living", "emergency", "startup", "goods"]))
CHECKS = 20  # a decision makes at most 9
DETAIL = 200  # a check's detail (aid writes at most about 100): amounts, dates, a festival, categories, causes
ITEMS = 50  # lines of goods in one delivery
QUANTITY = 20  # a quantity of goods as text ("100000")
UNIT = 20  # the unit it is counted in
CATEGORIES = 3  # intake's categories
CAUSES = 8  # intake's causes


class Rule(Schema):
    share = text(CODE, required=False)
    cap = whole(YUAN_PATTERN, required=False)
    max = whole(YUAN_PATTERN, required=False)


class Eligibility(Schema):
    include_exited = fields.Boolean(required=True)
    categories = listing(text(CODE), CATEGORIES)
    causes = listing(text(CODE), CAUSES)
    household_cap = MaybeYuan
    min_members = integer(1, 30, allow_none=True)
    max_members = integer(1, 30, allow_none=True)


class Terms(Schema):
    amount = MaybeYuan
    rule = fields.Nested(Rule, required=True, allow_none=True)
    eligibility = fields.Nested(Eligibility, required=True)


class ProgramCreated(Schema):
    program_id = uuid()
    name = text(TITLE)
    kind = Kind
    year = integer(2000, 2100)
    festival = text(CODE, allow_none=True)
    help = text(CODE)
    version = count()
    terms = fields.Nested(Terms, required=True)
    by = By


class ProgramRevised(Schema):
    program_id = uuid()
    version = count()
    terms = fields.Nested(Terms, required=True)
    reason = text(REASON)
    by = By


class BudgetAllocated(Schema):
    """A federation's budget of a program set to `amount`; `delta` came out of (or went back to) the parent."""

    program_id = uuid()
    amount = Yuan
    delta = whole(r"^-?[0-9]{1,10}\.[0-9]{2}\Z")
    by = By


class Check(Schema):
    check = text(CODE)
    passed = fields.Boolean(required=True)
    detail = text(DETAIL)


class Decision(Schema):
    rule_version = count()
    passed = fields.Boolean(required=True)
    checks = listing(fields.Nested(Check), CHECKS)


class Item(Schema):
    item = text(NAME)
    quantity = text(QUANTITY)
    unit = text(UNIT)
    value = Yuan


class DisbursementRequested(Schema):
    disbursement_id = uuid()
    program_id = uuid()
    kind = Kind
    form = fields.String(required=True, validate=validate.OneOf(["money", "goods"]))
    amount = Yuan
    items = listing(fields.Nested(Item), ITEMS, allow_none=True)
    delivered_on = fields.Date(required=True, allow_none=True)
    reason = text(REASON)
    beneficiary = whole(DIGEST_PATTERN, allow_none=True)
    batch_id = uuid(allow_none=True)
    budget_federation = federation()
    decision = fields.Nested(Decision, required=True)
    requested_on = fields.Date(required=True)
    by = By


class DisbursementStep(Schema):
    """One step after the request: approved, rejected, paid, confirmed, failed, reversed or cancelled."""

    disbursement_id = uuid()
    kind = Kind
    amount = Yuan
    rule_version = count()
    on = fields.Date(required=True)
    reason = text(REASON, allow_none=True)
    by = By


class DisbursementPaid(DisbursementStep):
    bank_reference = text(REFERENCE)


class DisbursementConfirmed(DisbursementStep):
    confirmed_by = text(NAME)


class BatchCreated(Schema):
    batch_id = uuid()
    program_id = uuid()
    reason = text(REASON)
    rule_version = count()
    amount = Yuan
    included = count()
    total = Yuan
    by = By


class BatchExcluded(Schema):
    """A filed household a batch left out, with the checks it failed (keyed by its case)."""

    batch_id = uuid()
    failed = listing(fields.Nested(Check), CHECKS)


class BatchApproved(Schema):
    batch_id = uuid()
    approved = count()
    total = Yuan
    on = fields.Date(required=True)
    by = By


class BankResultsImported(Schema):
    batch_id = uuid()
    sha256 = whole(DIGEST_PATTERN)
    paid = count()
    failed = count()
    refused = count()
    by = By


class ReferralMade(Schema):
    referral_id = uuid()
    person = Person
    employer = text(TITLE)
    position = text(TITLE)
    monthly_wage_offered = MaybeYuan
    referred_on = fields.Date(required=True)
    by = By


class ReferralOutcome(Schema):
    referral_id = uuid()
    outcome = fields.String(required=True, validate=validate.OneOf(["interviewed", "hired", "not_hired"]))
    monthly_wage = MaybeYuan
    recorded_on = fields.Date(required=True)
    by = By


class TrainingCreated(Schema):
    training_id = uuid()
    course = text(TITLE)
    provider = text(TITLE)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    by = By


class TrainingEnrolled(Schema):
    training_id = uuid()
    person = Person
    enrolled_on = fields.Date(required=True)
    by = By


class TrainingCompleted(Schema):
    training_id = uuid()
    person = Person
    completed_on = fields.Date(required=True)
    certificate = text(REFERENCE)
    by = By


class TrainingDroppedOut(Schema):
    training_id = uuid()
    person = Person
    dropped_on = fields.Date(required=True)
    reason = text(REASON)
    by = By


SCHEMAS: dict[str, type[Schema]] = {
    "ProgramCreated": ProgramCreated,
    "ProgramRevised": ProgramRevised,
    "BudgetAllocated": BudgetAllocated,
    "DisbursementRequested": DisbursementRequested,
    "DisbursementApproved": DisbursementStep,
    "DisbursementRejected": DisbursementStep,
    "DisbursementPaid": DisbursementPaid,
    "DisbursementConfirmed": DisbursementConfirmed,
    "DisbursementFailed": DisbursementStep,
    "DisbursementReversed": DisbursementStep,
    "DisbursementCancelled": DisbursementStep,
    "BatchCreated": BatchCreated,
    "BatchExcluded": BatchExcluded,
    "BatchApproved": BatchApproved,
    "BankResultsImported": BankResultsImported,
    "ReferralMade": ReferralMade,
    "ReferralOutcome": ReferralOutcome,
    "TrainingCreated": TrainingCreated,
    "TrainingEnrolled": TrainingEnrolled,
    "TrainingCompleted": TrainingCompleted,
    "TrainingDroppedOut": TrainingDroppedOut,
}
