"""The pairing service's integration events (version 1): who helps each household, and their visits.

Case events are keyed by case id. Roster events (units and cadres) are about no case: their envelope's
`case_id` holds the unit's or cadre's own id, so they are keyed (and ordered) per unit or cadre, and
audit keeps them as one history per unit or cadre (decisions.md, "Pairing"). A cadre's phone is never
in the clear: only its masked form leaves the service. Every field is bounded as pairing's requests bound
it, or as long as what pairing writes itself may be (bounds.py: every event must fit one trail entry).
"""

from marshmallow import Schema, fields, validate

from services.contracts.bounds import (
    CODE,
    FINDINGS,
    LOGIN,
    NAME,
    REASON,
    TITLE,
    count,
    federation,
    masked_phone,
    text,
    uuid,
)

# Reasons pairing writes itself: a trigger names what changed ("cadre … retired: " and a retirement's
# reason, or a federation's new capacity), a coverage gap adds the functions wanted and every federation
# above the case (8 codes of at most 199 characters), a summary names the cause, the cadre's federation,
# or the coordinator and their reason.
WRITTEN = 1000
GAP = 4000
By = text(LOGIN)


class Rule(Schema):
    """Why this unit and why this cadre, as matching (or a coordinator) decided."""

    summary = text(WRITTEN)
    cause = text(CODE, required=False)
    function = text(CODE, required=False)
    unit_id = uuid(required=False)
    cadre_federation = federation(required=False)
    distance = count(required=False)
    load_before = count(required=False)
    capacity = count(required=False)
    trigger = text(WRITTEN, required=False)
    override = fields.Boolean()
    reason = text(REASON, required=False)
    by = text(LOGIN, required=False)


class PairingAssigned(Schema):
    unit_id = uuid()
    cadre_id = uuid()
    contact = text(LOGIN)  # a login name, or a name a coordinator gave
    rule = fields.Nested(Rule, required=True)
    assigned_on = fields.Date(required=True)
    by = By


class PairingReassigned(Schema):
    from_cadre_id = uuid(allow_none=True)
    to_cadre_id = uuid()
    unit_id = uuid()
    contact = text(LOGIN)  # a login name, or a name a coordinator gave
    rule = fields.Nested(Rule, required=True)
    reason = text(WRITTEN)
    reassigned_on = fields.Date(required=True)
    by = By


class PairingEnded(Schema):
    cadre_id = uuid()  # the cadre whose pairing ended (who does the follow-up visits)
    reason = text(WRITTEN)
    ended_on = fields.Date(required=True)


class CoverageGap(Schema):
    reason = text(GAP)
    since = fields.Date(required=True)
    from_cadre_id = uuid(allow_none=True)


class VisitRecorded(Schema):
    """A visit record (跟踪问效登记表): what the visitor found and did; never a phone number."""

    visit_id = uuid()
    visited_on = fields.Date(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["routine", "follow_up"]))
    findings = text(FINDINGS)
    problems_solved = text(FINDINGS)
    measures = text(FINDINGS)
    next_steps = text(FINDINGS)
    visitor = By
    cadre_id = uuid()


class UnitRegistered(Schema):
    unit_id = uuid()
    name = text(TITLE)
    function = fields.String(required=True, validate=validate.OneOf(
        ["employment", "civil_affairs", "education", "housing", "health", "medical_insurance", "justice", "union"]))
    by = By


class CadreRegistered(Schema):
    cadre_id = uuid()
    name = text(NAME)
    unit_id = uuid()
    rank = fields.String(required=True, validate=validate.OneOf(["leader", "staff"]))
    phone_masked = masked_phone()
    user = text(LOGIN)
    by = By


class CadreRetired(Schema):
    cadre_id = uuid()
    retired_on = fields.Date(required=True)
    reason = text(REASON)
    by = By


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
