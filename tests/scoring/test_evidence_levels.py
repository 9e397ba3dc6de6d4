"""Levels that respect evidence: thin coverage holds the level at 'concern' and says why."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from earlywarn.framework.config import Configuration
from earlywarn.observations.schemas import LatestValue
from earlywarn.scoring.evidence import cap_level_codes, insufficient_data_reason
from earlywarn.scoring.results import CountryResult, score_countries
from earlywarn.types import RiskLevel

AS_OF = date(2025, 6, 30)
# Four indicators in four risk factors, each at its maximum risk: composite 1.0 on a few
# percent of the framework's indicator weight.
THIN = {
    "ewp.battledeaths.log2": 14.0,
    "ewp.pol_killing_approved": 1.0,
    "ewp.minorityrule": 1.0,
    "ewp.widetargeting": 1.0,
}


def _latest(iso3: str, values: dict[str, float]) -> list[LatestValue]:
    return [
        LatestValue(
            iso3=iso3,
            variable=variable,
            period="2024",
            period_start=date(2024, 1, 1),
            period_end=date(2024, 12, 31),
            value=value,
            source_id="ewp",
            ingest_run_id=1,
        )
        for variable, value in values.items()
    ]


def _score(config: Configuration, values: dict[str, float]) -> CountryResult:
    (result,) = score_countries(
        config,
        _latest("XTH", values),
        as_of=AS_OF,
        indicator_weights={i.id: i.weight for i in config.indicators.indicators},
        factor_weights=config.scoring.factor_weights,
    )
    return result


def test_thin_evidence_is_held_at_concern_with_the_reason(configuration: Configuration) -> None:
    result = _score(configuration, THIN)
    assert result.composite == pytest.approx(1.0)
    assert result.coverage < 0.15
    assert result.level is RiskLevel.CONCERN
    assert result.insufficient_data is not None
    assert f"{result.coverage:.0%}" in result.insufficient_data
    assert "would read 'emergency'" in result.insufficient_data


def test_without_a_minimum_the_same_evidence_reads_emergency(
    configuration: Configuration,
) -> None:
    """The control: the cap, not the data, holds the level."""
    scoring = configuration.scoring.model_copy(update={"min_coverage_for_level": 0.0})
    result = _score(dataclasses.replace(configuration, scoring=scoring), THIN)
    assert result.level is RiskLevel.EMERGENCY
    assert result.insufficient_data is None


def test_the_default_minimum_lies_between_thin_evidence_and_the_ewp_coverage(
    configuration: Configuration,
) -> None:
    # 14% (one factor's worth) must not raise an alert; the EWP run rates at 45% and above.
    assert 0.14 < configuration.scoring.min_coverage_for_level < 0.45


def test_cap_level_codes_only_lowers_levels_above_concern() -> None:
    codes = np.array([[-1, 0, 1, 2, 3, 3]], dtype=np.int8)
    coverage = np.array([[0.0, 0.1, 0.1, 0.1, 0.1, 0.5]])
    assert cap_level_codes(codes, coverage, 0.3).tolist() == [[-1, 0, 1, 1, 1, 3]]


def test_the_reason_names_coverage_and_minimum(configuration: Configuration) -> None:
    levels = configuration.scoring.levels
    assert insufficient_data_reason(None, 0.1, 0.3, levels) is None, "unrated: nothing to say"
    assert insufficient_data_reason(0.9, 0.31, 0.3, levels) is None
    low = insufficient_data_reason(0.1, 0.2, 0.3, levels)
    assert low is not None
    assert "20%" in low
    assert "30%" in low
    assert "would read" not in low
