"""The preview's alert computation: the level rules of config/alerting.yaml, read only."""

from __future__ import annotations

from earlywarn.framework.config import Configuration
from earlywarn.types import RiskLevel
from earlywarn.weights.service import alert_keys

LOW, CONCERN, WARNING, EMERGENCY = (
    RiskLevel.LOW,
    RiskLevel.CONCERN,
    RiskLevel.WARNING,
    RiskLevel.EMERGENCY,
)


def test_level_rules_hold_from_their_thresholds(configuration: Configuration) -> None:
    rules = configuration.alerting.rules
    levels = {"AAA": WARNING, "BBB": CONCERN, "CCC": EMERGENCY, "DDD": None, "EEE": CONCERN}
    previous = {"AAA": WARNING, "BBB": LOW, "CCC": WARNING, "EEE": CONCERN}
    held = alert_keys(rules, levels, previous)
    assert held == {
        ("elevated_risk", "AAA"): WARNING,  # at least 'warning'
        ("elevated_risk", "CCC"): EMERGENCY,
        ("rising_risk", "BBB"): CONCERN,  # rose from low to concern
        ("rising_risk", "CCC"): EMERGENCY,  # rose from warning
    }


def test_a_rise_needs_a_previous_level_and_the_minimum(configuration: Configuration) -> None:
    rules = configuration.alerting.rules
    assert alert_keys(rules, {"AAA": CONCERN}, {}) == {}
    assert alert_keys(rules, {"AAA": LOW}, {"AAA": LOW}) == {}
