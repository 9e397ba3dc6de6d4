"""The scheduled jobs: the pipeline, each source with a schedule of its own, and (inside
``earlywarn serve``) delivery and escalation.

The pipeline and source jobs run under the clustered scheduler (``app.cluster.runner``): one
leader at a time on PostgreSQL, and each scheduled slot once cluster-wide, whether they run
inside ``serve`` or in ``earlywarn scheduler`` processes. Delivery is not slotted: any number of
workers may drain the outbox at once (rows are claimed), so ``serve`` polls it on an interval
and ``earlywarn worker`` runs it on its own.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository as cluster_repository
from earlywarn.app.cluster.runner import ClusterScheduler, JobObserver
from earlywarn.app.cluster.slots import ScheduledJob, cron_trigger, interval_trigger
from earlywarn.app.logs import QUIET_LOGGERS
from earlywarn.app.pipeline import run_pipeline
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.ingest.registry import CONNECTORS
from earlywarn.ingest.selection import select_sources
from earlywarn.observations.models import IngestRun
from earlywarn.settings import Settings

log = logging.getLogger(__name__)

JOB_ID = "earlywarn-pipeline"
SOURCE_JOB_PREFIX = "earlywarn-ingest-"
DELIVERY_JOB_ID = "earlywarn-delivery"
MAINTENANCE_JOB_ID = "earlywarn-maintenance"
# Daily, at a quiet minute away from the sources' default schedules.
MAINTENANCE_CRON = "47 3 * * *"


class JobFailedError(RuntimeError):
    """The job ran and failed; its slot is recorded as failed."""


def run_pipeline_job(
    factory: sessionmaker[Session], settings: Settings, config: Configuration
) -> None:
    """One scheduled pipeline run. Raises when it failed, so its slot records the failure
    (the failed score run is recorded in the database as well)."""
    result = run_pipeline(factory, settings, config, trigger="scheduler", skip_own_schedule=True)
    failed = [r for r in result.ingest_runs if r.status == "failed"]
    log.info(
        "scheduled run done: %d source(s) ingested, %d failed, score run %s",
        len(result.ingest_runs),
        len(failed),
        result.scoring.score_run_id if result.scoring else None,
    )


def run_source_job(
    factory: sessionmaker[Session],
    settings: Settings,
    config: Configuration,
    source_id: str,
    *,
    trigger: str = "scheduler",
) -> list[IngestRun]:
    """One source on its own schedule (or asked for now, ``trigger="web"``). Its run records
    success or failure; scoring waits for the pipeline's next run, so scores never mix half of
    a cycle's sources. Raises ``JobFailedError`` when a run failed; returns the runs."""
    if source_id in CONNECTORS:
        runs = [
            ingest_service.ingest_source(
                factory,
                settings,
                config,
                source_id,
                source_config=config.sources.api_sources().get(source_id),
                trigger=trigger,
            )
        ]
    else:
        runs = ingest_service.ingest_configured_sources(
            factory,
            settings,
            config,
            sources=config.sources,
            trigger=trigger,
            only=source_id,
            include_api=False,
        )
    for run in runs:
        log.info("%s ingest %s: run %s %s", trigger, source_id, run.id, run.status)
    failed = [run for run in runs if run.status == "failed"]
    if failed:
        raise JobFailedError(f"ingest of {source_id} failed: {failed[0].error}")
    return runs


def run_maintenance_job(factory: sessionmaker[Session], config: Configuration) -> None:
    """Delete the scheduler's old finished run records (``job_runs_retention_days``)."""
    retention = timedelta(days=config.sources.job_runs_retention_days)
    pruned = cluster_repository.prune_finished_runs(factory, finished_before=utc_now() - retention)
    log.info("maintenance: %d finished job run(s) older than %s deleted", pruned, retention)


def source_jobs(settings: Settings, sources: SourcesConfig) -> dict[str, str]:
    """Source id -> crontab for every enabled source with a schedule of its own (and, for API
    sources, its credentials set): one scheduler job each."""
    selected = select_sources(sources, settings, own_schedule=True)
    for source_id, missing in selected.not_configured.items():
        log.warning(
            "source %s not scheduled: not configured (set %s)", source_id, ", ".join(missing)
        )
    return selected.schedules


