"""Run an import: validate every row, report duplicates, file the rows that pass in batches.

`ImportRunner` is the nameko dependency that runs imports in the background of the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import eventlet
from nameko.extensions import DependencyProvider

from services.contracts.federation import in_subtree
from services.intake.application import Cases, ImportedRow
from services.intake.import_rows import parse_row, read_rows
from services.intake.imports import ImportJob

log = logging.getLogger(__name__)
BATCH = 1000


@dataclass
class Progress:
    """How far a running import has got; read by GET /imports/{id} while it runs."""

    rows_total: int
    rows_done: int = 0
    filed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)


def run_import(
    cases: Cases,
    job: ImportJob,
    rows: Iterable[tuple[int, dict[str, str]]],
    progress: Progress,
    pause: Callable[[], None] = lambda: None,
) -> None:
    """Import every row, then record the outcome on the job; `pause` lets other work run between batches."""
    seen: dict[str, int] = {}  # digest of each person in the file -> the row it first appeared in
    batch: list[ImportedRow] = []

    def fail(row: int, column: str, reason: str) -> None:
        progress.failures.append({"row": row, "column": column, "reason": reason})

    def flush() -> None:
        refused = cases.file_imported(batch, job, job.by)
        for row, (column, reason) in sorted(refused.items()):
            fail(row, column, reason)
        progress.filed += len(batch) - len(refused)
        batch.clear()
        pause()

    for number, cells in rows:
        progress.rows_done += 1
        parsed = parse_row(cells)
        if isinstance(parsed, dict):
            for column, reason in sorted(parsed.items()):
                fail(number, column, reason)
            continue
        body, filed_on = parsed
        if not in_subtree(body["federation"], job.scope):
            fail(number, "federation", f"{body['federation']} is outside {job.scope}")
            continue
        people = [("id_number", body["worker"]["id_number"])]
        people += [("members", m["id_number"]) for m in body["household"]["members"] if m.get("id_number")]
        digests = [cases.digest(number_) for _, number_ in people]
        repeated = [(col, seen[d]) for (col, _), d in zip(people, digests, strict=True) if d in seen]
        if repeated:
            fail(number, repeated[0][0], f"duplicate of row {repeated[0][1]} in this file")
        else:
            seen.update({d: number for d in digests})
            batch.append(ImportedRow(number, body, filed_on, tuple(digests)))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    job.finish(progress.rows_done, progress.filed, progress.failures)
    cases.save_job(job)
    log.info("import %s: %d rows, %d filed, %d failures", job.id, progress.rows_done, progress.filed,
             len(progress.failures))


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
