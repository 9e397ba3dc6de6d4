"""The scoring method itself, vectorised over a whole panel: pure numpy, no database, no HTTP.

Arrays are shaped ``(T, U, I)``: T scoring dates (one for an ordinary run, every year for a
history), U units (countries), I indicators; factors are the 14 risk factors in number order.

indicator value -> (per capita) -> transform -> winsorise -> 0..1 contribution (bounds or
                   percentile against the run or a reference period, direction)
risk factor     =  weighted mean of the contributions of its indicators that have fresh data
composite       =  weighted mean of the scores of the factors that have data and apply
level           =  the highest rung of the ladder whose lower bound the composite reaches

Missing data is NaN throughout and lowers coverage; it never counts as zero risk. Because both
means are weighted means, the composite is exactly a sum of per-indicator terms
``factor_share * indicator_share * contribution``: ``explain`` returns them.

Approved analyst assessments (optional, (T, U, F)) join a factor's weighted mean as one more
term beside its indicators, with the weight-set entry ``assessment.<factor>`` as weight; in an
evidence factor (config/assessments.yaml) without indicator data they are the factor's evidence
at weight ``EVIDENCE_WEIGHT``. Without assessments every array is computed as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from earlywarn.framework.assessment_schema import assessment_weight_factor
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import (
    BoundsNormalisation,
    Direction,
    LevelThresholds,
    Transform,
)
from earlywarn.scoring.evidence import cap_level_codes
from earlywarn.types import RiskLevel

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

FACTOR_NUMBERS = tuple(range(1, 15))
CRIMES = ("genocide", "crimes_against_humanity", "war_crimes")
LEVELS = (RiskLevel.LOW, RiskLevel.CONCERN, RiskLevel.WARNING, RiskLevel.EMERGENCY)
# Weight of an evidence factor's assessments where none of its indicators has data: they are
# then the factor's only terms, so any positive weight gives the same factor score; 1 makes
# the factor's coverage 1 where it has no indicators at all (factors 12 and 14).
EVIDENCE_WEIGHT = 1.0


def _no_factors() -> BoolArray:
    return np.zeros(len(FACTOR_NUMBERS), dtype=bool)


def _zero_weights() -> FloatArray:
    return np.zeros(len(FACTOR_NUMBERS))


def transform_array(transform: Transform, values: FloatArray) -> FloatArray:
    """The transform, NaN outside its domain (the caller reports why)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if transform is Transform.IDENTITY:
            return values
        if transform is Transform.LOG:
            return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
        if transform is Transform.LOG1P:
            return np.where(values > -1, np.log1p(np.where(values > -1, values, 0.0)), np.nan)
        if transform is Transform.SQRT:
            return np.where(values >= 0, np.sqrt(np.where(values >= 0, values, 0.0)), np.nan)
        if transform is Transform.LOG2:
            return np.where(values > 0, np.log2(np.where(values > 0, values, 1.0)), np.nan)
        if transform is Transform.LOG2P:
            return np.where(values > -1, np.log2(1.0 + np.where(values > -1, values, 0.0)), np.nan)
    raise AssertionError(f"unhandled transform {transform}")


def recode_one_of(one_of: Sequence[float] | None, values: FloatArray) -> FloatArray:
    """1 where the value is one of ``one_of``, 0 where it is another number, NaN stays NaN;
    unchanged without ``one_of``."""
    if one_of is None:
        return values
    hit = np.isin(values, np.asarray(one_of, dtype=np.float64)).astype(np.float64)
    return np.where(np.isnan(values), np.nan, hit)


def recode_at_least(at_least: float | None, values: FloatArray) -> FloatArray:
    """1 where the value is at least ``at_least``, else 0, NaN stays NaN; unchanged without."""
    if at_least is None:
        return values
    return np.where(np.isnan(values), np.nan, (values >= at_least).astype(np.float64))


def level_for(composite: float, thresholds: LevelThresholds) -> RiskLevel:
    if composite >= thresholds.emergency:
        return RiskLevel.EMERGENCY
    if composite >= thresholds.warning:
        return RiskLevel.WARNING
    if composite >= thresholds.concern:
        return RiskLevel.CONCERN
    return RiskLevel.LOW


