"""The coverage report (issue 16, item 8): per factor, countries with fresh evidence in the
latest score run and by source, and which sources to enable to raise it. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.sources_schemas import SourcesConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring.coverage import NoScoreRunError, as_dict, coverage_report
from earlywarn.scoring.service import run_scoring
from earlywarn.settings import Settings

AS_OF = date(2025, 6, 30)
SOURCES = SourcesConfig.model_validate(
    {
        "worldbank": {"years_back": 2},
        "ucdp": {"years_back": 2},
        "acled": {"years_back": 2, "enabled": False},
    }
)
NOW = datetime(2025, 7, 1, tzinfo=UTC)


def load_and_score(factory: sessionmaker[Session], config: Configuration, tmp_path: Path) -> None:
    weight_set_id = prepare_database(factory, config)
    rows = ["iso3,variable,year,value"]
    for iso3 in ("SDN", "KEN"):
        rows += [
            f"{iso3},wb.PV.EST,2024,-1.0",
            f"{iso3},wb.GE.EST,2024,-1.0",
            f"{iso3},wb.NY.GDP.TOTL.RT.ZS,2024,5",
            f"{iso3},wb.MS.MIL.XPND.GD.ZS,2024,2",
        ]
    rows.append("SDN,vdem.v2csreprss,2024,-2.0")
    path = tmp_path / "values.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert ingest_service.import_file(factory, path, "csv").error is None
    with session_scope(factory) as session:
        run_scoring(session, config, session.get_one(WeightSet, weight_set_id), as_of=AS_OF)


def test_coverage_per_factor_and_source_with_what_to_enable(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> None:
    with session_factory() as session, pytest.raises(NoScoreRunError, match="run-once"):
        coverage_report(session, configuration, SOURCES, NOW)
    load_and_score(session_factory, configuration, tmp_path)
    with session_factory() as session:
        report = coverage_report(
            session, configuration, SOURCES, NOW, settings=Settings(ucdp_token=None)
        )
    assert report.countries_scored == 2
    factors = {f.number: f for f in report.factors}
    assert (factors[1].countries_with_evidence, factors[1].by_source) == (2, {"worldbank": 2})
    assert factors[6].by_source == {"vdem": 1}
    assert factors[10].countries_with_evidence == 0
    # Factors 13 and 14 apply in armed conflict only: no conflict data, not applicable.
    assert factors[13].countries_applicable == 0

    advice = {a.source: a for a in factors[1].to_raise}
    assert advice["ucdp"].state == "not_configured"
    assert advice["ucdp"].action == "set the credentials of ucdp (see /sources)"
    assert advice["ucdp"].indicators == ["battle_deaths"]
    assert advice["reliefweb"].state == "disabled"  # no entry in this sources.yaml
    assert "worldbank" not in advice  # delivering
    assert factors[1].to_raise[-1].source == "ewp"  # the yearly fallback comes last
    acled = {a.source: a for a in factors[11].to_raise}["acled"]
    assert acled.state == "disabled"
    assert acled.action == "enable acled in sources.yaml"
    assert set(acled.indicators) == {
        "violence_against_civilians_fatalities",
        "civilians_killed_last_month",
    }
    vdem = {a.source: a for a in factors[7].to_raise}["vdem"]
    assert vdem.action.startswith("load a vdem file: earlywarn import FILE")
    assert as_dict(report)["factors"][0]["to_raise"][0] == factors[1].to_raise[0].__dict__
