"""Every variable the shipped scoring configuration reads is one some connector or file format
writes (issue 16: ``ucdp.battle_deaths`` was read while UCDP writes
``ucdp.battle_related_deaths``, so armed conflict never came from UCDP)."""

from __future__ import annotations

from pathlib import Path

from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import ArmedConflictConfig, IndicatorsConfig
from earlywarn.ingest.variables import unproducible_variables

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def test_shipped_configuration_reads_only_variables_some_source_writes(
    configuration: Configuration,
) -> None:
    assert (
        unproducible_variables(
            configuration.indicators, configuration.scoring, configuration.sources
        )
        == []
    )


def test_the_old_ucdp_criterion_name_is_caught(configuration: Configuration) -> None:
    conflict = ArmedConflictConfig.model_validate(
        {
            "factors": [13, 14],
            "criteria": [{"variable": "ucdp.battle_deaths", "min_value": 25}],
            "max_age_days": 730,
        }
    )
    scoring = configuration.scoring.model_copy(update={"armed_conflict": conflict})
    problems = unproducible_variables(IndicatorsConfig(indicators=[]), scoring)
    assert len(problems) == 1
    assert problems[0].startswith("armed_conflict criterion: ucdp.battle_deaths: no ucdp")
    assert "ucdp.battle_related_deaths" in problems[0]


def test_unknown_prefixes_pass_only_for_long_csv_indicators(
    configuration: Configuration,
) -> None:
    base = next(i for i in configuration.indicators.indicators if i.source == "worldbank")
    csv_one = base.model_copy(update={"id": "a", "variable": "local.x", "source": "csv"})
    other = base.model_copy(update={"id": "b", "variable": "local.y", "source": "worldbank"})
    problems = unproducible_variables(
        IndicatorsConfig(indicators=[csv_one, other]), configuration.scoring
    )
    assert problems == [
        "indicator b: local.y: no connector or file format writes local.* (only a long CSV could)"
    ]
