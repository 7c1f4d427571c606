"""The intake API's request and response schemas: every field checked at the boundary."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates

from services.contracts.envelope import FEDERATION_CODE
from services.intake.domain import CATEGORIES, CAUSES, DEFAULT_NOTICE_DAYS, EXIT_REASONS, MEASURE_KINDS, STATES
from services.intake.identity import id_number_problem

RELATIONS = ("spouse", "child", "parent", "parent_in_law", "sibling", "grandchild", "grandparent", "other")
HEALTH = ("healthy", "chronic_illness", "serious_illness", "disability")
SCHOOLING = ("none", "preschool", "primary", "junior", "senior", "vocational", "college", "graduate")
EMPLOYMENT = ("employed", "flexible", "unemployed", "retired", "student", "unable_to_work", "none")
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")

Name = fields.String(required=True, validate=validate.Length(min=1, max=50))
Text = fields.String(load_default="", validate=validate.Length(max=2000))
Money = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))


class IdNumberChecks(Schema):
    """Upper-case a trailing x and check the ID number's format, birth date and check character."""

    @pre_load
    def upper_x(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("id_number"), str):
            data = {**data, "id_number": data["id_number"].strip().upper()}
        return data

    @validates("id_number")
    def check_id_number(self, value: str, data_key: str) -> None:
        problem = id_number_problem(value)
        if problem:
            raise ValidationError(problem)


class WorkerIn(IdNumberChecks):
    name = Name
    id_number = fields.String(required=True)
    phone = fields.String(required=True, validate=validate.Regexp(PHONE, error="not a mobile or landline number"))
    employer = fields.String(required=True, validate=validate.Length(max=100))
    migrant = fields.Boolean(required=True)


class MemberIn(IdNumberChecks):
    name = Name
    relation = fields.String(required=True, validate=validate.OneOf(RELATIONS))
    age = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=130))
    health = fields.String(required=True, validate=validate.OneOf(HEALTH))
    schooling = fields.String(required=True, validate=validate.OneOf(SCHOOLING))
    employment = fields.String(validate=validate.OneOf(EMPLOYMENT))
    id_number = fields.String()


class HouseholdIn(Schema):
    members = fields.List(fields.Nested(MemberIn), required=True, validate=validate.Length(max=30))
    monthly_income = Money
    subsistence_line = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=0, min_inclusive=False)
    )


class OpenCaseRequest(Schema):
    federation = fields.String(required=True, validate=validate.Regexp(FEDERATION_CODE))
    worker = fields.Nested(WorkerIn, required=True)
    household = fields.Nested(HouseholdIn, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    causes = fields.List(
        fields.String(validate=validate.OneOf(CAUSES)), required=True, validate=validate.Length(min=1)
    )


class VerificationRequest(Schema):
    visitors = fields.List(fields.String(validate=validate.Length(min=1, max=50)), required=True,
                           validate=validate.Length(min=2, error="at least two staff visit the home"))
    visited_on = fields.Date(required=True)
    per_capita_income = Money
    findings = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class DeliberationRequest(Schema):
    decided_on = fields.Date(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["recommend", "reject"]))
    notes = Text


class NoticeRequest(Schema):
    starts_on = fields.Date(required=True)
    days = fields.Integer(load_default=DEFAULT_NOTICE_DAYS, strict=True, validate=validate.Range(min=1, max=60))


class ObjectionRequest(Schema):
    raised_on = fields.Date(required=True)
    by = Name
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResolutionRequest(Schema):
    upheld = fields.Boolean(required=True)
    notes = Text


class ApprovalRequest(Schema):
    approved_on = fields.Date(required=True)


class ReasonRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReviewRequest(Schema):
    reviewed_on = fields.Date(required=True)
    findings = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    still_qualifies = fields.Boolean(required=True)


class ExitRequest(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(EXIT_REASONS))
    exited_on = fields.Date(required=True)
    notes = Text


class RefilingRequest(Schema):
    refiled_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class Changes(Schema):
    worker = fields.Nested(WorkerIn)
    household = fields.Nested(HouseholdIn)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    causes = fields.List(fields.String(validate=validate.OneOf(CAUSES)), validate=validate.Length(min=1))


class AmendmentRequest(Schema):
    changes = fields.Nested(Changes, required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class MeasureRequest(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(MEASURE_KINDS))
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    planned_on = fields.Date(required=True)
    due_on = fields.Date(load_default=None, allow_none=True)


class CompletionRequest(Schema):
    done_on = fields.Date(required=True)
    result = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DueQuery(Schema):
    federation = fields.String(validate=validate.Regexp(FEDERATION_CODE))
    as_of = fields.Date()


class CaseQuery(Schema):
    federation = fields.String(validate=validate.Regexp(FEDERATION_CODE))
    state = fields.String(validate=validate.OneOf(STATES))


class CaseView(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    category = fields.String(required=True)
    causes = fields.List(fields.String(), required=True)
    worker = fields.Dict(required=True)
    household = fields.Dict(required=True)
    verification = fields.Dict(allow_none=True)
    deliberation = fields.Dict(allow_none=True)
    notice = fields.Dict(allow_none=True)
    objections = fields.List(fields.Dict())
    approval = fields.Dict(allow_none=True)
    closure = fields.Dict(allow_none=True)
    filed_on = fields.String(allow_none=True)
    reviews = fields.List(fields.Dict())
    exits = fields.List(fields.Dict())
    refilings = fields.List(fields.Dict())
    returns_to_hardship = fields.Integer()
    measures = fields.List(fields.Dict())
    amendments = fields.List(fields.Dict())
    opened_by = fields.String()
    opened_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()


class CaseSummary(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    state = fields.String(required=True)
    category = fields.String(required=True)
    causes = fields.List(fields.String())
    opened_at = fields.String()
    updated_at = fields.String()
    filed_on = fields.String(allow_none=True)
    review_due_on = fields.String(allow_none=True)


class CaseList(Schema):
    cases = fields.List(fields.Nested(CaseSummary), required=True)


class ObjectionCreated(Schema):
    objection_id = fields.String(required=True)
    case = fields.Nested(CaseView)


class MeasureCreated(Schema):
    measure_id = fields.String(required=True)
    case = fields.Nested(CaseView)


class StatsQuery(Schema):
    federation = fields.String(validate=validate.Regexp(FEDERATION_CODE))
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


class Stats(Schema):
    federation = fields.String(required=True)
    year = fields.Integer(required=True)
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    filed_by_category = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    filed_by_cause = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    filed_in_year = fields.Integer(required=True)
    exited_in_year = fields.Integer(required=True)
    returned_in_year = fields.Integer(required=True)
    files_at_start_of_year = fields.Integer(required=True)
    exit_rate = fields.Float(allow_none=True, required=True)
    exit_rate_target = fields.Float(required=True)
    return_to_hardship_rate = fields.Float(allow_none=True, required=True)
    measures_done_in_year = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class Failure(Schema):
    row = fields.Integer(required=True)
    column = fields.String(required=True)
    reason = fields.String(required=True)


class ImportView(Schema):
    import_id = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": ["running", "done", "interrupted"]})
    filename = fields.String(required=True)
    rows_total = fields.Integer(allow_none=True)
    rows_done = fields.Integer(required=True)
    filed = fields.Integer(required=True)
    failed_rows = fields.Integer(required=True)
    failures = fields.List(fields.Nested(Failure), required=True)
