"""The operational source_health rule reads the same source health as ``/sources``."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertState
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.observations.models import IngestRun, RunStatus, Source
from earlywarn.settings import Settings

from ..conftest import CONFIG_DIR

AS_OF = date(2026, 11, 29)


def _run(factory: sessionmaker[Session], status: RunStatus, error: str | None = None) -> None:
    with session_scope(factory) as session:
        if session.get(Source, "worldbank") is None:
            session.add(Source(id="worldbank", name="World Bank", kind="api"))
            session.flush()
        at = utc_now() - timedelta(minutes=1)
        session.add(
            IngestRun(
                source_id="worldbank",
                status=status,
                started_at=at,
                finished_at=at,
                error=error,
                details={},
            )
        )


def _operational(factory: sessionmaker[Session]) -> list[tuple[str, AlertState, str]]:
    with factory() as session:
        alerts = session.scalars(select(Alert).where(Alert.operational.is_(True))).all()
        return [(a.subject, a.state, a.summary) for a in alerts]


def test_a_failing_source_opens_an_operational_alert_and_recovery_resolves_it(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    settings = Settings(config_dir=CONFIG_DIR)  # the shipped sources.yaml enables worldbank
    prepare_database(session_factory, configuration)
    _run(session_factory, RunStatus.FAILED, "HTTP 503 from the World Bank API")

    score_and_alert(session_factory, configuration, as_of=AS_OF, settings=settings)
    [(subject, state, summary)] = _operational(session_factory)
    assert (subject, state) == ("worldbank", AlertState.FIRING)
    assert "HTTP 503" in summary

    _run(session_factory, RunStatus.SUCCEEDED)
    score_and_alert(session_factory, configuration, as_of=AS_OF, settings=settings)
    [(subject, state, _)] = _operational(session_factory)
    assert (subject, state) == ("worldbank", AlertState.RESOLVED)
