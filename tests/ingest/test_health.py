"""source_health: each state, its reason, and the precedence between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import session_scope
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest.health import HealthState, source_health
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import IngestRun
from earlywarn.settings import Settings

CONFIG = SourcesConfig.model_validate(
    {
        "files": {"a": {"path": "a.csv", "format": "csv", "max_age_days": 10}},
        "ucdp": {"years_back": 2},
        "acled": {"years_back": 2, "enabled": False},
        "worldbank": {"years_back": 2, "schedule": "0 4 * * 1"},
    }
)


def states(
    session_factory: sessionmaker[Session], now: datetime, settings: Settings | None = None
) -> dict[str, tuple[HealthState, str]]:
    with session_factory() as session:
        return {
            h.source_id: (h.state, h.reason)
            for h in source_health(session, CONFIG, now, settings=settings)
        }


def age_runs(session_factory: sessionmaker[Session], days: float) -> None:
    """Move every run ``days`` into the past."""
    with session_scope(session_factory) as session:
        for run in session.query(IngestRun):
            run.started_at -= timedelta(days=days)
            if run.finished_at is not None:
                run.finished_at -= timedelta(days=days)


def test_states_follow_runs_age_and_settings(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    now = datetime.now(UTC)
    before = states(session_factory, now, Settings(ucdp_token=None))
    assert before["csv"][0] == HealthState.NEVER_RUN
    assert before["worldbank"][0] == HealthState.NEVER_RUN
    assert before["ucdp"] == (HealthState.NOT_CONFIGURED, "set EARLYWARN_UCDP_TOKEN")
    assert before["acled"][0] == HealthState.DISABLED
    # Without settings, credentials are not judged.
    assert states(session_factory, now)["ucdp"][0] == HealthState.NEVER_RUN
    configured = Settings(ucdp_token=SecretStr("t"))
    assert states(session_factory, now, configured)["ucdp"][0] == HealthState.NEVER_RUN

    good = import_file(session_factory, data_dir / "good.csv", "csv")
    assert states(session_factory, now)["csv"][0] == HealthState.HEALTHY

    age_runs(session_factory, 11)
    state, reason = states(session_factory, datetime.now(UTC))["csv"]
    assert state == HealthState.STALE
    assert "more than max_age_days 10" in reason

    import_file(session_factory, data_dir / "non_numeric.csv", "csv")
    state, reason = states(session_factory, datetime.now(UTC))["csv"]
    assert state == HealthState.FAILING  # failing wins over stale: it is the cause
    assert "'about 15' is not a number" in reason

    import_file(session_factory, data_dir / "good.csv", "csv")  # unchanged: a success
    with session_factory() as session:
        [csv] = [
            h for h in source_health(session, CONFIG, datetime.now(UTC)) if h.source_id == "csv"
        ]
    assert csv.state == HealthState.HEALTHY
    assert csv.vintage_run_id == good.id  # the unchanged run loaded nothing new
    assert csv.rows == 5
    assert csv.observations == 5
    assert csv.last_error is not None
    assert csv.max_age_days == 10
    with session_factory() as session:
        [wb] = [h for h in source_health(session, CONFIG, now) if h.source_id == "worldbank"]
    assert wb.schedule == "0 4 * * 1"