def level_codes(composite: FloatArray, thresholds: LevelThresholds) -> NDArray[np.int8]:
    """Index into ``LEVELS`` per cell, -1 where the composite is NaN (unrated)."""
    codes = np.full(composite.shape, -1, dtype=np.int8)
    rated = ~np.isnan(composite)
    bounds = np.array([thresholds.concern, thresholds.warning, thresholds.emergency])
    codes[rated] = np.searchsorted(bounds, composite[rated], side="right").astype(np.int8)
    return codes


def percentile_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Mid-rank percentile in [0, 1]: the share of others below, ties counting half."""
    keys = list(values)
    ranks = run_percentiles(np.array([[values[k] for k in keys]], dtype=np.float64).T[None])
    return {k: float(ranks[0, n, 0]) for n, k in enumerate(keys)}


def run_percentiles(x: FloatArray) -> FloatArray:
    """Mid-rank percentile of each value among the non-missing values of the same date and
    indicator (axis 1), ties counting half; a lone value is 0.5."""
    order = np.argsort(x, axis=1, kind="stable")  # NaN sort last
    ordered = np.take_along_axis(x, order, axis=1)
    size = x.shape[1]
    positions = np.arange(size).reshape(1, size, 1)
    new_group = np.ones(ordered.shape, dtype=bool)
    new_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.maximum.accumulate(np.where(new_group, positions, 0), axis=1)
    group_end = np.ones(ordered.shape, dtype=bool)
    group_end[:, :-1] = new_group[:, 1:]
    last = np.flip(
        np.minimum.accumulate(np.flip(np.where(group_end, positions, size), axis=1), axis=1),
        axis=1,
    )
    n = np.sum(~np.isnan(x), axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ranked = np.where(n > 1, (first + last) / 2.0 / (n - 1.0), 0.5)
    out = np.empty_like(x)
    np.put_along_axis(out, order, ranked, axis=1)
    return np.where(np.isnan(x), np.nan, out)


def reference_percentiles(reference_sorted: FloatArray, values: FloatArray) -> FloatArray:
    """Share of the reference values below each value, ties counting half."""
    below = np.searchsorted(reference_sorted, values, side="left")
    not_above = np.searchsorted(reference_sorted, values, side="right")
    out = (below + not_above) / (2.0 * len(reference_sorted))
    return np.where(np.isnan(values), np.nan, out)


@dataclass(frozen=True)
class EngineSpec:
    """The configuration compiled into arrays, indicator order as in ``indicator_ids``."""

    indicator_ids: tuple[str, ...]
    factor_index: NDArray[np.intp]  # (I,) 0-based factor of each indicator
    membership: FloatArray  # (I, F) one-hot
    bounds_lower: FloatArray  # (I,) NaN for percentile indicators
    bounds_upper: FloatArray
    run_percentile: BoolArray  # (I,) percentile against the same cross-section
    reference: Mapping[int, FloatArray]  # indicator position -> sorted reference values
    decreases_risk: BoolArray
    winsorise: FloatArray  # (I, 2) quantiles, NaN when not winsorised
    conditional_factors: BoolArray  # (F,) apply only in armed conflict
    crime_of_factor: tuple[str | None, ...]  # (F,)
    min_factors_with_data: int
    levels: LevelThresholds
    min_coverage_for_level: float = 0.0
    # (F,) factors whose assessments are their evidence where no indicator has data
    assessment_evidence: BoolArray = field(default_factory=_no_factors)

    @classmethod
    def from_config(
        cls, config: Configuration, reference: Mapping[str, FloatArray] | None = None
    ) -> EngineSpec:
        indicators = config.indicators.indicators
        n = len(indicators)
        factor_index = np.array([i.risk_factor - 1 for i in indicators], dtype=np.intp)
        membership = np.zeros((n, len(FACTOR_NUMBERS)))
        membership[np.arange(n), factor_index] = 1.0
        lower = np.full(n, np.nan)
        upper = np.full(n, np.nan)
        run_percentile = np.zeros(n, dtype=bool)
        references: dict[int, FloatArray] = {}
        winsorise = np.full((n, 2), np.nan)
        for pos, ind in enumerate(indicators):
            norm = ind.normalisation
            if isinstance(norm, BoundsNormalisation):
                lower[pos], upper[pos] = norm.lower, norm.upper
            elif norm.has_reference_period:
                ref = (reference or {}).get(ind.id)
                if ref is None or len(ref) == 0:
                    # No reference values at all: every value of it is unusable, reported as
                    # missing rather than guessed.
                    references[pos] = np.empty(0)
                else:
                    references[pos] = np.sort(ref[~np.isnan(ref)])
            else:
                run_percentile[pos] = True
            if ind.winsorise is not None:
                winsorise[pos] = (ind.winsorise.lower_quantile, ind.winsorise.upper_quantile)
        conflict = config.scoring.armed_conflict
        conditional = np.zeros(len(FACTOR_NUMBERS), dtype=bool)
        if conflict is not None:
            conditional[[n - 1 for n in conflict.factors]] = True
        crimes = {f.number: f.crime for f in config.framework.risk_factors}
        return cls(
            indicator_ids=tuple(i.id for i in indicators),
            factor_index=factor_index,
            membership=membership,
            bounds_lower=lower,
            bounds_upper=upper,
            run_percentile=run_percentile,
            reference=references,
            decreases_risk=np.array([i.direction is Direction.DECREASES_RISK for i in indicators]),
            winsorise=winsorise,
            conditional_factors=conditional,
            crime_of_factor=tuple(crimes.get(n) for n in FACTOR_NUMBERS),
            min_factors_with_data=config.scoring.min_factors_with_data,
            levels=config.scoring.levels,
            min_coverage_for_level=config.scoring.min_coverage_for_level,
            assessment_evidence=np.isin(
                np.array(FACTOR_NUMBERS), config.assessments.evidence_factors
            ),
        )


def winsorise(spec: EngineSpec, x: FloatArray) -> FloatArray:
    """Clip each winsorised indicator at its quantiles of the same date's cross-section."""
    cols = np.flatnonzero(~np.isnan(spec.winsorise[:, 0]))
    if cols.size == 0:
        return x
    x = x.copy()
    for col in cols:
        block = x[:, :, col]
        has = np.any(~np.isnan(block), axis=1)
        if not has.any():
            continue
        low_q, high_q = spec.winsorise[col]
        low = np.full(block.shape[0], np.nan)
        high = np.full(block.shape[0], np.nan)
        low[has] = np.nanquantile(block[has], low_q, axis=1)
        high[has] = np.nanquantile(block[has], high_q, axis=1)
        x[:, :, col] = np.clip(block, low[:, None], high[:, None])
    return x


