"""Explanations from stored scores: exact contributions, re-scoring under other weights, and
what changed between two runs.

Indicator contributions (0..1) do not depend on weights, so a stored breakdown can be scored
again under any weight set without reading the observations: that is how history is shown
under another weight set, how a weight change is previewed, and how a change in the composite
is split into data and weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from earlywarn.framework.config import Configuration
from earlywarn.scoring import assessed as assessed_module
from earlywarn.scoring.engine import (
    CRIMES,
    FACTOR_NUMBERS,
    LEVELS,
    Aggregate,
    BoolArray,
    EngineSpec,
    FloatArray,
    Weights,
    aggregate,
    assessment_terms,
    indicator_terms,
)
from earlywarn.types import RiskLevel


def stored_inputs(spec: EngineSpec, breakdown: dict[str, Any]) -> tuple[FloatArray, BoolArray]:
    """A stored breakdown's indicator contributions (I,) in the spec's order (NaN missing) and
    which factors applied (F,). Reads both the full and the column form."""
    position = {i: n for n, i in enumerate(spec.indicator_ids)}
    contributions = np.full(len(spec.indicator_ids), np.nan)
    applicable = np.ones(len(FACTOR_NUMBERS), dtype=bool)
    if breakdown.get("format") == "columns":
        for indicator_id, value in zip(
            breakdown["indicator_ids"], breakdown["contribution"], strict=True
        ):
            if indicator_id in position and value is not None:
                contributions[position[indicator_id]] = value
        applicable[:] = breakdown["factor_applicable"]
        return contributions, applicable
    for factor in breakdown["factors"]:
        applicable[factor["number"] - 1] = factor.get("applicable", True)
        for ind in factor["indicators"]:
            if ind["indicator_id"] in position and ind["contribution"] is not None:
                contributions[position[ind["indicator_id"]]] = ind["contribution"]
    return contributions, applicable


@dataclass(frozen=True)
class Rescored:
    """Stored contributions of several countries scored under one weight set (T = 1)."""

    units: list[str]
    weights: Weights
    contributions: FloatArray  # (1, U, I)
    agg: Aggregate
    terms: FloatArray  # (1, U, I)
    assessment_terms: FloatArray | None = None  # (1, U, F), None without assessments
    assessment_items: tuple[dict[int, list[dict[str, Any]]], ...] = ()  # per unit, by factor

    def composite(self, u: int) -> float | None:
        value = float(self.agg.composite[0, u])
        return None if math.isnan(value) else value

    def level(self, u: int) -> RiskLevel | None:
        code = int(self.agg.level[0, u])
        return LEVELS[code] if code >= 0 else None

    def levels(self) -> dict[str, RiskLevel | None]:
        return {iso3: self.level(u) for u, iso3 in enumerate(self.units)}

    def ranks(self) -> dict[str, int]:
        """1 = highest composite; unrated countries have no rank."""
        rated = [(self.composite(u), iso3) for u, iso3 in enumerate(self.units)]
        ordered = sorted(((-c, iso3) for c, iso3 in rated if c is not None))
        return {iso3: n + 1 for n, (_, iso3) in enumerate(ordered)}


def rescore(
    spec: EngineSpec, units: Sequence[str], breakdowns: Sequence[dict[str, Any]], weights: Weights
) -> Rescored:
    contributions = np.full((1, len(units), len(spec.indicator_ids)), np.nan)
    applicable = np.ones((1, len(units), len(FACTOR_NUMBERS)), dtype=bool)
    assessed = np.full((1, len(units), len(FACTOR_NUMBERS)), np.nan)
    any_assessed = False
    for u, breakdown in enumerate(breakdowns):
        contributions[0, u], applicable[0, u] = stored_inputs(spec, breakdown)
        stored = assessed_module.stored_scores(breakdown)
        if stored is not None:
            assessed[0, u], any_assessed = stored, True
    scores = assessed if any_assessed else None
    agg = aggregate(spec, contributions, weights, applicable=applicable, assessments=scores)
    terms = indicator_terms(spec, contributions, weights, agg)
    if scores is None:
        return Rescored(list(units), weights, contributions, agg, terms)
    return Rescored(
        list(units),
        weights,
        contributions,
        agg,
        terms,
        assessment_terms(spec, contributions, weights, agg, scores),
        tuple(assessed_module.stored_items(b) for b in breakdowns),
    )


def _maybe(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def explanation(config: Configuration, rescored: Rescored, u: int) -> dict[str, Any]:
    """Factor and indicator terms that add up to the composite (each factor's term is the sum
    of its indicators' terms). Missing indicators and factors that do not count have term 0."""
    agg, spec = rescored.agg, EngineSpec.from_config(config)
    names = {i.id: i.name for i in config.indicators.indicators}
    factor_names = {f.number: f.name for f in config.framework.risk_factors}
    factors: list[dict[str, Any]] = []
    assessment_sum = 0.0
    for f, number in enumerate(FACTOR_NUMBERS):
        assessed = _assessment_terms(rescored, u, f, number)
        assessment_sum += math.fsum(a["term"] for a in assessed)
        cols = np.flatnonzero(spec.factor_index == f)
        factor_indicators = [
            {
                "indicator_id": spec.indicator_ids[col],
                "name": names.get(spec.indicator_ids[col], spec.indicator_ids[col]),
                "weight": float(rescored.weights.indicator[col]),
                "contribution": _maybe(rescored.contributions[0, u, col]),
                "term": float(rescored.terms[0, u, col]),
            }
            for col in cols
        ]
        factors.append(
            {
                "number": number,
                "name": factor_names[number],
                "weight": float(rescored.weights.factor[f]),
                "applicable": bool(agg.applicable[0, u, f]),
                "share": float(agg.factor_share[0, u, f]),
                "score": _maybe(agg.factor_score[0, u, f]),
                "term": float(agg.factor_share[0, u, f] * np.nan_to_num(agg.factor_score[0, u, f])),
                "indicators": factor_indicators,
                "assessment_weight": (
                    0.0 if agg.assessment_weight is None else float(agg.assessment_weight[0, u, f])
                ),
                "assessments": assessed,
            }
        )
    return {
        "composite": rescored.composite(u),
        "level": rescored.level(u),
        "sum_of_factor_terms": math.fsum(f["term"] for f in factors),
        "sum_of_indicator_terms": math.fsum(i["term"] for f in factors for i in f["indicators"]),
        "sum_of_assessment_terms": assessment_sum,
        "factors": factors,
    }


def _assessment_terms(rescored: Rescored, u: int, f: int, number: int) -> list[dict[str, Any]]:
    """The factor's stored assessments, each with its term under the rescored weights."""
    if rescored.assessment_terms is None or not rescored.assessment_items:
        return []
    items = rescored.assessment_items[u].get(number, [])
    terms = assessed_module.split_term(
        float(rescored.assessment_terms[0, u, f]), [(i["share"], i["score"]) for i in items]
    )
    return [
        {k: v for k, v in item.items() if k != "composite_term"} | {"term": term}
        for item, term in zip(items, terms, strict=True)
    ]


def change(
    config: Configuration,
    spec: EngineSpec,
    iso3: str,
    previous: tuple[dict[str, Any], Weights] | None,
    current: tuple[dict[str, Any], Weights],
) -> dict[str, Any]:
    """The change in one country's composite from the previous score to the current one, split
    into data changes per risk factor (both scored under the previous weights) and the effect
    of the weights (current data, previous weights -> current weights). The parts add up to
    the change whenever both scores are rated."""
    current_breakdown, current_weights = current
    now = rescore(spec, [iso3], [current_breakdown], current_weights)
    out: dict[str, Any] = {
        "iso3": iso3,
        "composite": now.composite(0),
        "level": now.level(0),
        "previous_composite": None,
        "previous_level": None,
        "change": None,
        "weights_change": None,
        "data_change": None,
        "data_change_by_factor": [],
    }
    if previous is None:
        return out
    previous_breakdown, previous_weights = previous
    before = rescore(spec, [iso3], [previous_breakdown], previous_weights)
    mixed = rescore(spec, [iso3], [current_breakdown], previous_weights)
    out["previous_composite"] = before.composite(0)
    out["previous_level"] = before.level(0)
    old, mid, new = before.composite(0), mixed.composite(0), now.composite(0)
    if old is None or mid is None or new is None:
        return out
    out["change"] = new - old
    out["weights_change"] = new - mid
    out["data_change"] = mid - old
    factor_names = {f.number: f.name for f in config.framework.risk_factors}
    by_factor: list[dict[str, Any]] = []
    for f, number in enumerate(FACTOR_NUMBERS):
        term_before = float(
            before.agg.factor_share[0, 0, f] * np.nan_to_num(before.agg.factor_score[0, 0, f])
        )
        term_after = float(
            mixed.agg.factor_share[0, 0, f] * np.nan_to_num(mixed.agg.factor_score[0, 0, f])
        )
        by_factor.append(
            {
                "number": number,
                "name": factor_names[number],
                "score_before": _maybe(before.agg.factor_score[0, 0, f]),
                "score_after": _maybe(mixed.agg.factor_score[0, 0, f]),
                "term_before": term_before,
                "term_after": term_after,
                "change": term_after - term_before,
            }
        )
    # Largest movers first: a reader wants what moved the score, not factor 1 to 14 in order.
    by_factor.sort(key=lambda row: -abs(row["change"]))
    out["data_change_by_factor"] = by_factor
    return out


_REASONS = {
    1: "no observation",
    2: "stale",
    3: "outside the domain of the transform",
    4: "no fresh population value for the per-capita rate",
}


def expand_breakdown(
    config: Configuration, as_of: date, weights: Weights, stored: dict[str, Any]
) -> dict[str, Any]:
    """A history score's column breakdown in the full form (every factor with every indicator:
    variable used, value, age, ingest run, contribution, term, or why it is missing). The full
    form is returned unchanged."""
    if stored.get("format") != "columns":
        return stored
    spec = EngineSpec.from_config(config)
    rescored = rescore(spec, ["-"], [stored], weights)
    by_id = {i.id: i for i in config.indicators.indicators}
    position = {indicator_id: n for n, indicator_id in enumerate(stored["indicator_ids"])}
    factor_names = {f.number: f.name for f in config.framework.risk_factors}
    factors = []
    for f, number in enumerate(FACTOR_NUMBERS):
        indicators = []
        for col in np.flatnonzero(spec.factor_index == f):
            indicator_id = spec.indicator_ids[col]
            k = position.get(indicator_id)
            ind = by_id[indicator_id]
            source = stored["source_position"][k] if k is not None else -1
            age = stored["age_days"][k] if k is not None else -1
            reason_code = stored["reason"][k] if k is not None else 1
            reason = _REASONS.get(reason_code)
            if reason_code == 2:
                reason = f"stale: {age} days old, limit {ind.max_age_days}"
            indicators.append(
                {
                    "indicator_id": indicator_id,
                    "name": ind.name,
                    "variable": ind.variables[source] if source >= 0 else ind.variable,
                    "fallback": source > 0,
                    "weight": float(weights.indicator[col]),
                    "value": stored["value"][k] if k is not None else None,
                    "period_end": (as_of - timedelta(days=age)).isoformat() if age >= 0 else None,
                    "age_days": age if age >= 0 else None,
                    "ingest_run_id": stored["ingest_run_id"][k]
                    if k is not None and stored["ingest_run_id"][k] >= 0
                    else None,
                    "contribution": _maybe(rescored.contributions[0, 0, col]),
                    "composite_term": float(rescored.terms[0, 0, col]),
                    "missing_reason": reason,
                }
            )
        factors.append(
            {
                "number": number,
                "name": factor_names[number],
                "weight": float(weights.factor[f]),
                "score": _maybe(rescored.agg.factor_score[0, 0, f]),
                "coverage": float(rescored.agg.factor_coverage[0, 0, f]),
                "applicable": bool(rescored.agg.applicable[0, 0, f]),
                "crime": spec.crime_of_factor[f],
                "composite_term": float(
                    rescored.agg.factor_share[0, 0, f]
                    * np.nan_to_num(rescored.agg.factor_score[0, 0, f])
                ),
                "indicators": indicators,
            }
        )
    return {
        "factors_with_data": stored["factors_with_data"],
        "armed_conflict": stored["armed_conflict"],
        "crimes": dict(zip(CRIMES, stored["crime_score"], strict=True)),
        "factors": factors,
    }
