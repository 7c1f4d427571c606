"""The aid service's integration events (version 1): programs, budgets, every step of every disbursement
of money or goods, batches, job referrals and trainings.

Money is a decimal string with two places in CNY ("1000.00"). Events about a household are keyed by its
case id; a program, a budget, a batch or a training is about no one household, so its envelope's
`case_id` holds its own id (as pairing's roster events do, decisions.md). Every disbursement step carries
its amount, the program kind, the version of the rules it was decided on and who acted. No name, ID number
or phone leaves aid: a beneficiary or a person is a member's keyed digest (or "worker").
"""

from marshmallow import Schema, fields, validate

Text = fields.String(required=True)
Yuan = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{1,10}\.[0-9]{2}\Z"))
MaybeYuan = fields.String(required=True, allow_none=True, validate=validate.Regexp(r"^[0-9]{1,10}\.[0-9]{2}\Z"))
Person = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}\Z"))
KINDS = ["festival", "education", "medical", "mutual_insurance", "living", "emergency", "startup", "goods"]


class Rule(Schema):
    share = fields.String()
    cap = fields.String()
    max = fields.String()


class Eligibility(Schema):
    include_exited = fields.Boolean(required=True)
    categories = fields.List(fields.String(), required=True)
    causes = fields.List(fields.String(), required=True)
    household_cap = MaybeYuan
    min_members = fields.Integer(required=True, allow_none=True)
    max_members = fields.Integer(required=True, allow_none=True)


class Terms(Schema):
    amount = MaybeYuan
    rule = fields.Nested(Rule, required=True, allow_none=True)
    eligibility = fields.Nested(Eligibility, required=True)


class ProgramCreated(Schema):
    program_id = fields.UUID(required=True)
    name = Text
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    year = fields.Integer(required=True)
    festival = fields.String(required=True, allow_none=True)
    help = Text
    version = fields.Integer(required=True)
    terms = fields.Nested(Terms, required=True)
    by = Text


class ProgramRevised(Schema):
    program_id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    terms = fields.Nested(Terms, required=True)
    reason = Text
    by = Text


class BudgetAllocated(Schema):
    """A federation's budget of a program set to `amount`; `delta` came out of (or went back to) the parent."""

    program_id = fields.UUID(required=True)
    amount = Yuan
    delta = fields.String(required=True, validate=validate.Regexp(r"^-?[0-9]{1,10}\.[0-9]{2}\Z"))
    by = Text


class Check(Schema):
    check = Text
    passed = fields.Boolean(required=True)
    detail = Text


class Decision(Schema):
    rule_version = fields.Integer(required=True)
    passed = fields.Boolean(required=True)
    checks = fields.List(fields.Nested(Check), required=True, validate=validate.Length(max=20))


class Item(Schema):
    item = Text
    quantity = Text
    unit = Text
    value = Yuan


class DisbursementRequested(Schema):
    disbursement_id = fields.UUID(required=True)
    program_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    form = fields.String(required=True, validate=validate.OneOf(["money", "goods"]))
    amount = Yuan
    items = fields.List(fields.Nested(Item), required=True, allow_none=True, validate=validate.Length(max=50))
    delivered_on = fields.Date(required=True, allow_none=True)
    reason = fields.String(required=True)
    beneficiary = fields.String(required=True, allow_none=True, validate=validate.Regexp(r"^[0-9a-f]{64}\Z"))
    batch_id = fields.UUID(required=True, allow_none=True)
    budget_federation = Text
    decision = fields.Nested(Decision, required=True)
    requested_on = fields.Date(required=True)
    by = Text


class DisbursementStep(Schema):
    """One step after the request: approved, rejected, paid, confirmed, failed, reversed or cancelled."""

    disbursement_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    amount = Yuan
    rule_version = fields.Integer(required=True)
    on = fields.Date(required=True)
    reason = fields.String(required=True, allow_none=True)
    by = Text


class DisbursementPaid(DisbursementStep):
    bank_reference = Text


class DisbursementConfirmed(DisbursementStep):
    confirmed_by = Text


class BatchCreated(Schema):
    batch_id = fields.UUID(required=True)
    program_id = fields.UUID(required=True)
    reason = Text
    rule_version = fields.Integer(required=True)
    amount = Yuan
    included = fields.Integer(required=True)
    total = Yuan
    by = Text


class BatchExcluded(Schema):
    """A filed household a batch left out, with the checks it failed (keyed by its case)."""

    batch_id = fields.UUID(required=True)
    failed = fields.List(fields.Nested(Check), required=True, validate=validate.Length(max=20))


class BatchApproved(Schema):
    batch_id = fields.UUID(required=True)
    approved = fields.Integer(required=True)
    total = Yuan
    on = fields.Date(required=True)
    by = Text


class BankResultsImported(Schema):
    batch_id = fields.UUID(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}\Z"))
    paid = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    by = Text


class ReferralMade(Schema):
    referral_id = fields.UUID(required=True)
    person = Person
    employer = Text
    position = Text
    monthly_wage_offered = MaybeYuan
    referred_on = fields.Date(required=True)
    by = Text


class ReferralOutcome(Schema):
    referral_id = fields.UUID(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["interviewed", "hired", "not_hired"]))
    monthly_wage = MaybeYuan
    recorded_on = fields.Date(required=True)
    by = Text


class TrainingCreated(Schema):
    training_id = fields.UUID(required=True)
    course = Text
    provider = Text
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    by = Text


class TrainingEnrolled(Schema):
    training_id = fields.UUID(required=True)
    person = Person
    enrolled_on = fields.Date(required=True)
    by = Text


class TrainingCompleted(Schema):
    training_id = fields.UUID(required=True)
    person = Person
    completed_on = fields.Date(required=True)
    certificate = Text
    by = Text


class TrainingDroppedOut(Schema):
    training_id = fields.UUID(required=True)
    person = Person
    dropped_on = fields.Date(required=True)
    reason = Text
    by = Text


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
