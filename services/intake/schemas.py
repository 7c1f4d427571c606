"""The intake API's request and response schemas: every field checked at the boundary."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates

from services.contracts.envelope import FEDERATION_CODE
from services.intake.domain import CATEGORIES, CAUSES, DEFAULT_NOTICE_DAYS, STATES
from services.intake.identity import id_number_problem

RELATIONS = ("spouse", "child", "parent", "parent_in_law", "sibling", "grandchild", "grandparent", "other")
HEALTH = ("healthy", "chronic_illness", "serious_illness", "disability")
SCHOOLING = ("none", "preschool", "primary", "junior", "senior", "vocational", "college", "graduate")
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")

Name = fields.String(required=True, validate=validate.Length(min=1, max=50))
Text = fields.String(load_default="", validate=validate.Length(max=2000))
Money = fields.Decimal(required=True, places=2, as_string=True, validate=validate.Range(min=0))


class WorkerIn(Schema):
    name = Name
    id_number = fields.String(required=True)
    phone = fields.String(required=True, validate=validate.Regexp(PHONE, error="not a mobile or landline number"))
    employer = fields.String(required=True, validate=validate.Length(max=100))
    migrant = fields.Boolean(required=True)

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


class MemberIn(Schema):
    name = Name
    relation = fields.String(required=True, validate=validate.OneOf(RELATIONS))
    age = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=130))
    health = fields.String(required=True, validate=validate.OneOf(HEALTH))
    schooling = fields.String(required=True, validate=validate.OneOf(SCHOOLING))


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
    opened_by = fields.String()
    opened_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()


class CaseSummary(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    state = fields.String(required=True)
    category = fields.String(required=True)
    opened_at = fields.String()
    updated_at = fields.String()


class CaseList(Schema):
    cases = fields.List(fields.Nested(CaseSummary), required=True)


class ObjectionCreated(Schema):
    objection_id = fields.String(required=True)
    case = fields.Nested(CaseView)
