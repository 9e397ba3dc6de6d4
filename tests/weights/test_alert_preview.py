"""The preview's alert simulation: one more run through the rules of config/alerting.yaml,
starting from the alerts open now and the stored streaks (pure, no database)."""

from __future__ import annotations

from earlywarn.alerting.rules import CountryInput
from earlywarn.framework.config import Configuration
from earlywarn.types import RiskLevel
from earlywarn.weights.service import OpenAlert, next_run_alerts

LOW, CONCERN, WARNING, EMERGENCY = (
    RiskLevel.LOW,
    RiskLevel.CONCERN,
    RiskLevel.WARNING,
    RiskLevel.EMERGENCY,
)


def _input(
    iso3: str,
    level: RiskLevel,
    composite: float,
    *,
    factor_11: float | None = None,
    history: list[tuple[float, RiskLevel]] | None = None,
    p2: float | None = None,
) -> CountryInput:
    return CountryInput(
        iso3=iso3,
        level=level,
        composite=composite,
        factor_scores={} if factor_11 is None else {11: factor_11},
        history=history or [],
        onset_probability_2y=p2,
    )


def test_level_rule_opens_at_its_enter_level_and_closes_only_below_its_exit_level(
    configuration: Configuration,
) -> None:
    rules = configuration.alerting.rules
    open_now = {
        ("elevated_risk", "AAA"): OpenAlert(WARNING),
        ("elevated_risk", "BBB"): OpenAlert(WARNING),
    }
    held = next_run_alerts(
        rules,
        [
            _input("AAA", LOW, 0.25),  # below 'concern': resolves
            _input("BBB", CONCERN, 0.35),  # inside the hysteresis band: stays open
            _input("CCC", WARNING, 0.45),  # new
        ],
        open_now,
        {},
    )
    assert ("elevated_risk", "AAA") not in held
    assert held[("elevated_risk", "BBB")] == WARNING  # stays at the level it was raised for
    assert held[("elevated_risk", "CCC")] == WARNING


def test_a_factor_rule_reads_the_factor_score(configuration: Configuration) -> None:
    rules = configuration.alerting.rules
    held = next_run_alerts(
        rules,
        [
            _input("AAA", LOW, 0.2, factor_11=0.75),
            _input("BBB", LOW, 0.2, factor_11=0.6),  # between exit and enter: stays closed
        ],
        {("systematic_attack", "CCC"): OpenAlert(EMERGENCY)},
        {},
    )
    assert held[("systematic_attack", "AAA")] == EMERGENCY
    assert ("systematic_attack", "BBB") not in held
    # CCC is not rated in this run: its alert stays (missing data is not evidence).
    assert held[("systematic_attack", "CCC")] == EMERGENCY


def test_streaks_count_towards_for_runs(configuration: Configuration) -> None:
    rules = configuration.alerting.rules  # onset_probability_2y needs two runs at >= 0.30
    first = next_run_alerts(rules, [_input("AAA", LOW, 0.2, p2=0.4)], {}, {})
    assert ("onset_probability_2y", "AAA") not in first
    second = next_run_alerts(
        rules, [_input("AAA", LOW, 0.2, p2=0.4)], {}, {("onset_probability_2y", "AAA"): (1, 0)}
    )
    assert ("onset_probability_2y", "AAA") in second


def test_a_rise_is_measured_against_the_previous_runs(configuration: Configuration) -> None:
    rules = configuration.alerting.rules
    held = next_run_alerts(
        rules,
        [
            _input("AAA", CONCERN, 0.33, history=[(0.2, LOW)]),  # one rung up
            _input("BBB", CONCERN, 0.33),  # no earlier run: nothing to rise from
        ],
        {},
        {},
    )
    assert held[("rising_risk", "AAA")] == CONCERN
    assert ("rising_risk", "BBB") not in held
    assert ("sharp_rise", "AAA") not in held  # 0.13 points: under 0.15