def scheduled_jobs(
    factory: sessionmaker[Session], settings: Settings, config: Configuration
) -> list[ScheduledJob]:
    """The slotted jobs: each source with a schedule of its own, the pipeline, maintenance."""
    jobs: list[ScheduledJob] = []
    for source_id, crontab in source_jobs(settings, config.sources).items():
        run = functools.partial(run_source_job, factory, settings, config, source_id)
        jobs.append(ScheduledJob(f"{SOURCE_JOB_PREFIX}{source_id}", cron_trigger(crontab), run))
        log.info("source %s scheduled: %s (UTC)", source_id, crontab)
    trigger = (
        interval_trigger(settings.schedule_interval_seconds)
        if settings.schedule_interval_seconds
        else cron_trigger(settings.schedule_cron)
    )
    jobs.append(ScheduledJob(JOB_ID, trigger, lambda: run_pipeline_job(factory, settings, config)))
    log.info("pipeline scheduled: %s (UTC)", trigger)
    maintenance = functools.partial(run_maintenance_job, factory, config)
    jobs.append(ScheduledJob(MAINTENANCE_JOB_ID, cron_trigger(MAINTENANCE_CRON), maintenance))
    return jobs


def cluster_scheduler(
    engine: Engine,
    factory: sessionmaker[Session],
    settings: Settings,
    config: Configuration,
    observer: JobObserver | None = None,
) -> ClusterScheduler:
    for name in QUIET_LOGGERS:  # an idle scheduler is quiet: no INFO per job run
        logging.getLogger(name).setLevel(logging.WARNING)
    return ClusterScheduler(
        engine,
        factory,
        scheduled_jobs(factory, settings, config),
        tick_seconds=settings.scheduler_tick_seconds,
        observer=observer,
    )


@dataclass
class EmbeddedScheduler:
    """What ``serve`` runs beside the API: the slotted jobs and the delivery poll."""

    cluster: ClusterScheduler
    delivery: BackgroundScheduler | None


def _deliver_job(app: Any) -> None:
    """Escalate what is due, then drain the outbox (see earlywarn.notify.delivery)."""
    from earlywarn.db import session_scope
    from earlywarn.notify.escalation import escalate_due

    try:
        with session_scope(app.state.session_factory) as session:
            escalate_due(session)
        stats = app.state.delivery_worker.drain()
    except Exception:
        log.exception("delivery pass failed")
        return
    if stats.claimed:
        log.info(
            "delivery: %d delivered, %d retrying, %d failed",
            stats.delivered,
            stats.retried,
            stats.failed,
        )


def _delivery_scheduler(app: Any) -> BackgroundScheduler:
    from earlywarn.notify.delivery import worker_from_settings

    policy = app.state.configuration.alerting.delivery
    app.state.delivery_worker = worker_from_settings(
        app.state.session_factory, app.state.settings, policy
    )
    delivery = BackgroundScheduler(timezone="UTC")
    delivery.add_job(
        _deliver_job,
        IntervalTrigger(seconds=policy.poll_interval_seconds),
        args=[app],
        id=DELIVERY_JOB_ID,
        max_instances=1,
        coalesce=True,
    )
    delivery.start()
    return delivery


def start(app: Any) -> EmbeddedScheduler:
    """Start the embedded scheduler of ``serve`` on ``app.state``."""
    factory: sessionmaker[Session] = app.state.session_factory
    engine = getattr(app.state, "engine", None) or factory.kw["bind"]
    cluster = cluster_scheduler(engine, factory, app.state.settings, app.state.configuration)
    cluster.start()
    delivery = _delivery_scheduler(app) if app.state.settings.delivery_enabled else None
    app.state.scheduler = EmbeddedScheduler(cluster, delivery)
    return app.state.scheduler  # type: ignore[no-any-return]


def stop(app: Any) -> None:
    running: EmbeddedScheduler | None = getattr(app.state, "scheduler", None)
    if running is not None:
        if running.delivery is not None and running.delivery.running:
            running.delivery.shutdown(wait=False)
        running.cluster.stop()
    worker = getattr(app.state, "delivery_worker", None)
    if worker is not None:
        worker.close()
