"""Source health for the operational ``source_health`` rule.

``source_health`` is the one function the pipeline calls; it derives each source's state from
the ``sources`` and ``ingest_runs`` tables. When ``earlywarn.ingest.service.source_health``
(which also knows each source's configured schedule) lands, re-point the pipeline at it: it
returns the same ``(source_id, state, reason)`` records.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.rules import SourceHealth
from earlywarn.ingest.models import IngestRun, RunStatus, Source


def source_health(session: Session, now: datetime, *, stale_after_days: int) -> list[SourceHealth]:
    """healthy, stale (no successful load within ``stale_after_days``), failing (the latest
    finished run failed) or never_run, for every registered source."""
    records: list[SourceHealth] = []
    for source in session.scalars(select(Source).order_by(Source.id)):
        runs = list(
            session.scalars(
                select(IngestRun)
                .where(IngestRun.source_id == source.id, IngestRun.status != RunStatus.RUNNING)
                .order_by(IngestRun.id.desc())
                .limit(50)
            )
        )
        if not runs:
            records.append(SourceHealth(source.id, "never_run", "no finished ingest run"))
            continue
        latest = runs[0]
        if latest.status is RunStatus.FAILED:
            records.append(
                SourceHealth(source.id, "failing", f"run {latest.id} failed: {latest.error}")
            )
            continue
        good = next(
            (r for r in runs if r.status in (RunStatus.SUCCEEDED, RunStatus.UNCHANGED)), None
        )
        loaded_at = (good.finished_at or good.started_at) if good is not None else None
        if loaded_at is None or now - loaded_at > timedelta(days=stale_after_days):
            when = loaded_at.date().isoformat() if loaded_at else "never"
            records.append(
                SourceHealth(
                    source.id,
                    "stale",
                    f"last successful load {when}, older than {stale_after_days} days",
                )
            )
            continue
        records.append(SourceHealth(source.id, "healthy", f"loaded by run {latest.id}"))
    return records
