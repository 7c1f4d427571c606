"""Routes of bulk import: upload a CSV or XLSX file, then follow its progress."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import eventlet
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from services.intake.api import READERS, STAFF, Routes, route
from services.intake.application import Cases
from services.intake.import_rows import ImportFileError, count_rows, read_rows
from services.intake.import_runner import Progress, run_import
from services.intake.imports import ImportJob, file_digest
from services.intake.schemas import ImportView
from services.web.auth import Principal
from services.web.errors import BadRequest, NotFound

IMPORT_VIEW = ImportView()


class ImportRunner(DependencyProvider):
    """Run imports in the background of the service and keep the progress of those running."""

    def setup(self) -> None:
        self.running: dict[UUID, Progress] = {}

    def get_dependency(self, worker_ctx: Any) -> ImportRunner:
        return self

    def launch(self, cases: Cases, job: ImportJob, data: bytes, content_type: str, rows_total: int) -> None:
        progress = self.running[job.id] = Progress(rows_total=rows_total)

        def work() -> None:
            try:
                run_import(cases, job, read_rows(data, content_type), progress, pause=lambda: eventlet.sleep(0))
            finally:
                self.running.pop(job.id, None)

        self.container.spawn_managed_thread(work)


class ImportRoutes(Routes):
    imports: ImportRunner

    @route("POST", "/imports", roles=STAFF, response=ImportView,
           summary="Import existing files (CSV UTF-8 with or without BOM, or XLSX); 202 with a job to follow")
    def start_import(self, request: Request, principal: Principal) -> tuple[int, Any]:
        data = request.get_data()
        content_type = request.headers.get("Content-Type", "")
        try:
            rows_total = count_rows(data, content_type)
        except ImportFileError as exc:
            raise BadRequest(str(exc), {"file": [str(exc)]}) from None
        digest = file_digest(data)
        job = self.cases.get_job(ImportJob.create_id(digest, principal.federation))
        if job is not None and (job.state == "done" or job.id in self.imports.running):
            return 200, self._view(job)  # the same file again: nothing is filed twice
        if job is None:
            job = ImportJob(digest, principal.federation, request.args.get("filename", "upload"), principal.user)
        else:
            job.restart(principal.user)
        self.cases.save_job(job)
        self.imports.launch(self.cases, job, data, content_type, rows_total)
        return 202, self._view(job)

    @route("GET", "/imports/<import_id>", roles=READERS, response=ImportView, summary="An import's progress")
    def get_import(self, request: Request, principal: Principal, import_id: str) -> tuple[int, Any]:
        try:
            job = self.cases.get_job(UUID(import_id))
        except ValueError:
            job = None
        if job is None or not principal.covers(job.scope):
            raise NotFound(f"no import {import_id}")
        return 200, self._view(job)

    def _view(self, job: ImportJob) -> dict[str, Any]:
        progress = self.imports.running.get(job.id)
        if progress is not None:
            rows_total, rows, filed = progress.rows_total, progress.rows_done, progress.filed
            failures, state = progress.failures, "running"
        elif job.outcome is not None:
            rows_total = rows = job.outcome["rows"]
            filed, failures, state = job.outcome["filed"], job.outcome["failures"], "done"
        else:
            rows_total, rows, filed, failures, state = None, 0, 0, [], "interrupted"
        return IMPORT_VIEW.dump({
            "import_id": str(job.id), "state": state, "filename": job.filename, "rows_total": rows_total,
            "rows_done": rows, "filed": filed, "failed_rows": len({f["row"] for f in failures}),
            "failures": list(failures),
        })
