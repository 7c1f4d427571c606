"""Routes of reports: the yearly figures of a federation's subtree."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Request

from services.contracts.envelope import FEDERATION_CODE
from services.intake.api import READERS, Routes, route
from services.intake.reports import yearly_stats
from services.web.auth import Principal


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


STATS = Stats()


class ReportRoutes(Routes):
    @route("GET", "/stats", roles=READERS, query=StatsQuery, response=Stats,
           summary="Counts by state, category and cause; filings, exits, exit and return rates of a year")
    def stats(self, request: Request, principal: Principal, query: dict[str, Any]) -> tuple[int, Any]:
        root = query.get("federation") or principal.federation
        principal.require_covers(root)
        year = query.get("year") or date.today().year
        return 200, STATS.dump({"federation": root, **yearly_stats(self.cases.case_rows(root), year)})