def normalise(spec: EngineSpec, x: FloatArray) -> FloatArray:
    """Transformed values (T, U, I) -> contributions in [0, 1], NaN where missing."""
    x = winsorise(spec, x)
    with np.errstate(invalid="ignore"):
        c = np.clip((x - spec.bounds_lower) / (spec.bounds_upper - spec.bounds_lower), 0.0, 1.0)
    if spec.run_percentile.any():
        cols = np.flatnonzero(spec.run_percentile)
        c[:, :, cols] = run_percentiles(x[:, :, cols])
    for col, ref in spec.reference.items():
        c[:, :, col] = (
            reference_percentiles(ref, x[:, :, col]) if len(ref) else np.full(x.shape[:2], np.nan)
        )
    flip = spec.decreases_risk
    if flip.any():
        c[:, :, flip] = 1.0 - c[:, :, flip]
    return c


@dataclass(frozen=True)
class Weights:
    """Indicator weights (I,) and factor weights (F,), in the spec's order; the weight of each
    factor's analyst assessments beside its indicators (F,), 0 unless the weight set says."""

    indicator: FloatArray
    factor: FloatArray
    assessment: FloatArray = field(default_factory=_zero_weights)

    @classmethod
    def from_maps(
        cls,
        spec: EngineSpec,
        indicator_weights: Mapping[str, float],
        factor_weights: Mapping[int, float],
        *,
        default_indicator_weights: Mapping[str, float] | None = None,
    ) -> Weights:
        defaults = default_indicator_weights or {}
        return cls(
            indicator=np.array(
                [float(indicator_weights.get(i, defaults.get(i, 1.0))) for i in spec.indicator_ids]
            ),
            factor=np.array([float(factor_weights.get(n, 1.0)) for n in FACTOR_NUMBERS]),
            assessment=assessment_weights_of(indicator_weights),
        )


def assessment_weights_of(indicator_weights: Mapping[str, float]) -> FloatArray:
    """The ``assessment.<factor>`` entries of a weight set's indicator weights (F,), 0 when
    absent."""
    out = _zero_weights()
    for key, value in indicator_weights.items():
        number = assessment_weight_factor(key)
        if number is not None:
            out[number - 1] = float(value)
    return out


