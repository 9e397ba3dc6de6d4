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

from earlywarn.pipeline import PipelineBusyError, run_pipeline

log = logging.getLogger(__name__)

JOB_ID = "earlywarn-pipeline"
DELIVERY_JOB_ID = "earlywarn-delivery"


def _run_job(app: FastAPI) -> None:
    try:
        result = run_pipeline(
            app.state.session_factory,
            app.state.settings,
            app.state.configuration,
            trigger="scheduler",
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


def _deliver_job(app: FastAPI) -> None:
    """Escalate what is due, then drain the outbox (see earlywarn.notify.delivery)."""
    from earlywarn.alerting.service import escalate_due
    from earlywarn.db import session_scope

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
    scheduler = BackgroundScheduler(timezone="UTC")
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
