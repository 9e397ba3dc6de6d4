"""Factor summaries are stored as arrays with the names once per run, read back through one
accessor in exactly the full form, and migration 0010 converts stored rows both ways."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.migrations import alembic_config, upgrade_to_head
from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring import history_run
from earlywarn.scoring import service as scoring_service
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.scoring.summary import SUMMARY_FORMAT, factor_summary, from_full, to_full

VARIABLES = ["ewp.battledeaths.log2", "ewp.pol_killing_approved", "ewp.discrimpop"]


def _scored(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> list[int]:
    """Two runs: a normal one and a history one; their ids."""
    prepare_database(session_factory, configuration)
    path = tmp_path / "obs.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for n, iso3 in enumerate(("KEN", "FRA", "NGA")):
            writer.writerows([(iso3, v, 2024, 0.1 + 0.2 * n) for v in VARIABLES])
    assert ingest_service.import_file(session_factory, path, "csv").error is None
    with session_scope(session_factory) as session:
        weight_set = session.scalars(select(WeightSet)).first()
        assert weight_set is not None
        normal = scoring_service.run_scoring(
            session, configuration, weight_set, as_of=date(2025, 6, 30)
        ).run.id
        history = history_run.score_history(
            session, configuration, weight_set, dates=[date(2024, 12, 31)]
        )[0].id
    return [normal, history]


def _full_summaries(session: Session, run_ids: list[int]) -> dict[tuple[int, str], Any]:
    return {
        (s.score_run_id, s.country_iso3): factor_summary(
            s, session.get_one(ScoreRun, s.score_run_id)
        )
        for s in session.scalars(select(CountryScore).where(CountryScore.score_run_id.in_(run_ids)))
    }


def _migrate(engine: Engine, revision: str, downgrade: bool) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(cfg, revision)


def test_stored_compactly_read_in_full(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    run_ids = _scored(session_factory, configuration, tmp_path)
    names = [f.name for f in sorted(configuration.framework.risk_factors, key=lambda f: f.number)]
    with session_factory() as session:
        for run_id in run_ids:
            assert session.get_one(ScoreRun, run_id).factor_names == names
        full = _full_summaries(session, run_ids)
        for score in session.scalars(select(CountryScore)):
            stored = score.factor_summary
            assert stored["format"] == SUMMARY_FORMAT
            assert "factors" not in stored
            out = full[(score.score_run_id, score.country_iso3)]
            assert [f["name"] for f in out["factors"]] == names
            assert [f["number"] for f in out["factors"]] == stored["numbers"]
            assert [f["score"] for f in out["factors"]] == stored["scores"]
            assert set(out) == {"factors_with_data", "armed_conflict", "points_to", "factors"}
    assert len(full) == 6


def test_round_trip_and_earlier_forms() -> None:
    full = {
        "factors_with_data": 2,
        "armed_conflict": None,
        "points_to": ["genocide"],
        "factors": [
            {"number": 1, "name": "one", "score": 0.25, "coverage": 1.0},
            {"number": 2, "name": "two", "score": None, "coverage": 0.0},
        ],
    }
    stored, names = from_full(full)
    assert names == ["one", "two"]
    assert to_full(stored, names) == full
    # Rows in the earlier full form, or empty, are read as stored.
    assert to_full(full, None) == full
    assert to_full({}, None) == {}


def test_migration_0010_converts_stored_summaries_both_ways(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    run_ids = _scored(session_factory, configuration, tmp_path)
    with session_factory() as session:
        before = _full_summaries(session, run_ids)
        compact_before = {
            (s.score_run_id, s.country_iso3): s.factor_summary
            for s in session.scalars(select(CountryScore))
        }
    try:
        _migrate(engine, "0009", downgrade=True)
        with engine.connect() as connection:
            table = CountryScore.__table__
            rows = connection.execute(
                select(table.c.score_run_id, table.c.country_iso3, table.c.factor_summary)
            ).all()
        # Downgraded: the full form, names in every row, exactly what the accessor gave.
        assert {(r[0], r[1]): r[2] for r in rows} == before
    finally:
        upgrade_to_head(engine)
    with session_factory() as session:
        assert _full_summaries(session, run_ids) == before
        after = {
            (s.score_run_id, s.country_iso3): s.factor_summary
            for s in session.scalars(select(CountryScore))
        }
    assert after == compact_before