@dataclass(frozen=True)
class Aggregate:
    """Factor scores and the composite for every (date, unit), with what is needed to explain
    them. ``factor_share`` is each factor's weight in the composite (0 when it is not rated);
    ``indicator_share`` each indicator's weight in its factor (0 when it has no data)."""

    factor_score: FloatArray  # (T, U, F), NaN without data
    factor_coverage: FloatArray  # (T, U, F), share of the factor's indicator weight with data
    applicable: BoolArray  # (T, U, F)
    rated: BoolArray  # (T, U, F)
    factors_with_data: NDArray[np.int64]  # (T, U)
    composite: FloatArray  # (T, U), NaN when unrated
    coverage: FloatArray  # (T, U)
    level: NDArray[np.int8]  # (T, U), index into LEVELS, -1 unrated
    factor_share: FloatArray  # (T, U, F)
    crime_score: FloatArray  # (T, U, 3) in CRIMES order, NaN without data
    # (T, U, F) weight of the factor's assessments in its mean; None in a run without them
    assessment_weight: FloatArray | None = None


def assessment_weight(
    spec: EngineSpec, weights: Weights, assessments: FloatArray, indicator_weight: FloatArray
) -> FloatArray:
    """The weight of each (date, unit, factor)'s assessments: the weight set's blend weight,
    or ``EVIDENCE_WEIGHT`` in an evidence factor none of whose indicators has data (whose
    ``indicator_weight`` with data is 0); 0 without assessments."""
    blend = np.broadcast_to(weights.assessment, assessments.shape)
    fills_gap = spec.assessment_evidence & (indicator_weight <= 0)
    weight = np.where(blend > 0, blend, np.where(fills_gap, EVIDENCE_WEIGHT, 0.0))
    return np.where(np.isnan(assessments), 0.0, weight)


