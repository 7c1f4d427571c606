"""The intake service's integration events (version 1): the filing workflow of one case.

Personal data never leaves intake in the clear: events carry the masked ID number and phone and a
keyed digest of the ID number, so other services can match a person without learning who it is. Every
field is bounded as intake's requests bound it (bounds.py: every event must fit one trail entry).
"""

from marshmallow import Schema, fields, validate

from services.contracts.bounds import (
    CODE,
    DIGEST_PATTERN,
    FINDINGS,
    ID,
    LOGIN,
    NAME,
    NOTE,
    TITLE,
    count,
    integer,
    listing,
    masked_id,
    masked_phone,
    text,
    whole,
)

MEMBERS = 30  # as many as an application may list
CAUSES = 8  # intake's causes, each at most once
VISITORS = 10  # two to ten staff visit the home
SECTIONS = 4  # what an amendment may change: worker, household, category, causes
# A decimal string (str of intake's Decimal): "1800.00", or "600" from a domain test.
Money = whole(r"^[0-9]{1,10}(\.[0-9]{1,2})?\Z")
By = text(LOGIN)


class Member(Schema):
    name = text(NAME)
    relation = text(CODE)
    age = integer(0, 130)
    health = text(CODE)
    schooling = text(CODE)
    employment = text(CODE, required=False)
    id_number_masked = masked_id(required=False)
    id_digest = whole(DIGEST_PATTERN, required=False)


class Worker(Schema):
    name = text(NAME)
    id_number_masked = masked_id()
    id_digest = whole(DIGEST_PATTERN)
    phone_masked = masked_phone()
    employer = text(TITLE)
    migrant = fields.Boolean(required=True)


class Household(Schema):
    members = listing(fields.Nested(Member), MEMBERS)
    monthly_income = Money
    subsistence_line = Money
    per_capita_income = Money


class Imported(Schema):
    """Where a case migrated from a previous system came from; such a case opens already filed."""

    filed_on = fields.Date(required=True)
    import_id = text(ID)
    row = count()


class CaseOpened(Schema):
    worker = fields.Nested(Worker, required=True)
    household = fields.Nested(Household, required=True)
    category = text(CODE)
    causes = listing(text(CODE), CAUSES, min_items=1)
    opened_by = By
    imported = fields.Nested(Imported, allow_none=True, load_default=None)


class CaseVerified(Schema):
    visitors = listing(text(NAME), VISITORS, min_items=2)
    visited_on = fields.Date(required=True)
    per_capita_income = Money
    findings = text(FINDINGS)
    by = By


class CaseDeliberated(Schema):
    decided_on = fields.Date(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["recommend", "reject"]))
    notes = text(NOTE)
    by = By


class NoticePublished(Schema):
    starts_on = fields.Date(required=True)
    days = integer(1, 60)
    ends_on = fields.Date(required=True)
    by = By


class ObjectionRaised(Schema):
    objection_id = text(ID)
    raised_on = fields.Date(required=True)
    reason = text(NOTE)
    by = By  # who objected: a name, at most 50 characters


class ObjectionResolved(Schema):
    objection_id = text(ID)
    upheld = fields.Boolean(required=True)
    notes = text(NOTE)
    by = By


class CaseApproved(Schema):
    approved_on = fields.Date(required=True)
    approver = By


class CaseFiled(Schema):
    filed_on = fields.Date(required=True)


class CaseReviewed(Schema):
    reviewed_on = fields.Date(required=True)
    findings = text(FINDINGS)
    still_qualifies = fields.Boolean(required=True)
    by = By


class CaseExited(Schema):
    reason = text(CODE)
    exited_on = fields.Date(required=True)
    notes = text(NOTE)
    by = By


class CaseRefiled(Schema):
    """A return to hardship (返困): an exited household filed again, on the same case."""

    refiled_on = fields.Date(required=True)
    reason = text(NOTE)
    by = By


class Changes(Schema):
    """The new value of each section an amendment changed, masked as in CaseOpened."""

    worker = fields.Nested(Worker)
    household = fields.Nested(Household)
    category = text(CODE, required=False)
    causes = listing(text(CODE), CAUSES, min_items=1, required=False)


class CaseAmended(Schema):
    changed = listing(text(CODE), SECTIONS, min_items=1)
    changes = fields.Nested(Changes, required=True)
    reason = text(NOTE)
    by = By


class MeasurePlanned(Schema):
    measure_id = text(ID)
    kind = text(CODE)
    description = text(NOTE)
    planned_on = fields.Date(required=True)
    due_on = fields.Date(required=True, allow_none=True)
    by = By


class MeasureDone(Schema):
    measure_id = text(ID)
    done_on = fields.Date(required=True)
    result = text(NOTE)
    by = By


class PersonalDataViewed(Schema):
    """Someone was shown the case's ID numbers and phone in full (查看记录), with the reason they gave."""

    reason = text(NOTE)
    by = By


class CaseClosed(Schema):
    """Shared shape of rejection and withdrawal: who ended the application and why."""

    reason = text(NOTE)
    by = By


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
    "PersonalDataViewed": PersonalDataViewed,
}
