"""Routes of reports: the yearly figures of a federation's subtree."""

from __future__ import annotations

from datetime import date
from typing import Any

from werkzeug.wrappers import Request

from services.intake.api import READERS, Routes, route
from services.intake.reports import yearly_stats
from services.intake.schemas import Stats, StatsQuery
from services.web.auth import Principal

STATS = Stats()


class ReportRoutes(Routes):
    @route("GET", "/stats", roles=READERS, query=StatsQuery, response=Stats,
           summary="Counts by state, category and cause; filings, exits, exit and return rates of a year")
    def stats(self, request: Request, principal: Principal, query: dict[str, Any]) -> tuple[int, Any]:
        root = query.get("federation") or principal.federation
        principal.require_covers(root)
        year = query.get("year") or date.today().year
        return 200, STATS.dump({"federation": root, **yearly_stats(self.cases.case_rows(root), year)})
