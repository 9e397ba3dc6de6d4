"""A scored panel, and the per-country results read out of it (what is stored and explained)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from earlywarn.assessments.service import CountedAssessment
from earlywarn.framework.config import Configuration
from earlywarn.observations.schemas import LatestValue
from earlywarn.scoring import panel as panel_module
from earlywarn.scoring.assessed import AssessmentPanel, assessment_panel, stored_terms
from earlywarn.scoring.engine import (
    CRIMES,
    FACTOR_NUMBERS,
    LEVELS,
    Aggregate,
    EngineSpec,
    FloatArray,
    Weights,
    aggregate,
    assessment_terms,
    indicator_terms,
    normalise,
    points_to,
)
from earlywarn.scoring.evidence import insufficient_data_reason
from earlywarn.scoring.panel import ObservationTable, PanelInputs, build_inputs
from earlywarn.types import RiskLevel


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@dataclass(frozen=True)
class IndicatorScore:
    indicator_id: str
    name: str
    variable: str  # the variable the value came from (the preferred one or a fallback)
    weight: float
    value: float | None = None  # as observed, before per capita and transform
    transformed: float | None = None  # on the indicator's common scale
    period: str | None = None
    age_days: int | None = None
    source_id: str | None = None
    ingest_run_id: int | None = None
    fallback: bool = False
    contribution: float | None = None  # 0..1, None when missing, stale or unusable
    composite_term: float = 0.0  # this indicator's part of the composite
    missing_reason: str | None = None


@dataclass(frozen=True)
class FactorScore:
    number: int
    name: str
    weight: float
    score: float | None
    coverage: float  # share of the factor's indicator weight that had usable data
    applicable: bool = True
    crime: str | None = None
    composite_term: float = 0.0  # this factor's part of the composite
    indicators: list[IndicatorScore] = field(default_factory=list)
    # Approved analyst assessments counted in the factor (scoring.assessed.stored_terms):
    # {"assessment_weight": w, "assessments": [...]}; empty, and not stored, without any.
    assessed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CountryResult:
    iso3: str
    composite: float | None
    level: RiskLevel | None
    coverage: float  # factor-weighted share of all indicator weight that had usable data
    factors_with_data: int
    factors: list[FactorScore]
    armed_conflict: bool | None = None
    crimes: dict[str, float | None] = field(default_factory=dict)
    points_to: list[str] = field(default_factory=list)
    # Why the evidence is too thin for a level above 'concern' (scoring.evidence), or None.
    insufficient_data: str | None = None

    def summary(self) -> dict[str, Any]:
        """The per-factor scores without the indicators, for ranked lists."""
        return {
            "factors_with_data": self.factors_with_data,
            "armed_conflict": self.armed_conflict,
            "points_to": self.points_to,
            "factors": [
                {"number": f.number, "name": f.name, "score": f.score, "coverage": f.coverage}
                for f in self.factors
            ],
        }

    def breakdown(self) -> dict[str, Any]:
        """The JSON stored with the score: every factor with every indicator."""
        return {
            "factors_with_data": self.factors_with_data,
            "armed_conflict": self.armed_conflict,
            "crimes": self.crimes,
            "points_to": self.points_to,
            "factors": [_factor_dict(f) for f in self.factors],
        }


def _factor_dict(factor: FactorScore) -> dict[str, Any]:
    """A factor as stored: its assessments beside its indicators when it has any, so that a
    run without assessments stores what it stored before they existed."""
    out = asdict(factor)
    out.pop("assessed")
    out.update(factor.assessed)
    return out


@dataclass(frozen=True)
class ScoredPanel:
    config: Configuration
    spec: EngineSpec
    weights: Weights
    inputs: PanelInputs
    table: ObservationTable
    contributions: FloatArray
    agg: Aggregate
    terms: FloatArray
    assessments: AssessmentPanel | None = None
    assessment_terms: FloatArray | None = None  # (T, U, F)

    def _assessed(self, t: int, u: int, f: int) -> dict[str, Any]:
        if self.assessments is None or self.agg.assessment_weight is None:
            return {}
        members = self.assessments.members.get((t, u, f))
        if not members or self.assessment_terms is None:
            return {}
        return stored_terms(
            members,
            float(self.assessment_terms[t, u, f]),
            float(self.agg.assessment_weight[t, u, f]),
        )

    def rows_for(self, t: int) -> list[int]:
        """Units with at least one observation of an indicator variable at date ``t``."""
        has = (self.inputs.row[t] >= 0).any(axis=1)
        return [int(u) for u in np.flatnonzero(has)]

    def country(self, t: int, u: int) -> CountryResult:
        config, agg, inputs, table = self.config, self.agg, self.inputs, self.table
        factor_names = {f.number: f.name for f in config.framework.risk_factors}
        by_factor: dict[int, list[IndicatorScore]] = {n: [] for n in FACTOR_NUMBERS}
        for col, ind in enumerate(config.indicators.indicators):
            row = int(inputs.row[t, u, col])
            code = int(inputs.reason[t, u, col])
            contribution = _num(self.contributions[t, u, col])
            position = int(inputs.source_position[t, u, col])
            age = int(inputs.age_days[t, u, col])
            variable = ind.variables[position] if position >= 0 else ind.variable
            raw = float(table.value[row]) if row >= 0 else None
            reason: str | None = None
            if code == panel_module.NO_OBSERVATION:
                reason = "no observation"
            elif code == panel_module.STALE:
                reason = f"stale: {age} days old, limit {ind.max_age_days}"
            elif code == panel_module.NO_POPULATION:
                reason = "no fresh population value for the per-capita rate"
            elif code == panel_module.OUT_OF_DOMAIN:
                source = ind.transform if position <= 0 else ind.fallbacks[position - 1].transform
                reason = f"value {raw} outside the domain of {source.value}"
            elif contribution is None:
                reason = "no reference values for the percentile"
            by_factor[ind.risk_factor].append(
                IndicatorScore(
                    indicator_id=ind.id,
                    name=ind.name,
                    variable=variable,
                    weight=float(self.weights.indicator[col]),
                    value=raw,
                    transformed=_num(inputs.value[t, u, col]),
                    period=table.periods[table.period[row]] if row >= 0 else None,
                    age_days=age if row >= 0 else None,
                    source_id=table.sources[table.source[row]] if row >= 0 else None,
                    ingest_run_id=int(table.ingest_run_id[row]) if row >= 0 else None,
                    fallback=position > 0,
                    contribution=contribution,
                    composite_term=float(self.terms[t, u, col]),
                    missing_reason=reason,
                )
            )
        factors = [
            FactorScore(
                number=n,
                name=factor_names[n],
                weight=float(self.weights.factor[f]),
                score=_num(agg.factor_score[t, u, f]),
                coverage=float(agg.factor_coverage[t, u, f]),
                applicable=bool(agg.applicable[t, u, f]),
                crime=self.spec.crime_of_factor[f],
                composite_term=float(
                    agg.factor_share[t, u, f] * np.nan_to_num(agg.factor_score[t, u, f])
                ),
                indicators=by_factor[n],
                assessed=self._assessed(t, u, f),
            )
            for f, n in enumerate(FACTOR_NUMBERS)
        ]
        level_code = int(agg.level[t, u])
        conflict = int(inputs.armed_conflict[t, u])
        crime_scores = [float(v) for v in agg.crime_score[t, u]]
        return CountryResult(
            iso3=inputs.units[u],
            composite=_num(agg.composite[t, u]),
            level=LEVELS[level_code] if level_code >= 0 else None,
            coverage=float(agg.coverage[t, u]),
            factors_with_data=int(agg.factors_with_data[t, u]),
            factors=factors,
            armed_conflict=None if conflict < 0 else bool(conflict),
            crimes={c: _num(s) for c, s in zip(CRIMES, crime_scores, strict=True)},
            points_to=points_to(crime_scores, config.scoring.levels),
            insufficient_data=insufficient_data_reason(
                _num(agg.composite[t, u]),
                float(agg.coverage[t, u]),
                self.spec.min_coverage_for_level,
                config.scoring.levels,
            ),
        )

    def results(self, t: int) -> list[CountryResult]:
        return [self.country(t, u) for u in self.rows_for(t)]


def score_panel(
    config: Configuration,
    table: ObservationTable,
    as_of: Sequence[date],
    weights: Weights,
    *,
    reference: Mapping[str, FloatArray] | None = None,
    assessments: Sequence[CountedAssessment] = (),
) -> ScoredPanel:
    """Score the panel; ``assessments`` (approved, any validity) count on the dates they are
    valid."""
    spec = EngineSpec.from_config(config, reference)
    inputs = build_inputs(config, table, as_of)
    contributions = normalise(spec, inputs.value)
    assessed = assessment_panel(inputs.units, list(as_of), assessments)
    scores = None if assessed is None else assessed.scores
    agg = aggregate(spec, contributions, weights, inputs.armed_conflict, assessments=scores)
    terms = indicator_terms(spec, contributions, weights, agg)
    a_terms = (
        None if scores is None else assessment_terms(spec, contributions, weights, agg, scores)
    )
    return ScoredPanel(
        config, spec, weights, inputs, table, contributions, agg, terms, assessed, a_terms
    )


def score_countries(
    config: Configuration,
    latest: Iterable[LatestValue],
    *,
    as_of: date,
    indicator_weights: Mapping[str, float],
    factor_weights: Mapping[int, float],
    reference: Mapping[str, FloatArray] | None = None,
) -> list[CountryResult]:
    """Score every country that has at least one observation of an indicator's variable."""
    latest = list(latest)
    wanted = panel_module.indicator_variables(config)
    units = sorted({v.iso3 for v in latest if v.variable in wanted})
    table = ObservationTable.from_latest(latest, units=units)
    spec = EngineSpec.from_config(config, reference)
    defaults = {i.id: i.weight for i in config.indicators.indicators}
    weights = Weights.from_maps(
        spec, indicator_weights, factor_weights, default_indicator_weights=defaults
    )
    scored = score_panel(config, table, [as_of], weights, reference=reference)
    return scored.results(0)
