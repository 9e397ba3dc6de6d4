"""The scoring method itself: pure functions, no database, no HTTP.

indicator value -> transform -> 0..1 risk contribution (bounds or percentile, direction)
risk factor     =  weighted mean of the contributions of its indicators that have fresh data
composite       =  weighted mean of the factor scores of the factors that have data
level           =  the highest rung of the ladder whose lower bound the composite reaches

Coverage is reported at every step so that a reader can tell a low score from missing data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from earlywarn.framework.config import Configuration
from earlywarn.framework.schemas import (
    BoundsNormalisation,
    Direction,
    IndicatorConfig,
    LevelThresholds,
    Transform,
)
from earlywarn.observations.schemas import LatestValue
from earlywarn.types import RiskLevel


@dataclass(frozen=True)
class IndicatorScore:
    indicator_id: str
    name: str
    variable: str
    weight: float
    value: float | None = None
    period: str | None = None
    age_days: int | None = None
    source_id: str | None = None
    ingest_run_id: int | None = None
    contribution: float | None = None  # 0..1, None when missing, stale or unusable
    missing_reason: str | None = None


@dataclass(frozen=True)
class FactorScore:
    number: int
    name: str
    weight: float
    score: float | None
    coverage: float  # share of the factor's indicator weight that had usable data
    indicators: list[IndicatorScore] = field(default_factory=list)


@dataclass(frozen=True)
class CountryResult:
    iso3: str
    composite: float | None
    level: RiskLevel | None
    coverage: float  # factor-weighted share of all indicator weight that had usable data
    factors_with_data: int
    factors: list[FactorScore]

    def summary(self) -> dict[str, Any]:
        """The per-factor scores without the indicators, for ranked lists."""
        return {
            "factors_with_data": self.factors_with_data,
            "factors": [
                {"number": f.number, "name": f.name, "score": f.score, "coverage": f.coverage}
                for f in self.factors
            ],
        }

    def breakdown(self) -> dict[str, Any]:
        """The JSON stored with the score: every factor with every indicator."""
        return {
            "factors_with_data": self.factors_with_data,
            "factors": [asdict(f) for f in self.factors],
        }


def transform_value(transform: Transform, value: float) -> float | None:
    if transform is Transform.IDENTITY:
        return value
    if transform is Transform.LOG1P:
        return math.log1p(value) if value > -1 else None
    if transform is Transform.SQRT:
        return math.sqrt(value) if value >= 0 else None
    raise AssertionError(f"unhandled transform {transform}")


def bounds_contribution(normalisation: BoundsNormalisation, transformed: float) -> float:
    span = normalisation.upper - normalisation.lower
    return min(1.0, max(0.0, (transformed - normalisation.lower) / span))


def percentile_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Mid-rank percentile in [0, 1]: the share of others below, ties counting half."""
    if len(values) == 1:
        return dict.fromkeys(values, 0.5)
    ordered = sorted(values.values())
    ranks: dict[str, float] = {}
    for key, value in values.items():
        below = _count_below(ordered, value)
        equal = _count_below(ordered, math.nextafter(value, math.inf)) - below
        ranks[key] = (below + (equal - 1) / 2) / (len(ordered) - 1)
    return ranks


def _count_below(ordered: Sequence[float], value: float) -> int:
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def level_for(composite: float, thresholds: LevelThresholds) -> RiskLevel:
    if composite >= thresholds.emergency:
        return RiskLevel.EMERGENCY
    if composite >= thresholds.warning:
        return RiskLevel.WARNING
    if composite >= thresholds.concern:
        return RiskLevel.CONCERN
    return RiskLevel.LOW


def _usable_values(
    indicator: IndicatorConfig, values: Iterable[LatestValue], as_of: date, weight: float
) -> tuple[dict[str, tuple[IndicatorScore, float]], dict[str, IndicatorScore]]:
    """Per country, the observation (without its contribution yet) and its transformed value;
    and, for each country left out, the observation with the reason."""
    usable: dict[str, tuple[IndicatorScore, float]] = {}
    rejected: dict[str, IndicatorScore] = {}
    for obs in values:
        age_days = max(0, (as_of - obs.period_end).days)
        observed = IndicatorScore(
            indicator_id=indicator.id,
            name=indicator.name,
            variable=indicator.variable,
            weight=weight,
            value=obs.value,
            period=obs.period,
            age_days=age_days,
            source_id=obs.source_id,
            ingest_run_id=obs.ingest_run_id,
        )
        if age_days > indicator.max_age_days:
            reason = f"stale: {age_days} days old, limit {indicator.max_age_days}"
            rejected[obs.iso3] = replace(observed, missing_reason=reason)
            continue
        transformed = transform_value(indicator.transform, obs.value)
        if transformed is None or not math.isfinite(transformed):
            reason = f"value {obs.value} outside the domain of {indicator.transform.value}"
            rejected[obs.iso3] = replace(observed, missing_reason=reason)
            continue
        usable[obs.iso3] = (observed, transformed)
    return usable, rejected


