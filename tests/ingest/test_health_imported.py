"""A source with data from ``earlywarn import`` but no entry in sources.yaml is shown as
``imported`` (issue 16: the EWP data in use showed as "disabled - not in sources.yaml"), stale
once its import is older than a file entry's default maximum age; a source without data stays
``disabled``. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import session_scope
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest.health import HealthState, source_health
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import IngestRun


def age_runs(factory: sessionmaker[Session], days: float) -> None:
    with session_scope(factory) as session:
        for run in session.query(IngestRun):
            run.started_at -= timedelta(days=days)
            if run.finished_at is not None:
                run.finished_at -= timedelta(days=days)


CONFIG = SourcesConfig.model_validate({"acled": {"years_back": 2, "enabled": False}})


def states(factory: sessionmaker[Session]) -> dict[str, tuple[HealthState, str]]:
    with factory() as session:
        return {
            h.source_id: (h.state, h.reason)
            for h in source_health(session, CONFIG, datetime.now(UTC))
        }


def test_imported_data_is_in_use_not_disabled(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> None:
    assert "csv" not in states(session_factory)
    assert import_file(session_factory, data_dir / "good.csv", "csv").error is None
    state, reason = states(session_factory)["csv"]
    assert state is HealthState.IMPORTED
    assert reason.startswith("loaded by earlywarn import 0.0 days ago; not in sources.yaml")
    assert states(session_factory)["acled"][0] is HealthState.DISABLED  # no data: unchanged

    # A failed import later keeps the earlier data in use, and says so.
    assert import_file(session_factory, data_dir / "non_numeric.csv", "csv").error is not None
    state, reason = states(session_factory)["csv"]
    assert state is HealthState.IMPORTED
    assert reason.endswith("the last import failed, the earlier data is in use")

    age_runs(session_factory, 401)
    state, reason = states(session_factory)["csv"]
    assert state is HealthState.STALE
    assert reason.endswith("older than 400 days")
