"""The audit API's response schemas."""

from __future__ import annotations

from marshmallow import Schema, fields


class HistoryEntry(Schema):
    seq = fields.Integer(required=True)
    event_id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    service = fields.String(required=True)
    federation = fields.String(required=True)
    occurred_at = fields.String(required=True)
    recorded_at = fields.String(required=True)
    payload = fields.Dict(required=True)


class CaseHistoryView(Schema):
    case_id = fields.String(required=True)
    federation = fields.String(required=True)
    events = fields.List(fields.Nested(HistoryEntry), required=True)
