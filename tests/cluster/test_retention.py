"""Old finished ``job_runs`` rows are deleted by the daily maintenance job; each job's latest slot
and every running row stay (the scheduler reads the latest slot to know what is due next)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app import scheduler
from earlywarn.app.cluster import repository
from earlywarn.app.cluster.models import JobRun, JobRunStatus
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.settings import Settings

FINISHED = (JobRunStatus.SUCCEEDED, JobRunStatus.FAILED, JobRunStatus.INTERRUPTED)


def _add(
    factory: sessionmaker[Session],
    job: str,
    slot: datetime,
    status: JobRunStatus,
) -> None:
    with session_scope(factory) as session:
        session.add(
            JobRun(
                job_name=job,
                scheduled_for=slot,
                status=status,
                node="n",
                attempts=1,
                started_at=slot,
                finished_at=None if status is JobRunStatus.RUNNING else slot,
            )
        )


def _left(factory: sessionmaker[Session]) -> set[tuple[str, int]]:
    """(job, age in whole days) of every row left, ages counted from ``now``."""
    with session_scope(factory) as session:
        rows = session.execute(select(JobRun.job_name, JobRun.scheduled_for)).all()
    now = utc_now()
    aware = [(job, slot if slot.tzinfo else slot.replace(tzinfo=UTC)) for job, slot in rows]
    return {(job, round((now - slot) / timedelta(days=1))) for job, slot in aware}


def _history(factory: sessionmaker[Session], now: datetime) -> None:
    days = timedelta(days=1)
    for age, status in ((200, FINISHED[0]), (150, FINISHED[1]), (120, FINISHED[2])):
        _add(factory, "pipeline", now - age * days, status)
    _add(factory, "pipeline", now - 100 * days, JobRunStatus.RUNNING)  # old, still running
    _add(factory, "pipeline", now - 10 * days, JobRunStatus.SUCCEEDED)  # within retention
    _add(factory, "pipeline", now - 1 * days, JobRunStatus.SUCCEEDED)
    _add(factory, "weekly", now - 300 * days, JobRunStatus.FAILED)  # its only run: the latest
    _add(factory, "monthly", now - 400 * days, JobRunStatus.SUCCEEDED)
    _add(factory, "monthly", now - 95 * days, JobRunStatus.INTERRUPTED)  # latest, though old


def test_old_finished_runs_go_but_latest_and_running_rows_stay(
    session_factory: sessionmaker[Session],
) -> None:
    now = utc_now()
    _history(session_factory, now)
    pruned = repository.prune_finished_runs(
        session_factory, finished_before=now - timedelta(days=90)
    )
    assert pruned == 4
    assert _left(session_factory) == {
        ("pipeline", 100),
        ("pipeline", 10),
        ("pipeline", 1),
        ("weekly", 300),
        ("monthly", 95),
    }
    # Nothing more to do: a second pass deletes nothing.
    cutoff = now - timedelta(days=90)
    assert repository.prune_finished_runs(session_factory, finished_before=cutoff) == 0


def test_the_daily_maintenance_job_prunes_with_the_configured_retention(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    _history(session_factory, utc_now())
    sources = configuration.sources.model_copy(update={"job_runs_retention_days": 5})
    config = dataclasses.replace(configuration, sources=sources)
    jobs = {
        job.name: job
        for job in scheduler.scheduled_jobs(session_factory, Settings(_env_file=None), config)
    }
    trigger = str(jobs[scheduler.MAINTENANCE_JOB_ID].trigger)
    assert "day='*', day_of_week='*', hour='3', minute='47'" in trigger
    jobs[scheduler.MAINTENANCE_JOB_ID].run()
    # With 5 days, the 10-day-old success goes too; the running and latest rows stay.
    assert _left(session_factory) == {
        ("pipeline", 100),
        ("pipeline", 1),
        ("weekly", 300),
        ("monthly", 95),
    }


def test_the_retention_is_validated_when_the_configuration_loads() -> None:
    assert SourcesConfig().job_runs_retention_days == 90
    for wrong in (0, -3, "a month"):
        with pytest.raises(ValidationError, match="job_runs_retention_days"):
            SourcesConfig.model_validate({"job_runs_retention_days": wrong})
