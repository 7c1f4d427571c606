"""The intake HTTP service (nameko): the Cases application behind thin route mixins."""

from __future__ import annotations

from services.intake.api_filing import FilingRoutes
from services.intake.api_imports import ImportRoutes, ImportRunner
from services.intake.api_management import ManagementRoutes
from services.intake.api_reports import ReportRoutes
from services.intake.application import Cases
from services.intake.outbound import case_event
from services.runtime.store import EventStore
from services.runtime.waker import HubWaker
from services.web.operations import Operations


class IntakeService(FilingRoutes, ManagementRoutes, ReportRoutes, ImportRoutes, Operations):
    name = "intake"
    title = "Intake: identification, filing and dynamic management (精准识别、建档立卡、动态管理)"

    cases: Cases = EventStore(Cases, outbound=case_event, PERSON_KEY="PERSON_KEY")
    imports = ImportRunner()
    waker = HubWaker()
