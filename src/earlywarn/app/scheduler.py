"""The scheduled pipeline run inside ``earlywarn serve``.

One process runs the scheduler (``serve`` starts a single uvicorn worker); the PostgreSQL
advisory lock in ``pipeline.score_and_alert`` keeps a second replica from scoring at the same
time if one is ever started by mistake.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from fastapi import FastAPI

from earlywarn.app.logs import QUIET_LOGGERS
from earlywarn.app.pipeline import PipelineBusyError, run_pipeline
from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.ingest.registry import CONNECTORS
from earlywarn.ingest.selection import select_sources
from earlywarn.settings import Settings

log = logging.getLogger(__name__)

JOB_ID = "earlywarn-pipeline"
SOURCE_JOB_PREFIX = "earlywarn-ingest-"
DELIVERY_JOB_ID = "earlywarn-delivery"


def _run_job(app: FastAPI) -> None:
    try:
        result = run_pipeline(
            app.state.session_factory,
            app.state.settings,
            app.state.configuration,
            trigger="scheduler",
            skip_own_schedule=True,
        )
    except PipelineBusyError as exc:
        log.warning("scheduled run skipped: %s", exc)
        return
    except Exception:
        # The failed score run is recorded in the database; the scheduler must keep going.
        log.exception("scheduled pipeline run failed")
        return
    failed = [r for r in result.ingest_runs if r.status == "failed"]
    log.info(
        "scheduled run done: %d source(s) ingested, %d failed, score run %s",
        len(result.ingest_runs),
        len(failed),
        result.scoring.score_run_id if result.scoring else None,
    )


def _run_source(app: FastAPI, source_id: str) -> None:
    """One source on its own schedule. Its run records success or failure; scoring waits for
    the pipeline's next run, so scores never mix half of a cycle's sources."""
    settings = app.state.settings
    config: Configuration = app.state.configuration
    try:
        if source_id in CONNECTORS:
            runs = [
                ingest_service.ingest_source(
                    app.state.session_factory,
                    settings,
                    config,
                    source_id,
                    source_config=config.sources.api_sources().get(source_id),
                    trigger="scheduler",
                )
            ]
        else:
            runs = ingest_service.ingest_configured_sources(
                app.state.session_factory,
                settings,
                config,
                sources=config.sources,
                trigger="scheduler",
                only=source_id,
                include_api=False,
            )
    except Exception:
        # A failure outside the run records (the database, a programming error): logged, and
        # the scheduler goes on.
        log.exception("scheduled ingest of %s failed", source_id)
        return
    for run in runs:
        log.info("scheduled ingest %s: run %s %s", source_id, run.id, run.status)


def source_jobs(settings: Settings, sources: SourcesConfig) -> dict[str, str]:
    """Source id -> crontab for every enabled source with a schedule of its own (and, for API
    sources, its credentials set): one scheduler job each."""
    selected = select_sources(sources, settings, own_schedule=True)
    for source_id, missing in selected.not_configured.items():
        log.warning(
            "source %s not scheduled: not configured (set %s)", source_id, ", ".join(missing)
        )
    return selected.schedules


def _deliver_job(app: FastAPI) -> None:
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


def start(app: FastAPI) -> BackgroundScheduler:
    for name in QUIET_LOGGERS:  # an idle scheduler is quiet: no INFO per job run
        logging.getLogger(name).setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(timezone="UTC")
    for source_id, crontab in source_jobs(
        app.state.settings, app.state.configuration.sources
    ).items():
        scheduler.add_job(
            _run_source,
            CronTrigger.from_crontab(crontab, timezone="UTC"),
            args=[app, source_id],
            id=f"{SOURCE_JOB_PREFIX}{source_id}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        log.info("source %s scheduled: %s (UTC)", source_id, crontab)
    scheduler.add_job(
        _run_job,
        CronTrigger.from_crontab(app.state.settings.schedule_cron, timezone="UTC"),
        args=[app],
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    if app.state.settings.delivery_enabled:
        from earlywarn.notify.delivery import worker_from_settings

        policy = app.state.configuration.alerting.delivery
        app.state.delivery_worker = worker_from_settings(
            app.state.session_factory, app.state.settings, policy
        )
        scheduler.add_job(
            _deliver_job,
            IntervalTrigger(seconds=policy.poll_interval_seconds),
            args=[app],
            id=DELIVERY_JOB_ID,
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    app.state.scheduler = scheduler
    log.info("pipeline scheduled: %s (UTC)", app.state.settings.schedule_cron)
    return scheduler


def stop(app: FastAPI) -> None:
    scheduler: BackgroundScheduler | None = getattr(app.state, "scheduler", None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
    worker = getattr(app.state, "delivery_worker", None)
    if worker is not None:
        worker.close()
