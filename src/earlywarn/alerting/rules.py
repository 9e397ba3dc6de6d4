"""What each rule reads from one run, without touching the database.

A rule turns a per-subject input record into a ``Reading``: does the enter condition hold, does
the exit condition hold (the two differ: hysteresis), at which level would the alert stand, and
the values behind the decision. ``None`` means the run says nothing about the subject (no
rating, no forecast): missing data is not evidence that risk fell, so nothing changes.

``alerting.transitions`` turns consecutive readings into transitions (``for_runs``,
``exit_for_runs``, ``cooldown_days``); ``alerting.evaluation`` applies them to the alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from earlywarn.framework.config_schemas import (
    AlertRule,
    LevelAtLeastRule,
    LevelRiseRule,
    OnsetProbabilityRule,
    RiskFactorRule,
    SourceHealthRule,
)
from earlywarn.scoring.models import CountryScore
from earlywarn.types import RiskLevel


def history_runs_needed(rules: Sequence[AlertRule]) -> int:
    """How many earlier runs the rules compare with: the longest rise window (at least one)."""
    return max((r.window_runs for r in rules if isinstance(r, LevelRiseRule)), default=1)


@dataclass(frozen=True)
class RunRef:
    """The run being evaluated: its score run (None for runs without one) and as-of date."""

    score_run_id: int | None
    as_of: date


@dataclass(frozen=True)
class CountryInput:
    """One country in one run, as the rules see it.

    ``history`` holds the country's (composite, level) in earlier rated runs, oldest first.
    The onset probabilities are the forecasts stored for the run (None when no promoted model
    forecast the country).
    """

    iso3: str
    level: RiskLevel | None
    composite: float | None
    factor_scores: Mapping[int, float] = field(default_factory=dict)
    history: Sequence[tuple[float, RiskLevel]] = ()
    onset_probability_1y: float | None = None
    onset_probability_2y: float | None = None
    region: str | None = None
    # The stored score behind the input (evidence and foreign key); None for synthetic inputs.
    score: CountryScore | None = None


@dataclass(frozen=True)
class SourceHealth:
    """One data source's health: state is healthy, stale, failing, never_run or
    not_configured; reason says why in words."""

    source_id: str
    state: str
    reason: str


@dataclass(frozen=True)
class Reading:
    enter: bool
    exit: bool
    level: RiskLevel
    value: float | None
    details: dict[str, Any]


def _level_for(rule_level: RiskLevel, country_level: RiskLevel | None) -> RiskLevel:
    return country_level if country_level is not None else rule_level


def read_country(
    rule: AlertRule, data: CountryInput, baseline: Mapping[str, Any] | None
) -> Reading | None:
    """The reading of a country rule. ``baseline`` is the open alert's frozen baseline (rise
    rules measure their exit against where the rise started, not against a moving window)."""
    if isinstance(rule, LevelAtLeastRule):
        if data.level is None:
            return None
        return Reading(
            enter=data.level >= rule.enter_level,
            exit=data.level < rule.exit_level,
            # Inside the hysteresis band the alert stays at the level it was raised for, so a
            # country hovering at the boundary does not de- and re-escalate every run.
            level=max(data.level, rule.enter_level, key=lambda level: level.rank),
            value=data.composite,
            details={"level": data.level.value, "composite": data.composite},
        )
    if isinstance(rule, LevelRiseRule):
        return _read_rise(rule, data, baseline)
    if isinstance(rule, OnsetProbabilityRule):
        probability = (
            data.onset_probability_1y if rule.horizon_years == 1 else data.onset_probability_2y
        )
        if probability is None:
            return None
        return Reading(
            enter=probability >= rule.enter,
            exit=probability < rule.exit,
            level=_level_for(rule.level, data.level),
            value=probability,
            details={f"onset_probability_{rule.horizon_years}y": probability},
        )
    if isinstance(rule, RiskFactorRule):
        score = data.factor_scores.get(rule.factor)
        if score is None:
            return None
        return Reading(
            enter=score >= rule.enter,
            exit=score < rule.exit,
            level=max(rule.level, data.level or rule.level, key=lambda level: level.rank),
            value=score,
            details={"factor": rule.factor, "factor_score": score},
        )
    raise TypeError(f"rule {rule.id} ({rule.kind}) is not a country rule")


def _read_rise(
    rule: LevelRiseRule, data: CountryInput, baseline: Mapping[str, Any] | None
) -> Reading | None:
    if data.level is None or data.composite is None:
        return None
    if baseline is None:
        window = list(data.history)[-rule.window_runs :]
        if not window:
            return None  # nothing to rise from yet
        base_composite = min(c for c, _ in window)
        base_level = min((lvl for _, lvl in window), key=lambda level: level.rank)
    else:
        base_composite = float(baseline["composite"])
        base_level = RiskLevel(baseline["level"])
    rise_levels = data.level.rank - base_level.rank
    rise_points = data.composite - base_composite
    entered = data.level >= rule.min_level and (
        (rule.enter_levels is not None and rise_levels >= rule.enter_levels)
        or (rule.enter_points is not None and rise_points >= rule.enter_points)
    )
    exited = (rule.enter_levels is None or rise_levels < rule.exit_levels) and (
        rule.enter_points is None or rise_points < rule.exit_points
    )
    return Reading(
        enter=entered,
        exit=exited,
        level=data.level,
        value=rise_points,
        details={
            "baseline": {"composite": base_composite, "level": base_level.value},
            "rise_levels": rise_levels,
            "rise_points": round(rise_points, 6),
            "composite": data.composite,
        },
    )


def read_source(rule: SourceHealthRule, health: SourceHealth) -> Reading:
    unhealthy = health.state in rule.states
    return Reading(
        enter=unhealthy,
        exit=health.state == "healthy",
        level=rule.level,
        value=None,
        details={"source_id": health.source_id, "state": health.state, "reason": health.reason},
    )
