"""The indicator pipeline on hand-made values: fallbacks, carry-forward, per-capita rates,
transforms, winsorising, reference-period percentiles, armed conflict and crimes."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import numpy as np
import pytest

from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import IndicatorConfig, IndicatorsConfig
from earlywarn.scoring.engine import EngineSpec, Weights, normalise
from earlywarn.scoring.panel import ObservationTable, build_inputs
from earlywarn.scoring.results import CountryResult, score_panel

Row = tuple[str, str, str, date, date, float, str, int]


def _indicator(id_: str, factor: int, variable: str, **overrides: object) -> IndicatorConfig:
    entry: dict[str, object] = {
        "id": id_,
        "name": id_,
        "risk_factor": factor,
        "variable": variable,
        "source": "test",
        "direction": "increases_risk",
        "normalisation": {"method": "bounds", "lower": 0, "upper": 10},
        "weight": 1.0,
        "max_age_days": 800,
    }
    entry.update(overrides)
    return IndicatorConfig.model_validate(entry)


def _config(base: Configuration, indicators: list[IndicatorConfig]) -> Configuration:
    scoring = base.scoring.model_copy(update={"min_factors_with_data": 1})
    return dataclasses.replace(
        base, indicators=IndicatorsConfig(indicators=indicators), scoring=scoring
    )


def _row(iso3: str, variable: str, year: int, value: float, run: int = 1) -> Row:
    return (iso3, variable, str(year), date(year, 1, 1), date(year, 12, 31), value, "test", run)


def _score(
    config: Configuration, rows: list[Row], as_of: list[date]
) -> list[dict[str, CountryResult]]:
    table = ObservationTable.from_rows(rows)
    spec = EngineSpec.from_config(config)
    weights = Weights.from_maps(
        spec,
        {i.id: i.weight for i in config.indicators.indicators},
        dict.fromkeys(range(1, 15), 1.0),
    )
    scored = score_panel(config, table, as_of, weights)
    return [{r.iso3: r for r in scored.results(t)} for t in range(len(as_of))]


def _indicator_entry(result: CountryResult, indicator_id: str) -> object:
    for factor in result.factors:
        for entry in factor.indicators:
            if entry.indicator_id == indicator_id:
                return entry
    raise AssertionError(indicator_id)


def test_fallback_variable_fills_in_when_the_preferred_one_is_missing_or_stale(
    configuration: Configuration,
) -> None:
    config = _config(
        configuration,
        [
            _indicator(
                "imr",
                3,
                "wb.imr",
                transform="sqrt",
                fallbacks=[{"variable": "ewp.imr_sqrt", "transform": "identity"}],
            )
        ],
    )
    rows = [
        _row("AAA", "wb.imr", 2024, 16.0),  # preferred, fresh: sqrt -> 4
        _row("AAA", "ewp.imr_sqrt", 2024, 9.0),
        _row("BBB", "wb.imr", 2019, 64.0),  # preferred but stale: fallback used
        _row("BBB", "ewp.imr_sqrt", 2024, 3.0),
        _row("CCC", "wb.imr", 2019, 64.0),  # stale and no fallback value: missing
    ]
    results = _score(config, rows, [date(2025, 6, 30)])[0]
    aaa = _indicator_entry(results["AAA"], "imr")
    bbb = _indicator_entry(results["BBB"], "imr")
    ccc = _indicator_entry(results["CCC"], "imr")
    assert (aaa.variable, aaa.fallback, aaa.contribution) == ("wb.imr", False, 0.4)  # type: ignore[attr-defined]
    assert (bbb.variable, bbb.fallback, bbb.contribution) == ("ewp.imr_sqrt", True, 0.3)  # type: ignore[attr-defined]
    assert ccc.contribution is None  # type: ignore[attr-defined]
    assert ccc.missing_reason.startswith("stale: ")  # type: ignore[attr-defined]
    assert results["CCC"].composite is None
    assert results["CCC"].coverage == 0.0


def test_values_carry_forward_until_max_age_then_count_as_missing(
    configuration: Configuration,
) -> None:
    config = _config(configuration, [_indicator("x", 1, "t.x", max_age_days=800)])
    rows = [_row("AAA", "t.x", 2020, 5.0), _row("BBB", "t.x", 2020, 5.0)]
    rows.append(_row("BBB", "t.x", 2022, 8.0))
    dates = [date(y, 12, 31) for y in (2020, 2021, 2022, 2023)]
    by_date = _score(config, rows, dates)
    aaa = [by_date[t]["AAA"].factors[0] for t in range(4)]
    assert [f.score for f in aaa] == [0.5, 0.5, 0.5, None]  # 2023: 1095 days old > 800
    assert [f.coverage for f in aaa] == [1.0, 1.0, 1.0, 0.0]
    assert [by_date[t]["BBB"].factors[0].score for t in range(4)] == [0.5, 0.5, 0.8, 0.8]


def test_newest_vintage_of_a_period_wins(configuration: Configuration) -> None:
    config = _config(configuration, [_indicator("x", 1, "t.x")])
    rows = [_row("AAA", "t.x", 2024, 2.0, run=1), _row("AAA", "t.x", 2024, 7.0, run=5)]
    rows.append(_row("AAA", "t.x", 2024, 4.0, run=3))
    result = _score(config, rows, [date(2025, 6, 30)])[0]["AAA"]
    entry = _indicator_entry(result, "x")
    assert (entry.value, entry.ingest_run_id) == (7.0, 5)  # type: ignore[attr-defined]


def test_per_capita_rate_needs_a_fresh_population(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [
            _indicator(
                "deaths_rate",
                11,
                "t.deaths",
                per_capita={"population_variable": "t.pop", "per": 100_000},
                normalisation={"method": "bounds", "lower": 0, "upper": 20},
            )
        ],
    )
    rows = [
        _row("AAA", "t.deaths", 2024, 50.0),
        _row("AAA", "t.pop", 2024, 1_000_000.0),  # 5 per 100,000 -> 0.25
        _row("BBB", "t.deaths", 2024, 50.0),  # no population
    ]
    results = _score(config, rows, [date(2025, 6, 30)])[0]
    assert _indicator_entry(results["AAA"], "deaths_rate").transformed == 5.0  # type: ignore[attr-defined]
    assert results["AAA"].factors[10].score == pytest.approx(0.25)
    missing = _indicator_entry(results["BBB"], "deaths_rate")
    assert missing.missing_reason == "no fresh population value for the per-capita rate"  # type: ignore[attr-defined]


def test_log_transform_domain_and_winsorising(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [
            _indicator(
                "gdp",
                1,
                "t.gdp",
                transform="log",
                normalisation={"method": "bounds", "lower": 0, "upper": math.log(1000)},
            ),
            _indicator(
                "w",
                2,
                "t.w",
                winsorise={"lower_quantile": 0.0, "upper_quantile": 0.75},
                normalisation={"method": "bounds", "lower": 0, "upper": 100},
            ),
        ],
    )
    rows = [_row("AAA", "t.gdp", 2024, 0.0), _row("BBB", "t.gdp", 2024, 1000.0)]
    rows += [_row(c, "t.w", 2024, v) for c, v in [("AAA", 1), ("BBB", 2), ("CCC", 3), ("DDD", 99)]]
    results = _score(config, rows, [date(2025, 6, 30)])[0]
    assert _indicator_entry(results["AAA"], "gdp").missing_reason == (  # type: ignore[attr-defined]
        "value 0.0 outside the domain of log"
    )
    assert results["BBB"].factors[0].score == pytest.approx(1.0)
    # The 0.75 quantile of 1, 2, 3, 99 is 27.0: the outlier is clipped there.
    assert results["DDD"].factors[1].score == pytest.approx(0.27)
    assert results["AAA"].factors[1].score == pytest.approx(0.01)


def test_percentile_against_a_reference_period(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [
            _indicator(
                "p",
                1,
                "t.p",
                normalisation={
                    "method": "percentile",
                    "reference_start_year": 2000,
                    "reference_end_year": 2009,
                },
            )
        ],
    )
    spec = EngineSpec.from_config(config, {"p": np.arange(1.0, 11.0)})  # 1..10
    contributions = normalise(spec, np.array([[[0.5], [5.0], [10.0], [20.0], [np.nan]]]))
    assert contributions[0, :, 0].tolist()[:4] == [0.0, 0.45, 0.95, 1.0]
    assert math.isnan(contributions[0, 4, 0])
    # Without any reference value the indicator is missing, never a guess.
    empty = normalise(EngineSpec.from_config(config, {}), np.array([[[5.0]]]))
    assert math.isnan(empty[0, 0, 0])


def test_war_crimes_factors_apply_only_in_armed_conflict(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [
            _indicator("base", 1, "t.base"),
            _indicator("civilians", 13, "t.civ"),
        ],
    )
    rows = [
        # In conflict (>= 25 battle deaths): factor 13 counts.
        _row("WAR", "t.base", 2024, 2.0),
        _row("WAR", "t.civ", 2024, 10.0),
        _row("WAR", "ucdp.battle_deaths", 2024, 300.0),
        # Measured peace: factor 13 does not apply, its value is shown but not counted.
        _row("PEA", "t.base", 2024, 2.0),
        _row("PEA", "t.civ", 2024, 10.0),
        _row("PEA", "ucdp.battle_deaths", 2024, 3.0),
        # No conflict data at all: unknown, so not applicable either.
        _row("UNK", "t.base", 2024, 2.0),
    ]
    results = _score(config, rows, [date(2025, 6, 30)])[0]
    war, peace, unknown = results["WAR"], results["PEA"], results["UNK"]
    assert (war.armed_conflict, peace.armed_conflict, unknown.armed_conflict) == (
        True,
        False,
        None,
    )
    assert war.factors[12].applicable
    assert war.composite == pytest.approx((0.2 + 1.0) / 2)
    assert not peace.factors[12].applicable
    assert peace.factors[12].score == 1.0  # shown...
    assert peace.composite == pytest.approx(0.2)  # ...but not counted
    assert war.points_to == ["war_crimes"]
    assert war.crimes["war_crimes"] == 1.0
    assert peace.points_to == []


def test_specific_factors_point_to_their_crime(configuration: Configuration) -> None:
    config = _config(
        configuration,
        [_indicator("g", 10, "t.g"), _indicator("h", 11, "t.h"), _indicator("c", 1, "t.c")],
    )
    rows = [
        _row("AAA", "t.g", 2024, 9.0),
        _row("AAA", "t.h", 2024, 4.0),
        _row("AAA", "t.c", 2024, 9.0),
        _row("BBB", "t.g", 2024, 1.0),
        _row("BBB", "t.h", 2024, 1.0),
    ]
    results = _score(config, rows, [date(2025, 6, 30)])[0]
    assert results["AAA"].points_to == ["genocide", "crimes_against_humanity"]
    assert results["AAA"].crimes["war_crimes"] is None
    assert results["BBB"].points_to == []


def test_inputs_remember_the_observation_and_reason(configuration: Configuration) -> None:
    config = _config(configuration, [_indicator("x", 1, "t.x")])
    table = ObservationTable.from_rows([_row("AAA", "t.x", 2024, 3.0, run=9)])
    inputs = build_inputs(config, table, [date(2025, 6, 30)])
    assert inputs.units == ["AAA"]
    assert table.ingest_run_id[inputs.row[0, 0, 0]] == 9
    assert inputs.age_days[0, 0, 0] == (date(2025, 6, 30) - date(2024, 12, 31)).days


@pytest.mark.parametrize(
    "labels",
    [
        ["2024", "2024-03", "2024-03-05", "2024", "2023-Q1", "2024-03", "1"],
        ["été-2024", "été-2024", "2024"],  # UTF-8, not one byte a character
        ["a-label-longer-than-sixteen-bytes", "2024", "a-label-longer-than-sixteen-bytes"],
        ["2024"],
    ],
)
def test_code_labels_gives_each_label_its_code(labels: list[str]) -> None:
    from earlywarn.scoring.panel import code_labels

    distinct, codes = code_labels("|".join(labels), len(labels))
    assert [distinct[c] for c in codes] == labels
    assert sorted(distinct) == sorted(set(labels))


def test_code_labels_refuses_a_wrong_count() -> None:
    from earlywarn.scoring.panel import code_labels

    with pytest.raises(ValueError, match="period labels"):
        code_labels("2024|2025", 3)
    assert code_labels("", 0)[0] == []
