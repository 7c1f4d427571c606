"""The intake API's request and response schemas: every field checked at the boundary."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates, validates_schema

from services.intake.domain import CATEGORIES, CAUSES, DEFAULT_NOTICE_DAYS, EXIT_REASONS, MEASURE_KINDS, STATES
from services.intake.identity import ID_NUMBER, MASK, MASKED_ID_NUMBER, MASKED_PHONE, id_number_problem
from services.web.fields import BoundedList, Code, Day, Matching, Money, Name, StrictBoolean, StrictInteger, Text

RELATIONS = ("spouse", "child", "parent", "parent_in_law", "sibling", "grandchild", "grandparent", "other")
HEALTH = ("healthy", "chronic_illness", "serious_illness", "disability")
SCHOOLING = ("none", "preschool", "primary", "junior", "senior", "vocational", "college", "graduate")
EMPLOYMENT = ("employed", "flexible", "unemployed", "retired", "student", "unable_to_work", "none")
PHONE = r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}"  # a mobile, or a landline with its area code


class IdNumber(Matching):
    """A resident ID number: 17 ASCII digits and a digit or X (lower-case x and spaces are tidied first)."""

    def __init__(self, **kwargs: Any):
        super().__init__(ID_NUMBER.pattern, "must be 17 digits followed by a digit or X", **kwargs)


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
    name = Name()
    id_number: Matching = IdNumber(required=True)
    phone = Matching(PHONE, "not a mobile or landline number", required=True)
    employer = Text(100, allow_blank=True)
    migrant = StrictBoolean(required=True)


class MemberIn(IdNumberChecks):
    name = Name()
    relation = fields.String(required=True, validate=validate.OneOf(RELATIONS))
    age = StrictInteger(required=True, validate=validate.Range(min=0, max=130))
    health = fields.String(required=True, validate=validate.OneOf(HEALTH))
    schooling = fields.String(required=True, validate=validate.OneOf(SCHOOLING))
    employment = fields.String(validate=validate.OneOf(EMPLOYMENT))
    id_number: Matching = IdNumber()


class HouseholdIn(Schema):
    members = BoundedList(fields.Nested(MemberIn), required=True, max_items=30)
    monthly_income = Money()
    subsistence_line = Money(positive=True)


class OpenCaseRequest(Schema):
    federation = Code(required=True)
    worker = fields.Nested(WorkerIn, required=True)
    household = fields.Nested(HouseholdIn, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    causes = BoundedList(fields.String(validate=validate.OneOf(CAUSES)), required=True, min_items=1,
                         max_items=len(CAUSES))


class VerificationRequest(Schema):
    visitors = BoundedList(Name(), required=True, min_items=2, max_items=10, error="two to ten staff visit the home")
    visited_on = Day(required=True)
    per_capita_income = Money()
    findings = Text(4000)


class DeliberationRequest(Schema):
    decided_on = Day(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["recommend", "reject"]))
    notes = Text(required=False)


class NoticeRequest(Schema):
    starts_on = Day(required=True)
    days = StrictInteger(load_default=DEFAULT_NOTICE_DAYS, validate=validate.Range(min=1, max=60))


class ObjectionRequest(Schema):
    raised_on = Day(required=True)
    by = Name()
    reason = Text()


class ResolutionRequest(Schema):
    upheld = StrictBoolean(required=True)
    notes = Text(required=False)


class ApprovalRequest(Schema):
    approved_on = Day(required=True)


class ReasonRequest(Schema):
    reason = Text()


class DisclosureRequest(Schema):
    reason = Text(500, metadata={"description": "why the ID numbers and phone must be seen; kept in the audit trail"})


class ReviewRequest(Schema):
    reviewed_on = Day(required=True)
    findings = Text(4000)
    still_qualifies = StrictBoolean(required=True)


class ExitRequest(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(EXIT_REASONS))
    exited_on = Day(required=True)
    notes = Text(required=False)


class RefilingRequest(Schema):
    refiled_on = Day(required=True)
    reason = Text()


class AmendedIdNumber(Matching):
    """In an amendment: a full ID number, or the masked one the case shows, meaning the stored one unchanged."""

    def __init__(self, **kwargs: Any):
        super().__init__(f"{ID_NUMBER.pattern}|{MASKED_ID_NUMBER}",
                         "must be 17 digits followed by a digit or X, or the masked number the case shows", **kwargs)


class AmendedIdChecks(IdNumberChecks):
    """Check a full ID number as on opening; a masked one is matched against the case by the application."""

    @validates("id_number")
    def check_id_number(self, value: str, data_key: str) -> None:
        if MASK not in value:
            super().check_id_number(value, data_key)


class AmendedWorker(AmendedIdChecks, WorkerIn):
    id_number = AmendedIdNumber(metadata={"description": "the ID number cannot change; leave it out or send it "
                                                         "as the case shows it"})
    phone = Matching(f"{PHONE}|{MASKED_PHONE}", "not a mobile or landline number, nor the masked one shown",
                     required=True, metadata={"description": "a new number, or the masked one shown: unchanged"})


class AmendedMember(AmendedIdChecks, MemberIn):
    id_number = AmendedIdNumber(metadata={"description": "a full ID number, or the masked one the case shows "
                                                         "together with the member's id_digest: unchanged"})
    id_digest = Matching("[0-9a-f]{64}", "must be the member's id_digest as the case shows it")

    @validates_schema
    def masked_needs_digest(self, data: dict[str, Any], **_: Any) -> None:
        if MASK in data.get("id_number", "") and "id_digest" not in data:
            raise ValidationError("a masked ID number needs the member's id_digest as the case shows it",
                                  "id_digest")


class AmendedHousehold(Schema):
    members = BoundedList(fields.Nested(AmendedMember), required=True, max_items=30)
    monthly_income = Money()
    subsistence_line = Money(positive=True)


class Changes(Schema):
    """Whole sections, as on opening; the ID numbers and phone may come back masked, as the case shows them."""

    worker = fields.Nested(AmendedWorker)
    household = fields.Nested(AmendedHousehold)
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    causes = BoundedList(fields.String(validate=validate.OneOf(CAUSES)), min_items=1, max_items=len(CAUSES))


class AmendmentRequest(Schema):
    changes = fields.Nested(Changes, required=True)
    reason = Text()


class MeasureRequest(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(MEASURE_KINDS))
    description = Text()
    planned_on = Day(required=True)
    due_on = Day(load_default=None, allow_none=True)


class CompletionRequest(Schema):
    done_on = Day(required=True)
    result = Text()


class DueQuery(Schema):
    federation = Code()
    as_of = Day()


class CaseQuery(Schema):
    federation = Code()
    state = fields.String(validate=validate.OneOf(STATES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    cause = fields.String(validate=validate.OneOf(CAUSES))
    q = Name(50, required=False, metadata={
        "description": "the worker's exact name, a masked ID number (6204**********0014) or its last four"})
    offset = StrictInteger(text=True, validate=validate.Range(min=0, max=10_000_000))
    limit = StrictInteger(text=True, validate=validate.Range(min=1, max=500), metadata={
        "description": "cases in the page (default: all that match)"})


class DisclosedWorker(Schema):
    name = fields.String(required=True)
    id_number = fields.String(required=True)
    phone = fields.String(required=True)


class DisclosedMember(Schema):
    name = fields.String(required=True)
    relation = fields.String(required=True)
    id_number = fields.String(allow_none=True)


class Disclosure(Schema):
    case_id = fields.String(required=True)
    worker = fields.Nested(DisclosedWorker, required=True)
    members = fields.List(fields.Nested(DisclosedMember), required=True)


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
    name_masked = fields.String(allow_none=True, metadata={"description": "the worker's name, masked (张*伟)"})
    id_number_masked = fields.String(allow_none=True)
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
    total = fields.Integer(required=True, metadata={"description": "cases that match, in all pages"})
    offset = fields.Integer(required=True)


class ObjectionCreated(Schema):
    objection_id = fields.String(required=True)
    case = fields.Nested(CaseView)


class MeasureCreated(Schema):
    measure_id = fields.String(required=True)
    case = fields.Nested(CaseView)


class StatsQuery(Schema):
    federation = Code()
    year = StrictInteger(text=True, validate=validate.Range(min=2000, max=2100))


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
