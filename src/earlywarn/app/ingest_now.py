"""The sources page's "Ingest now": the scheduler's own source job (``scheduler.run_source_job``),
started in the background of the process that was asked and recorded in ``job_runs`` under
``earlywarn-ingest-now-<source>`` (``cluster.on_demand``), so one run at a time cluster-wide."""

from __future__ import annotations

import functools

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository
from earlywarn.app.cluster.models import JobRunStatus
from earlywarn.app.cluster.on_demand import OnDemandRunner
from earlywarn.app.scheduler import SOURCE_JOB_PREFIX, run_source_job
from earlywarn.framework.config import Configuration
from earlywarn.ingest.selection import select_sources
from earlywarn.settings import Settings
from earlywarn.web.ingest_now import IngestRefusedError, OnDemandRun

JOB_PREFIX = "earlywarn-ingest-now-"
TRIGGER = "web"


class IngestNow:
    """Implements ``web.ingest_now.IngestStarter`` for ``app.state.ingest_now``."""

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, config: Configuration
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.config = config
        self.runner = OnDemandRunner(factory, tick_seconds=settings.scheduler_tick_seconds)

    def start(self, source_id: str) -> bool:
        self._check_runnable(source_id)
        scheduled = repository.latest_runs(self.factory, [SOURCE_JOB_PREFIX + source_id])
        if any(run.status is JobRunStatus.RUNNING for run in scheduled.values()):
            return False  # its own schedule is fetching it right now
        work = functools.partial(
            run_source_job, self.factory, self.settings, self.config, source_id, trigger=TRIGGER
        )
        return self.runner.start(JOB_PREFIX + source_id, work)

    def last_runs(self, source_ids: list[str]) -> dict[str, OnDemandRun]:
        rows = repository.latest_runs(self.factory, [JOB_PREFIX + s for s in source_ids])
        return {
            name.removeprefix(JOB_PREFIX): OnDemandRun(
                status=row.status.value,
                started_at=row.started_at,
                finished_at=row.finished_at,
                error=row.error,
            )
            for name, row in rows.items()
        }

    def close(self) -> None:
        self.runner.close()

    def _check_runnable(self, source_id: str) -> None:
        """The same rule as ``earlywarn ingest`` and the scheduler (``select_sources``), except
        that a disabled entry is refused: the page offers what the configuration runs."""
        entry = self.config.sources.scheduled_sources().get(source_id)
        if entry is None:
            raise IngestRefusedError(f"{source_id} is not in config/sources.yaml")
        if not entry.enabled:
            raise IngestRefusedError(f"{source_id} is disabled in config/sources.yaml")
        selected = select_sources(self.config.sources, self.settings, only=source_id)
        missing = selected.not_configured.get(source_id)
        if missing:
            raise IngestRefusedError(f"{source_id} is not configured: set {', '.join(missing)}")
        if source_id not in selected.source_ids:
            raise IngestRefusedError(f"{source_id} has nothing to load")