def score_countries(
    config: Configuration,
    latest: Iterable[LatestValue],
    *,
    as_of: date,
    indicator_weights: Mapping[str, float],
    factor_weights: Mapping[int, float],
) -> list[CountryResult]:
    """Score every country that has at least one observation of a configured variable."""
    by_variable: dict[str, list[LatestValue]] = defaultdict(list)
    for obs in latest:
        by_variable[obs.variable].append(obs)

    # indicator id -> iso3 -> IndicatorScore (with or without a contribution)
    per_indicator: dict[str, dict[str, IndicatorScore]] = {}
    countries: set[str] = set()
    for indicator in config.indicators.indicators:
        weight = indicator_weights.get(indicator.id, indicator.weight)
        usable, rejected = _usable_values(
            indicator, by_variable.get(indicator.variable, []), as_of, weight
        )
        countries.update(usable, rejected)
        if isinstance(indicator.normalisation, BoundsNormalisation):
            norm = indicator.normalisation
            raw = {iso3: bounds_contribution(norm, t) for iso3, (_, t) in usable.items()}
        else:
            raw = percentile_ranks({iso3: t for iso3, (_, t) in usable.items()})
        scores = dict(rejected)
        for iso3, (observed, _) in usable.items():
            contribution = raw[iso3]
            if indicator.direction is Direction.DECREASES_RISK:
                contribution = 1.0 - contribution
            scores[iso3] = replace(observed, contribution=round(contribution, 6))
        per_indicator[indicator.id] = scores

    return [
        _score_country(config, iso3, per_indicator, indicator_weights, factor_weights)
        for iso3 in sorted(countries)
    ]


def _score_country(
    config: Configuration,
    iso3: str,
    per_indicator: Mapping[str, Mapping[str, IndicatorScore]],
    indicator_weights: Mapping[str, float],
    factor_weights: Mapping[int, float],
) -> CountryResult:
    factors: list[FactorScore] = []
    for factor in config.framework.risk_factors:
        entries: list[IndicatorScore] = []
        for indicator in config.indicators_for(factor.number):
            weight = indicator_weights.get(indicator.id, indicator.weight)
            entries.append(
                per_indicator[indicator.id].get(iso3)
                or IndicatorScore(
                    indicator_id=indicator.id,
                    name=indicator.name,
                    variable=indicator.variable,
                    weight=weight,
                    missing_reason="no observation",
                )
            )
        total_weight = sum(e.weight for e in entries)
        present = [e for e in entries if e.contribution is not None]
        present_weight = sum(e.weight for e in present)
        score = (
            sum(e.weight * (e.contribution or 0.0) for e in present) / present_weight
            if present_weight > 0
            else None
        )
        factors.append(
            FactorScore(
                number=factor.number,
                name=factor.name,
                weight=factor_weights.get(factor.number, 1.0),
                score=None if score is None else round(score, 6),
                coverage=round(present_weight / total_weight, 6) if total_weight else 0.0,
                indicators=entries,
            )
        )

    rated = [f for f in factors if f.score is not None and f.weight > 0]
    weight_sum = sum(f.weight for f in factors if f.weight > 0)
    coverage = sum(f.weight * f.coverage for f in factors if f.weight > 0) / weight_sum
    composite: float | None = None
    level: RiskLevel | None = None
    if len(rated) >= config.scoring.min_factors_with_data:
        composite = round(
            sum(f.weight * (f.score or 0.0) for f in rated) / sum(f.weight for f in rated), 6
        )
        level = level_for(composite, config.scoring.levels)
    return CountryResult(
        iso3=iso3,
        composite=composite,
        level=level,
        coverage=round(coverage, 6),
        factors_with_data=len(rated),
        factors=factors,
    )
