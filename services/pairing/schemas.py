"""The pairing API's request and response schemas: every field checked at the boundary, as intake's are."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.intake.schemas import PHONE
from services.pairing.domain import FUNCTIONS, RANKS, VISIT_KINDS
from services.web.fields import Code, Day, Matching, Name, StrictInteger, Text, uuid_field

STATUSES = ("unpaired", "active", "uncovered", "ended")


# Requests.


class UnitRequest(Schema):
    name = Name(100)
    function = fields.String(required=True, validate=validate.OneOf(FUNCTIONS))
    federation = Code(required=True)


class CadreRequest(Schema):
    name = Name()
    unit_id = uuid_field(required=True)
    rank = fields.String(required=True, validate=validate.OneOf(RANKS))
    federation = Code(required=True)
    phone = Matching(PHONE, "not a mobile or landline number", required=True)
    user = Name(100)


class RetirementRequest(Schema):
    retired_on = Day(required=True)
    reason = Text(500)


class CapacityRequest(Schema):
    leader = StrictInteger(required=True, validate=validate.Range(min=0, max=50))
    staff = StrictInteger(required=True, validate=validate.Range(min=0, max=50))


class OverrideRequest(Schema):
    cadre_id = uuid_field(required=True)
    contact = Name(100, required=False, load_default=None)
    reason = Text(500)


class VisitRequest(Schema):
    visited_on = Day(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(VISIT_KINDS))
    findings = Text(4000)
    problems_solved = Text(4000, required=False)
    measures = Text(4000, required=False)
    next_steps = Text(4000, required=False)


class FederationQuery(Schema):
    federation = Code()


class CadreQuery(Schema):
    federation = Code()
    unit_id = uuid_field()


class AsOfQuery(Schema):
    federation = Code()
    as_of = Day()


class CoverageQuery(Schema):
    federation = Code()
    as_of = Day()
    within_days = StrictInteger(text=True, validate=validate.Range(min=0, max=366),
                                metadata={"description": "paired within this many days of filing (default 15)"})
    uncovered_limit = StrictInteger(text=True, validate=validate.Range(min=0, max=100_000), metadata={
        "description": "list at most this many uncovered households, longest waiting first (default: all); "
                       "`uncovered` still counts them all, so 0 asks for the figures alone"})


class HouseholdQuery(Schema):
    as_of = Day()


# Responses.


class UnitView(Schema):
    unit_id = fields.String(required=True)
    name = fields.String(required=True)
    function = fields.String(required=True, validate=validate.OneOf(FUNCTIONS))
    federation = fields.String(required=True)


class UnitList(Schema):
    units = fields.List(fields.Nested(UnitView), required=True)


class Retirement(Schema):
    retired_on = fields.String(required=True)
    reason = fields.String(required=True)
    by = fields.String(required=True)


class CadreView(Schema):
    cadre_id = fields.String(required=True)
    name = fields.String(required=True)
    unit_id = fields.String(required=True)
    function = fields.String(required=True)
    rank = fields.String(required=True, validate=validate.OneOf(RANKS))
    federation = fields.String(required=True)
    phone = fields.String(required=True, metadata={"description": "masked (138****5678) except for admin"})
    user = fields.String(required=True)
    active = fields.Boolean(required=True)
    load_ = fields.Integer(required=True, data_key="load", attribute="load")  # `load` is Schema's method
    capacity = fields.Integer(required=True)
    retirement = fields.Nested(Retirement, allow_none=True)


class CadreList(Schema):
    cadres = fields.List(fields.Nested(CadreView), required=True)


class CapacityView(Schema):
    federation = fields.String(required=True)
    leader = fields.Integer(required=True)
    staff = fields.Integer(required=True)


class PairingView(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    unit_id = fields.String(allow_none=True, required=True)
    cadre_id = fields.String(allow_none=True, required=True)
    contact = fields.String(allow_none=True, required=True)
    assigned_on = fields.String(allow_none=True, required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATUSES))
    case_state = fields.String(required=True)
    reason = fields.String(allow_none=True, required=True)
    history = fields.List(fields.Dict(), required=True)


class VisitView(Schema):
    visit_id = fields.String(required=True)
    visited_on = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(VISIT_KINDS))
    findings = fields.String(required=True)
    problems_solved = fields.String(required=True)
    measures = fields.String(required=True)
    next_steps = fields.String(required=True)
    visitor = fields.String(required=True)
    cadre_id = fields.String(required=True)


class VisitList(Schema):
    case_id = fields.String(required=True)
    visits = fields.List(fields.Nested(VisitView), required=True)


class Overdue(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    state = fields.String(required=True)
    cadre_id = fields.String(allow_none=True, required=True)
    due = fields.String(required=True, metadata={"enum": ["quarter", "follow_up"]})
    due_from = fields.String(required=True)
    due_by = fields.String(required=True)
    days_overdue = fields.Integer(required=True)
    missed = fields.Integer(required=True)
    last_visit_on = fields.String(allow_none=True, required=True)


class OverdueList(Schema):
    federation = fields.String(required=True)
    as_of = fields.String(required=True)
    households = fields.List(fields.Nested(Overdue), required=True)


class NextDue(Schema):
    kind = fields.String(required=True)
    from_ = fields.String(required=True, data_key="from", attribute="from")
    by = fields.String(required=True)


class Household(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    state = fields.String(required=True)
    status = fields.String(required=True)
    contact = fields.String(allow_none=True, required=True)
    cadre_id = fields.String(required=True)
    last_visit_on = fields.String(allow_none=True, required=True)
    next_due = fields.Nested(NextDue, allow_none=True, required=True)


class HouseholdList(Schema):
    as_of = fields.String(required=True)
    households = fields.List(fields.Nested(Household), required=True)


class PairedWithin(Schema):
    days = fields.Integer(required=True)
    households = fields.Integer(required=True)


class Uncovered(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    reason = fields.String(required=True)
    since = fields.String(required=True)
    days = fields.Integer(required=True)


class QuarterVisits(Schema):
    quarter = fields.String(required=True, metadata={"example": "2026Q3"})
    due = fields.Integer(required=True)
    visited = fields.Integer(required=True)


class Coverage(Schema):
    federation = fields.String(required=True)
    as_of = fields.String(required=True)
    filed = fields.Integer(required=True)
    paired = fields.Integer(required=True)
    paired_within = fields.Nested(PairedWithin, required=True)
    uncovered = fields.Integer(required=True)
    uncovered_households = fields.List(fields.Nested(Uncovered), required=True)
    cadre_loads = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                              metadata={"description": "how many cadres on the roster carry 0, 1, 2… households"})
    visits = fields.List(fields.Nested(QuarterVisits), required=True,
                         metadata={"description": "the last four quarters ended: households due a visit, visited"})
