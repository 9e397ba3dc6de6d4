"""Source health from the ingest tables, for the operational source_health rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from earlywarn.alerting.sources import source_health
from earlywarn.ingest.models import IngestRun, RunStatus, Source

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _run(session: Session, source: str, status: RunStatus, days_ago: int, error: str = "") -> None:
    at = NOW - timedelta(days=days_ago)
    session.add(
        IngestRun(
            source_id=source,
            status=status,
            started_at=at,
            finished_at=at,
            error=error or None,
            details={},
        )
    )
    session.flush()


def test_states_from_ingest_runs(session: Session) -> None:
    for source in ("fresh", "old", "broken", "unused", "recovered"):
        session.add(Source(id=source, name=source, kind="api"))
    session.flush()
    _run(session, "fresh", RunStatus.SUCCEEDED, 3)
    _run(session, "fresh", RunStatus.UNCHANGED, 1)
    _run(session, "old", RunStatus.SUCCEEDED, 90)
    _run(session, "broken", RunStatus.SUCCEEDED, 2)
    _run(session, "broken", RunStatus.FAILED, 1, "HTTP 503 from api.example.org")
    _run(session, "recovered", RunStatus.FAILED, 2, "timeout")
    _run(session, "recovered", RunStatus.SUCCEEDED, 1)
    _run(session, "broken", RunStatus.RUNNING, 0)  # an unfinished run says nothing yet

    health = {h.source_id: h for h in source_health(session, NOW, stale_after_days=45)}

    assert {k: h.state for k, h in health.items()} == {
        "fresh": "healthy",
        "old": "stale",
        "broken": "failing",
        "unused": "never_run",
        "recovered": "healthy",
    }
    assert "HTTP 503" in health["broken"].reason
    assert "older than 45 days" in health["old"].reason
