"""The indicator pipeline end to end on SQLite and PostgreSQL: values imported as a long CSV,
read back by a scoring run, and the stored breakdown: a preferred variable and its fallback,
sqrt, per-capita rates, percentiles against a reference period read from the database (with
the data vintage), winsorising, carry-forward until the maximum age, then missing (lowering
coverage, never counted as zero risk)."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorConfig, IndicatorsConfig
from earlywarn.framework.models import WeightSet
from earlywarn.ingest import service as ingest_service
from earlywarn.scoring.models import CountryScore
from earlywarn.scoring.service import run_scoring

AS_OF = date(2025, 6, 30)


def _indicator(id_: str, factor: int, variable: str, **overrides: object) -> IndicatorConfig:
    entry: dict[str, object] = {
        "id": id_,
        "name": id_,
        "risk_factor": factor,
        "variable": variable,
        "source": "csv",
        "direction": "increases_risk",
        "normalisation": {"method": "bounds", "lower": 0, "upper": 10},
        "weight": 1.0,
        "max_age_days": 800,
    }
    entry.update(overrides)
    return IndicatorConfig.model_validate(entry)


@pytest.fixture
def config(configuration: Configuration) -> Configuration:
    indicators = [
        # One concept, two sources: a rate (square-rooted) or the square root already taken.
        _indicator(
            "imr",
            3,
            "test.imr",
            transform="sqrt",
            fallbacks=[{"variable": "test.imr_sqrt", "transform": "identity"}],
            max_age_days=400,
        ),
        # Deaths per 100,000 people, ranked against every country-year of 2000-2009.
        _indicator(
            "death_rate",
            11,
            "test.deaths",
            per_capita={"population_variable": "test.pop", "per": 100_000},
            normalisation={
                "method": "percentile",
                "reference_start_year": 2000,
                "reference_end_year": 2009,
            },
        ),
        _indicator(
            "outlier",
            2,
            "test.w",
            winsorise={"lower_quantile": 0.0, "upper_quantile": 0.75},
            normalisation={"method": "bounds", "lower": 0, "upper": 100},
        ),
    ]
    scoring = configuration.scoring.model_copy(update={"min_factors_with_data": 1})
    return dataclasses.replace(
        configuration, indicators=IndicatorsConfig(indicators=indicators), scoring=scoring
    )


def _import(
    factory: sessionmaker[Session], path: Path, rows: list[tuple[str, str, int, float]]
) -> int:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        writer.writerows(rows)
    run = ingest_service.import_file(factory, path, "csv")
    assert run.error is None, run.error
    return run.id


def _entries(score: CountryScore) -> dict[str, dict[str, Any]]:
    return {i["indicator_id"]: i for f in score.factors["factors"] for i in f["indicators"]}


def _score(
    factory: sessionmaker[Session], config: Configuration, weight_set_id: int, **kwargs: Any
) -> dict[str, CountryScore]:
    with session_scope(factory) as session:
        run_id = run_scoring(
            session, config, session.get_one(WeightSet, weight_set_id), as_of=AS_OF, **kwargs
        ).run.id
    with factory() as session:
        scores = session.scalars(select(CountryScore).where(CountryScore.score_run_id == run_id))
        return {s.country_iso3: s for s in scores}


def test_indicator_pipeline_through_the_database(
    session_factory: sessionmaker[Session], config: Configuration, tmp_path: Path
) -> None:
    weight_set_id = prepare_database(session_factory, config)
    # Reference period: KEN's rates 1, 2, ..., 10 per 100,000 in 2000-2009 (population 1e6).
    reference = [("KEN", "test.pop", y, 1_000_000.0) for y in range(2000, 2010)]
    reference += [("KEN", "test.deaths", y, 10.0 * (y - 1999)) for y in range(2000, 2010)]
    _import(session_factory, tmp_path / "reference.csv", reference)
    current = [
        ("KEN", "test.imr", 2024, 16.0),  # preferred, fresh: sqrt 4 -> 0.4
        ("KEN", "test.imr_sqrt", 2024, 9.0),  # not used: the preferred one is fresh
        ("NGA", "test.imr_sqrt", 2024, 3.0),  # only the fallback -> 0.3
        ("FRA", "test.imr", 2023, 4.0),  # ended 2023-12-31, 547 days before: stale after 400
        ("DEU", "test.imr", 2024, 25.0),  # carried forward 181 days -> 0.5
        ("KEN", "test.pop", 2024, 1_000_000.0),
        ("KEN", "test.deaths", 2024, 50.0),  # 5 per 100,000: 4 below, 1 tie -> 0.45
        ("NGA", "test.pop", 2024, 2_000_000.0),
        ("NGA", "test.deaths", 2024, 400.0),  # 20 per 100,000: above all -> 1.0
        ("FRA", "test.deaths", 2024, 50.0),  # no population: no rate
        ("KEN", "test.w", 2024, 1.0),
        ("NGA", "test.w", 2024, 2.0),
        ("FRA", "test.w", 2024, 3.0),
        ("DEU", "test.w", 2024, 99.0),  # clipped at the 0.75 quantile of 1, 2, 3, 99: 27
    ]
    current_run = _import(session_factory, tmp_path / "current.csv", current)
    scores = _score(session_factory, config, weight_set_id)

    ken, nga, fra, deu = (_entries(scores[c]) for c in ("KEN", "NGA", "FRA", "DEU"))
    assert (ken["imr"]["variable"], ken["imr"]["fallback"]) == ("test.imr", False)
    assert ken["imr"]["transformed"] == pytest.approx(4.0)
    assert ken["imr"]["contribution"] == pytest.approx(0.4)
    assert (nga["imr"]["variable"], nga["imr"]["fallback"]) == ("test.imr_sqrt", True)
    assert nga["imr"]["contribution"] == pytest.approx(0.3)
    assert (deu["imr"]["period"], deu["imr"]["age_days"]) == ("2024", 181)
    assert deu["imr"]["contribution"] == pytest.approx(0.5)
    assert fra["imr"]["contribution"] is None
    assert fra["imr"]["missing_reason"] == "stale: 547 days old, limit 400"

    assert ken["death_rate"]["transformed"] == pytest.approx(5.0)
    assert ken["death_rate"]["contribution"] == pytest.approx(0.45)
    assert nga["death_rate"]["contribution"] == pytest.approx(1.0)
    assert fra["death_rate"]["contribution"] is None
    assert "population" in fra["death_rate"]["missing_reason"]

    assert deu["outlier"]["contribution"] == pytest.approx(0.27)
    assert ken["outlier"]["contribution"] == pytest.approx(0.01)

    # FRA: two of its three factors without fresh data lower its coverage; the composite is
    # the one factor with data, not an average with zeros.
    assert scores["FRA"].composite == pytest.approx(0.03)
    # (Coverage is over every factor of the composite; KEN has data in all three.)
    assert scores["KEN"].coverage == pytest.approx(3 * scores["FRA"].coverage)

    # A revised reference (a later load) moves the percentile; the data vintage of the first
    # loads does not see it.
    revised = [("KEN", "test.deaths", y, 100.0 * (y - 1999)) for y in range(2000, 2010)]
    _import(session_factory, tmp_path / "revised.csv", revised)
    now = _entries(_score(session_factory, config, weight_set_id)["KEN"])
    assert now["death_rate"]["contribution"] == pytest.approx(0.0)  # 5 is below 10..100
    then = _entries(
        _score(session_factory, config, weight_set_id, max_ingest_run_id=current_run)["KEN"]
    )
    assert then["death_rate"]["contribution"] == pytest.approx(0.45)
