"""The intake service's integration events (version 1): the filing workflow of one case.

Personal data never leaves intake in the clear: events carry the masked ID number and phone and a
keyed digest of the ID number, so other services can match a person without learning who it is.
"""

from marshmallow import Schema, fields, validate

Money = fields.Decimal(as_string=True, required=True, validate=validate.Range(min=0))


class Member(Schema):
    name = fields.String(required=True)
    relation = fields.String(required=True)
    age = fields.Integer(required=True)
    health = fields.String(required=True)
    schooling = fields.String(required=True)
    employment = fields.String()
    id_number_masked = fields.String()
    id_digest = fields.String(validate=validate.Length(equal=64))


class Worker(Schema):
    name = fields.String(required=True)
    id_number_masked = fields.String(required=True)
    id_digest = fields.String(required=True, validate=validate.Length(equal=64))
    phone_masked = fields.String(required=True)
    employer = fields.String(required=True)
    migrant = fields.Boolean(required=True)


class Household(Schema):
    members = fields.List(fields.Nested(Member), required=True)
    monthly_income = Money
    subsistence_line = Money
    per_capita_income = Money


class Imported(Schema):
    """Where a case migrated from a previous system came from; such a case opens already filed."""

    filed_on = fields.Date(required=True)
    import_id = fields.String(required=True)
    row = fields.Integer(required=True)


class CaseOpened(Schema):
    worker = fields.Nested(Worker, required=True)
    household = fields.Nested(Household, required=True)
    category = fields.String(required=True)
    causes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    opened_by = fields.String(required=True)
    imported = fields.Nested(Imported, allow_none=True, load_default=None)


class CaseVerified(Schema):
    visitors = fields.List(fields.String(), required=True, validate=validate.Length(min=2))
    visited_on = fields.Date(required=True)
    per_capita_income = Money
    findings = fields.String(required=True)
    by = fields.String(required=True)


class CaseDeliberated(Schema):
    decided_on = fields.Date(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["recommend", "reject"]))
    notes = fields.String(required=True)
    by = fields.String(required=True)


class NoticePublished(Schema):
    starts_on = fields.Date(required=True)
    days = fields.Integer(required=True)
    ends_on = fields.Date(required=True)
    by = fields.String(required=True)


class ObjectionRaised(Schema):
    objection_id = fields.String(required=True)
    raised_on = fields.Date(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)


class ObjectionResolved(Schema):
    objection_id = fields.String(required=True)
    upheld = fields.Boolean(required=True)
    notes = fields.String(required=True)
    by = fields.String(required=True)


class CaseApproved(Schema):
    approved_on = fields.Date(required=True)
    approver = fields.String(required=True)


class CaseFiled(Schema):
    filed_on = fields.Date(required=True)


class CaseReviewed(Schema):
    reviewed_on = fields.Date(required=True)
    findings = fields.String(required=True)
    still_qualifies = fields.Boolean(required=True)
    by = fields.String(required=True)


class CaseExited(Schema):
    reason = fields.String(required=True)
    exited_on = fields.Date(required=True)
    notes = fields.String(required=True)
    by = fields.String(required=True)


class CaseRefiled(Schema):
    """A return to hardship (返困): an exited household filed again, on the same case."""

    refiled_on = fields.Date(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)


class CaseAmended(Schema):
    changed = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    changes = fields.Dict(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)


class MeasurePlanned(Schema):
    measure_id = fields.String(required=True)
    kind = fields.String(required=True)
    description = fields.String(required=True)
    planned_on = fields.Date(required=True)
    due_on = fields.Date(required=True, allow_none=True)
    by = fields.String(required=True)


class MeasureDone(Schema):
    measure_id = fields.String(required=True)
    done_on = fields.Date(required=True)
    result = fields.String(required=True)
    by = fields.String(required=True)


class CaseClosed(Schema):
    """Shared shape of rejection and withdrawal: who ended the application and why."""

    reason = fields.String(required=True)
    by = fields.String(required=True)


SCHEMAS: dict[str, type[Schema]] = {
    "CaseOpened": CaseOpened,
    "CaseVerified": CaseVerified,
    "CaseDeliberated": CaseDeliberated,
    "NoticePublished": NoticePublished,
    "ObjectionRaised": ObjectionRaised,
    "ObjectionResolved": ObjectionResolved,
    "CaseApproved": CaseApproved,
    "CaseFiled": CaseFiled,
    "CaseRejected": CaseClosed,
    "CaseWithdrawn": CaseClosed,
    "CaseReviewed": CaseReviewed,
    "CaseExited": CaseExited,
    "CaseRefiled": CaseRefiled,
    "CaseAmended": CaseAmended,
    "MeasurePlanned": MeasurePlanned,
    "MeasureDone": MeasureDone,
}
