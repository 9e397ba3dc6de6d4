"""The preview's alert simulation: one more run through the rules of config/alerting.yaml,
starting from the alerts open now and the stored streaks (pure, no database); and, on SQLite
and PostgreSQL, the cooldown decided as the live evaluation decides it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import Alert, AlertEventKind
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.countries.models import Country
from earlywarn.framework.config import Configuration
from earlywarn.notify.alert_events import hand_over
from earlywarn.scoring.engine import EngineSpec, Weights
from earlywarn.scoring.explain import rescore
from earlywarn.types import RiskLevel
from earlywarn.weights.alert_preview import (
    OpenAlert,
    alerts_now,
    next_run_alerts,
    preview_inputs,
    simulate_next_run,
)

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


@pytest.mark.parametrize(
    ("days_after_resolving", "live_kind", "previewed_as_reopening"),
    [(14, AlertEventKind.REOPENED, True), (28, AlertEventKind.OPENED, False)],
)
def test_a_reentry_within_the_cooldown_is_previewed_as_a_reopening_as_the_live_run_does(
    session: Session,
    configuration: Configuration,
    days_after_resolving: int,
    live_kind: AlertEventKind,
    previewed_as_reopening: bool,
) -> None:
    """elevated_risk has cooldown_days 28: back at 'warning' 14 days after resolving, the
    live run reopens the alert that resolved, and so does the preview; 28 days after, both
    open a new one. Live and preview decide with the same transition function."""
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    session.flush()
    key = ("elevated_risk", "SDN")
    rule = next(r for r in configuration.alerting.rules if r.id == key[0])
    assert rule.cooldown_days == 28
    warning = _input("SDN", WARNING, 0.6)
    opened_on = date(2026, 11, 2)
    resolved_on = opened_on + timedelta(days=7)

    def live(as_of: date, country: CountryInput) -> list[AlertEventKind]:
        outcome = evaluate_alerts(session, configuration, RunRef(None, as_of), [country])
        hand_over(session, configuration.alerting.escalation, outcome.updates)
        session.flush()
        return [u.event.kind for u in outcome.updates if u.alert.dedup_key == ":".join(key)]

    assert live(opened_on, warning) == [AlertEventKind.OPENED]
    assert live(resolved_on, _input("SDN", LOW, 0.2)) == [AlertEventKind.RESOLVED]

    now = alerts_now(session)
    assert key not in now.open_alerts
    assert now.resolved_on[key] == resolved_on
    reentry = resolved_on + timedelta(days=days_after_resolving)
    previewed = simulate_next_run(
        configuration.alerting.rules,
        [warning],
        now.open_alerts,
        now.streaks,
        as_of=reentry,
        resolved_on=now.resolved_on,
    )
    assert previewed.held[key] == WARNING
    assert (key in previewed.reopened) is previewed_as_reopening

    assert live(reentry, warning) == [live_kind]
    alerts = session.scalars(select(Alert).where(Alert.rule_id == key[0])).all()
    assert len(alerts) == (1 if previewed_as_reopening else 2)


def test_thin_evidence_opens_no_factor_alert_in_the_preview_as_in_the_live_run(
    configuration: Configuration,
) -> None:
    """A country rated on four factors (coverage under scoring.min_coverage_for_level) with
    factor 11 at 0.96 would trip the risk_factor rule systematic_attack; the live run opens
    nothing on thin evidence (tests/alerting/test_thin_evidence.py), and neither does the
    preview, which flags it with the same shared rule. The same factor with full coverage
    opens it."""
    spec = EngineSpec.from_config(configuration)
    weights = Weights.from_maps(spec, {}, configuration.scoring.factor_weights)

    def breakdown(factors: set[int]) -> dict[str, Any]:
        return {
            "format": "columns",
            "indicator_ids": list(spec.indicator_ids),
            "contribution": [
                0.96 if int(spec.factor_index[i]) + 1 in factors else None
                for i in range(len(spec.indicator_ids))
            ],
            "factor_applicable": [True] * 14,
        }

    rescored = rescore(
        spec, ["THN", "FUL"], [breakdown({1, 2, 3, 11}), breakdown(set(range(1, 15)))], weights
    )
    thin, full = preview_inputs(configuration, rescored, {}, {})
    assert rescored.agg.coverage[0, 0] < configuration.scoring.min_coverage_for_level
    assert thin.factor_scores[11] == pytest.approx(0.96)
    assert thin.insufficient_data is not None
    assert "coverage" in thin.insufficient_data
    assert full.insufficient_data is None
    held = next_run_alerts(configuration.alerting.rules, [thin, full], {}, {})
    assert ("systematic_attack", "THN") not in held
    assert not any(iso3 == "THN" for _, iso3 in held), "no rule opens on thin evidence"
    assert held[("systematic_attack", "FUL")] == EMERGENCY
