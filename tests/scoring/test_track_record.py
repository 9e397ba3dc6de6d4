"""The composite's track record from stored yearly runs (issue 16, item 9), on SQLite and
PostgreSQL: AUC and recall computed by hand for four countries over two onset years."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from earlywarn.app.cli import app as cli_app
from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.forecasting.report import render_track_record
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorConfig, IndicatorsConfig
from earlywarn.framework.models import WeightSet
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring.service import run_scoring
from earlywarn.scoring.track_record import TrackRecordError, score_backtest
from earlywarn.settings import get_settings

RISK = {  # t.risk on [0, 10] -> composite risk / 10
    2000: {"KEN": 2, "NGA": 9, "FRA": 1, "DEU": 3},
    2001: {"KEN": 8, "NGA": 5, "FRA": 2, "DEU": 1},
    2002: {"KEN": 6, "NGA": 4, "FRA": 7, "DEU": 0},
}
ONSETS = {2002: "NGA", 2003: "KEN"}


@pytest.fixture
def config(configuration: Configuration) -> Configuration:
    indicator = IndicatorConfig.model_validate(
        {
            "id": "risk",
            "name": "risk",
            "risk_factor": 1,
            "variable": "t.risk",
            "source": "csv",
            "direction": "increases_risk",
            "normalisation": {"method": "bounds", "lower": 0, "upper": 10},
            "weight": 1.0,
            "max_age_days": 300,
        }
    )
    scoring = configuration.scoring.model_copy(update={"min_factors_with_data": 1})
    return dataclasses.replace(
        configuration, indicators=IndicatorsConfig(indicators=[indicator]), scoring=scoring
    )


def test_track_record_of_stored_yearly_runs(
    session_factory: sessionmaker[Session], config: Configuration, tmp_path: Path
) -> None:
    weight_set_id = prepare_database(session_factory, config)
    lines = ["iso3,variable,year,value"]
    lines += [f"{c},t.risk,{y},{v}" for y, row in RISK.items() for c, v in row.items()]
    lines += [
        f"{c},ewp.mk_onset,{y},{int(ONSETS.get(y) == c)}"
        for y in (2001, 2002, 2003)
        for c in ("KEN", "NGA", "FRA", "DEU")
    ]
    path = tmp_path / "values.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert ingest_service.import_file(session_factory, path, "csv").error is None

    with session_factory() as session, pytest.raises(TrackRecordError, match="score-history"):
        score_backtest(
            session, config, weight_set_id=weight_set_id, first_year=2002, last_year=2003
        )
    for year in RISK:
        with session_scope(session_factory) as session:
            run_scoring(
                session,
                config,
                session.get_one(WeightSet, weight_set_id),
                as_of=date(year, 12, 31),
            )
    with session_factory() as session:
        record = score_backtest(
            session, config, weight_set_id=weight_set_id, first_year=2002, last_year=2003
        )
    # Risk before each outcome: 2002 max(2001, 2000): KEN .8, NGA .9 (onset), FRA .2, DEU .3;
    # 2003 max(2002, 2001): KEN .8 (onset), NGA .5, FRA .7, DEU .1. Of the 12 onset/no-onset
    # pairs, the onsets rank higher in 11 and tie once (0.8 and 0.8): AUC 11.5 / 12.
    assert (record.country_years, record.onsets) == (8, 2)
    assert record.auc == pytest.approx(11.5 / 12)
    assert record.onsets_ranked == [
        {"iso3": "NGA", "year": 2002, "best_rank": 1},  # 2nd in 2001, 1st in 2000
        {"iso3": "KEN", "year": 2003, "best_rank": 1},  # 2nd in 2002, 1st in 2001
    ]
    assert record.recall == {10: 2, 20: 2, 30: 2}
    assert record.years_without_runs == []
    assert record.as_dict()["recall_at_30"] == [2, 2]
    # Country-years in order of year, then country: DEU, FRA, KEN, NGA.
    assert record.risk == pytest.approx([0.3, 0.2, 0.8, 0.9, 0.1, 0.7, 0.8, 0.5])
    assert record.outcome == [0, 0, 0, 1, 0, 0, 1, 0]

    page = render_track_record(record, {"NGA": "Nigeria", "KEN": "Kenya"})
    assert "AUC 0.9583" in page
    assert "2 of 2" in page
    assert "<td>Nigeria</td><td>2002</td><td>1</td>" in page
    assert "<td>Kenya</td><td>2003</td><td>1</td>" in page
    assert page.count("<svg") == 2
    assert "class=missed" not in page


def test_score_backtest_command_refuses_without_runs(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARLYWARN_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("EARLYWARN_CONFIG_DIR", str(Path(__file__).resolve().parents[2] / "config"))
    monkeypatch.setenv("EARLYWARN_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app, ["score-backtest", "--from-year", "2002"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "score-history --from-year 2000 --to-year 2022" in result.output
