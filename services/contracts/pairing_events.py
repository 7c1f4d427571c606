"""The pairing service's integration events (version 1): who helps each household, and their visits.

Case events are keyed by case id. Roster events (units and cadres) are about no case: their envelope's
`case_id` holds the unit's or cadre's own id, so they are keyed (and ordered) per unit or cadre, and
audit keeps them as one history per unit or cadre (decisions.md, "Pairing"). A cadre's phone is never
in the clear: only its masked form leaves the service.
"""

from marshmallow import Schema, fields, validate

Text = fields.String(required=True)


class Rule(Schema):
    """Why this unit and why this cadre, as matching (or a coordinator) decided."""

    summary = fields.String(required=True)
    cause = fields.String()
    function = fields.String()
    unit_id = fields.String()
    cadre_federation = fields.String()
    distance = fields.Integer()
    load_before = fields.Integer()
    capacity = fields.Integer()
    trigger = fields.String()
    override = fields.Boolean()
    reason = fields.String()
    by = fields.String()


class PairingAssigned(Schema):
    unit_id = fields.UUID(required=True)
    cadre_id = fields.UUID(required=True)
    contact = Text
    rule = fields.Nested(Rule, required=True)
    assigned_on = fields.Date(required=True)
    by = Text


class PairingReassigned(Schema):
    from_cadre_id = fields.UUID(required=True, allow_none=True)
    to_cadre_id = fields.UUID(required=True)
    unit_id = fields.UUID(required=True)
    contact = Text
    rule = fields.Nested(Rule, required=True)
    reason = Text
    reassigned_on = fields.Date(required=True)
    by = Text


class PairingEnded(Schema):
    cadre_id = fields.UUID(required=True)  # the cadre whose pairing ended (who does the follow-up visits)
    reason = Text
    ended_on = fields.Date(required=True)


class CoverageGap(Schema):
    reason = Text
    since = fields.Date(required=True)
    from_cadre_id = fields.UUID(required=True, allow_none=True)


class VisitRecorded(Schema):
    """A visit record (跟踪问效登记表): what the visitor found and did; never a phone number."""

    visit_id = fields.UUID(required=True)
    visited_on = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["routine", "follow_up"]))
    findings = Text
    problems_solved = fields.String(required=True)
    measures = fields.String(required=True)
    next_steps = fields.String(required=True)
    visitor = Text
    cadre_id = fields.UUID(required=True)


class UnitRegistered(Schema):
    unit_id = fields.UUID(required=True)
    name = Text
    function = fields.String(required=True, validate=validate.OneOf(
        ["employment", "civil_affairs", "education", "housing", "health", "medical_insurance", "justice", "union"]))
    by = Text


class CadreRegistered(Schema):
    cadre_id = fields.UUID(required=True)
    name = Text
    unit_id = fields.UUID(required=True)
    rank = fields.String(required=True, validate=validate.OneOf(["leader", "staff"]))
    phone_masked = fields.String(required=True, validate=validate.Regexp(r"^\d{3}\*+\d{4}\Z"))
    user = Text
    by = Text


class CadreRetired(Schema):
    cadre_id = fields.UUID(required=True)
    retired_on = fields.Date(required=True)
    reason = Text
    by = Text


SCHEMAS: dict[str, type[Schema]] = {
    "PairingAssigned": PairingAssigned,
    "PairingReassigned": PairingReassigned,
    "PairingEnded": PairingEnded,
    "CoverageGap": CoverageGap,
    "VisitRecorded": VisitRecorded,
    "UnitRegistered": UnitRegistered,
    "CadreRegistered": CadreRegistered,
    "CadreRetired": CadreRetired,
}