def aggregate(
    spec: EngineSpec,
    contributions: FloatArray,
    weights: Weights,
    armed_conflict: NDArray[np.int8] | None = None,
    *,
    applicable: BoolArray | None = None,
    assessments: FloatArray | None = None,
) -> Aggregate:
    """Weighted means over a whole panel: two matrix products, no per-country loop.

    ``armed_conflict`` (T, U) is 1 in armed conflict, 0 not, -1 unknown; the conditional
    factors apply only where it is 1. ``applicable`` (T, U, F) gives the same directly (when
    re-scoring stored contributions). ``assessments`` (T, U, F) are the confidence-weighted
    means of the approved assessments, NaN where there are none; where armed conflict is
    unknown, an assessment of a conditional factor makes it apply (the analyst's judgement is
    the evidence that data lacks).
    """
    present = ~np.isnan(contributions)
    w = weights.indicator
    weighted = np.where(present, contributions, 0.0) * w
    numerator = weighted @ spec.membership  # (T, U, F)
    denominator = (present * w) @ spec.membership
    total = w @ spec.membership  # (F,)
    a_weight: FloatArray | None = None
    if assessments is not None:
        a_weight = assessment_weight(spec, weights, assessments, denominator)
        numerator = numerator + a_weight * np.nan_to_num(assessments)
        denominator = denominator + a_weight
        total = total + a_weight  # (T, U, F): an assessment never counts as missing data
    with np.errstate(invalid="ignore", divide="ignore"):
        factor_score = np.where(denominator > 0, numerator / denominator, np.nan)
        factor_coverage = np.where(total > 0, denominator / np.where(total > 0, total, 1.0), 0.0)

    shape = factor_score.shape
    if applicable is not None:
        applicable = np.broadcast_to(applicable, shape)
    elif armed_conflict is None or not spec.conditional_factors.any():
        applicable = np.ones(shape, dtype=bool)
    else:
        in_conflict = (armed_conflict == 1)[..., None]
        if a_weight is not None:
            in_conflict = in_conflict | ((armed_conflict == -1)[..., None] & (a_weight > 0))
        applicable = np.where(spec.conditional_factors, in_conflict, True)
    g = weights.factor
    counted = applicable & (g > 0)
    rated = counted & (denominator > 0)
    factors_with_data = rated.sum(axis=2)
    rated_weight = np.where(rated, g, 0.0)
    g_sum = rated_weight.sum(axis=2)
    enough = (factors_with_data >= spec.min_factors_with_data) & (g_sum > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor_share = np.where(enough[..., None], rated_weight / g_sum[..., None], 0.0)
    composite = np.where(enough, np.sum(factor_share * np.nan_to_num(factor_score), axis=2), np.nan)

    counted_weight = np.where(counted, g, 0.0)
    counted_sum = counted_weight.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(
            counted_sum > 0, (counted_weight * factor_coverage).sum(axis=2) / counted_sum, 0.0
        )
    crime_score = np.full((*shape[:2], len(CRIMES)), np.nan)
    for k, crime in enumerate(CRIMES):
        cols = [f for f, c in enumerate(spec.crime_of_factor) if c == crime]
        cw = rated_weight[..., cols]
        s = cw.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            crime_score[..., k] = np.where(
                s > 0, (cw * np.nan_to_num(factor_score[..., cols])).sum(axis=2) / s, np.nan
            )
    return Aggregate(
        factor_score=factor_score,
        factor_coverage=factor_coverage,
        applicable=applicable,
        rated=rated,
        factors_with_data=factors_with_data,
        composite=composite,
        coverage=coverage,
        level=cap_level_codes(
            level_codes(composite, spec.levels), coverage, spec.min_coverage_for_level
        ),
        factor_share=factor_share,
        crime_score=crime_score,
        assessment_weight=a_weight,
    )


def indicator_terms(
    spec: EngineSpec, contributions: FloatArray, weights: Weights, agg: Aggregate
) -> FloatArray:
    """Each indicator's term in the composite (T, U, I): factor share x indicator share x
    contribution. They sum, per (date, unit), to the composite (0 terms when unrated)."""
    present = ~np.isnan(contributions)
    w = weights.indicator
    denominator = (present * w) @ spec.membership  # (T, U, F)
    if agg.assessment_weight is not None:
        denominator = denominator + agg.assessment_weight
    per_factor = np.divide(
        agg.factor_share, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    share = per_factor[..., spec.factor_index] * np.where(present, w, 0.0)
    return share * np.where(present, contributions, 0.0)


def assessment_terms(
    spec: EngineSpec,
    contributions: FloatArray,
    weights: Weights,
    agg: Aggregate,
    assessments: FloatArray,
) -> FloatArray:
    """Each factor's assessments' term in the composite (T, U, F): factor share x their share
    of the factor x their mean score. With ``indicator_terms`` they sum to the composite."""
    if agg.assessment_weight is None:
        return np.zeros(agg.factor_share.shape)
    present = ~np.isnan(contributions)
    denominator = (present * weights.indicator) @ spec.membership + agg.assessment_weight
    per_factor = np.divide(
        agg.factor_share, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return per_factor * agg.assessment_weight * np.nan_to_num(assessments)


def points_to(crime_score: Sequence[float], thresholds: LevelThresholds) -> list[str]:
    """The crimes whose specific factors reach the 'concern' rung, strongest first."""
    found = [
        (score, crime)
        for crime, score in zip(CRIMES, crime_score, strict=True)
        if not np.isnan(score) and score >= thresholds.concern
    ]
    return [crime for _, crime in sorted(found, key=lambda pair: (-pair[0], pair[1]))]


def points_to_rows(crime_scores: FloatArray, thresholds: LevelThresholds) -> list[list[str]]:
    """``points_to`` of every row of ``crime_scores`` (N, crimes), sorted in numpy: a history
    asks for 13,000 of them."""
    scores = np.asarray(crime_scores, dtype=np.float64).reshape(-1, len(CRIMES))
    with np.errstate(invalid="ignore"):
        reached = ~np.isnan(scores) & (scores >= thresholds.concern)
    by_name = np.argsort(np.argsort(CRIMES))  # each crime's rank by name (the tie-break)
    order = np.lexsort(
        (np.broadcast_to(by_name, scores.shape), -np.nan_to_num(scores, nan=-np.inf)), axis=-1
    )
    taken = np.take_along_axis(reached, order, axis=-1)
    # Few distinct outcomes: one list per (order, reached) pattern.
    patterns: dict[tuple[int, ...], list[str]] = {}
    out: list[list[str]] = []
    for row_order, row_taken in zip(order.tolist(), taken.tolist(), strict=True):
        key = (*row_order, *row_taken)
        if key not in patterns:
            patterns[key] = [CRIMES[j] for j, t in zip(row_order, row_taken, strict=True) if t]
        out.append(patterns[key])
    return out
