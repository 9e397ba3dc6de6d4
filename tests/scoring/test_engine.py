"""The scoring method on hand-made values: normalisation, direction, freshness, coverage."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorConfig, IndicatorsConfig, LevelThresholds
from earlywarn.observations.schemas import LatestValue
from earlywarn.scoring.engine import level_for, percentile_ranks
from earlywarn.scoring.results import CountryResult, score_countries
from earlywarn.types import RiskLevel

AS_OF = date(2025, 6, 30)


def _indicator(id_: str, factor: int, variable: str, **overrides: object) -> IndicatorConfig:
    entry: dict[str, object] = {
        "id": id_,
        "name": id_.replace("_", " "),
        "risk_factor": factor,
        "variable": variable,
        "source": "test",
        "direction": "increases_risk",
        "normalisation": {"method": "bounds", "lower": 0, "upper": 10},
        "weight": 1.0,
        "max_age_days": 730,
    }
    entry.update(overrides)
    return IndicatorConfig.model_validate(entry)


def _value(iso3: str, variable: str, value: float, year: int = 2024) -> LatestValue:
    return LatestValue(
        iso3=iso3,
        variable=variable,
        period=str(year),
        period_start=date(year, 1, 1),
        period_end=date(year, 12, 31),
        value=value,
        source_id="test",
        ingest_run_id=1,
    )


def _config(
    base: Configuration, indicators: list[IndicatorConfig], min_factors: int
) -> Configuration:
    scoring = base.scoring.model_copy(update={"min_factors_with_data": min_factors})
    return dataclasses.replace(
        base, indicators=IndicatorsConfig(indicators=indicators), scoring=scoring
    )


def _score(config: Configuration, values: list[LatestValue]) -> dict[str, CountryResult]:
    results = score_countries(
        config,
        values,
        as_of=AS_OF,
        indicator_weights={i.id: i.weight for i in config.indicators.indicators},
        factor_weights=dict.fromkeys(range(1, 15), 1.0),
    )
    return {r.iso3: r for r in results}


def test_bounds_direction_and_clipping(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [
            _indicator("deaths", 1, "t.deaths"),
            _indicator("freedom", 2, "t.freedom", direction="decreases_risk"),
        ],
        min_factors=1,
    )
    results = _score(
        config,
        [
            _value("AAA", "t.deaths", 5.0),
            _value("AAA", "t.freedom", 2.5),
            _value("BBB", "t.deaths", 25.0),  # above the upper bound: clipped to 1
            _value("BBB", "t.freedom", -3.0),  # below the lower bound, decreases risk: 1
        ],
    )
    aaa, bbb = results["AAA"], results["BBB"]
    assert [f.score for f in aaa.factors[:2]] == [0.5, 0.75]
    assert [f.score for f in bbb.factors[:2]] == [1.0, 1.0]
    assert aaa.composite == pytest.approx(0.625)


def test_factor_is_weighted_mean_of_indicators_with_data_and_reports_coverage(
    configuration: Configuration,
) -> None:
    config = _config(
        configuration,
        [
            _indicator("a", 3, "t.a", weight=3.0),
            _indicator("b", 3, "t.b", weight=1.0),
            _indicator("c", 3, "t.c", weight=1.0),
        ],
        min_factors=1,
    )
    result = _score(config, [_value("AAA", "t.a", 10.0), _value("AAA", "t.b", 0.0)])["AAA"]
    factor3 = result.factors[2]
    assert factor3.score == pytest.approx(0.75)  # (3*1 + 1*0) / 4
    assert factor3.coverage == pytest.approx(0.8)  # 4 of 5 weight units had data
    missing = [i for i in factor3.indicators if i.contribution is None]
    assert [(i.indicator_id, i.missing_reason) for i in missing] == [("c", "no observation")]


def test_stale_and_out_of_domain_values_are_left_out_with_a_reason(
    configuration: Configuration,
) -> None:
    config = _config(
        configuration,
        [
            _indicator("fresh", 1, "t.fresh"),
            _indicator("old", 1, "t.old", max_age_days=365),
            _indicator("logged", 1, "t.logged", transform="log1p"),
        ],
        min_factors=1,
    )
    result = _score(
        config,
        [
            _value("AAA", "t.fresh", 10.0),
            _value("AAA", "t.old", 10.0, year=2022),
            _value("AAA", "t.logged", -5.0),
        ],
    )["AAA"]
    reasons = {i.indicator_id: i.missing_reason for i in result.factors[0].indicators}
    assert reasons["fresh"] is None
    assert reasons["old"] is not None
    assert reasons["old"].startswith("stale: 912 days old, limit 365")
    assert reasons["logged"] == "value -5.0 outside the domain of log1p"
    assert result.factors[0].score == 1.0


def test_too_few_factors_leaves_the_country_unrated(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [_indicator("a", 1, "t.a"), _indicator("b", 2, "t.b")],
        min_factors=2,
    )
    results = _score(
        config, [_value("AAA", "t.a", 9), _value("AAA", "t.b", 9), _value("BBB", "t.a", 9)]
    )
    assert results["AAA"].level is RiskLevel.EMERGENCY
    assert results["BBB"].composite is None
    assert results["BBB"].level is None
    assert results["BBB"].factors_with_data == 1


def test_percentile_normalisation_ranks_within_the_run(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [_indicator("p", 1, "t.p", normalisation={"method": "percentile"})],
        min_factors=1,
    )
    values = [_value(c, "t.p", v) for c, v in [("AAA", 1), ("BBB", 5), ("CCC", 5), ("DDD", 9)]]
    scores = {iso3: r.factors[0].score for iso3, r in _score(config, values).items()}
    assert scores == {"AAA": 0.0, "BBB": 0.5, "CCC": 0.5, "DDD": 1.0}


def test_percentile_ranks_and_ladder() -> None:
    assert percentile_ranks({"x": 3.0}) == {"x": 0.5}
    thresholds = LevelThresholds(concern=0.3, warning=0.4, emergency=0.5)
    assert [level_for(v, thresholds) for v in (0.1, 0.3, 0.45, 0.5)] == [
        RiskLevel.LOW,
        RiskLevel.CONCERN,
        RiskLevel.WARNING,
        RiskLevel.EMERGENCY,
    ]


def test_points_to_rows_agrees_with_points_to_row_by_row() -> None:
    import numpy as np

    from earlywarn.scoring.engine import points_to, points_to_rows

    thresholds = LevelThresholds(concern=0.4, warning=0.6, emergency=0.8)
    rng = np.random.default_rng(3)
    # Coarse values so that ties (broken by name), the threshold itself and NaN all occur.
    scores = rng.integers(0, 6, size=(4000, 3)) / 5.0
    scores[rng.random(scores.shape) < 0.15] = np.nan
    expected = [points_to(row.tolist(), thresholds) for row in scores]
    assert points_to_rows(scores, thresholds) == expected
    assert any(len(e) == 3 for e in expected)
    assert any(e == [] for e in expected)
    assert points_to_rows(np.empty((0, 3)), thresholds) == []
