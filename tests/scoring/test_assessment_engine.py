"""Analyst assessments in the engine, on hand-made arrays: no change without them, evidence for
factors no indicator reaches, blending at the weight set's weight, conditional factors, and
terms that still add up to the composite."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earlywarn.framework.config import Configuration
from earlywarn.scoring.assessed import split_term
from earlywarn.scoring.engine import (
    FACTOR_NUMBERS,
    EngineSpec,
    Weights,
    aggregate,
    assessment_terms,
    indicator_terms,
)

F = len(FACTOR_NUMBERS)


def _panel(spec: EngineSpec, units: int = 6, seed: int = 7) -> np.ndarray:
    """Random contributions for the indicators of factors 1 to 9 only (10 to 14 without data)."""
    rng = np.random.default_rng(seed)
    contributions = rng.uniform(0, 1, (1, units, len(spec.indicator_ids)))
    contributions[rng.uniform(0, 1, contributions.shape) < 0.3] = np.nan
    no_data = spec.factor_index >= 9
    contributions[:, :, no_data] = np.nan
    return contributions


def _weights(spec: EngineSpec, **assessment: float) -> Weights:
    blend = {f"assessment.{k.removeprefix('f')}": v for k, v in assessment.items()}
    return Weights.from_maps(spec, blend, dict.fromkeys(FACTOR_NUMBERS, 1.0))


def _assessed(units: int, cells: dict[tuple[int, int], float]) -> np.ndarray:
    out = np.full((1, units, F), np.nan)
    for (u, factor), score in cells.items():
        out[0, u, factor - 1] = score
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def test_without_assessments_every_result_is_identical(configuration: Configuration) -> None:
    spec = EngineSpec.from_config(configuration)
    contributions = _panel(spec)
    conflict = np.array([[1, 0, -1, 1, 0, -1]], dtype=np.int8)
    weights = _weights(spec, f3=2.0)
    plain = aggregate(spec, contributions, weights, conflict)
    empty = aggregate(spec, contributions, weights, conflict, assessments=_assessed(6, {}))
    for name in ("factor_score", "factor_coverage", "applicable", "composite", "coverage"):
        assert _same(getattr(plain, name), getattr(empty, name)), name
    assert _same(plain.level, empty.level)
    assert _same(
        indicator_terms(spec, contributions, weights, plain),
        indicator_terms(spec, contributions, weights, empty),
    )


def test_an_assessment_is_the_evidence_of_factor_12_and_the_terms_add_up(
    configuration: Configuration,
) -> None:
    spec = EngineSpec.from_config(configuration)
    contributions = _panel(spec)
    weights = _weights(spec)  # blend weight 0 everywhere: the default
    assessed = _assessed(6, {(0, 12): 0.75, (1, 3): 0.9})
    before = aggregate(spec, contributions, weights)
    after = aggregate(spec, contributions, weights, assessments=assessed)

    assert math.isnan(before.factor_score[0, 0, 11])
    assert after.factor_score[0, 0, 11] == 0.75
    assert after.rated[0, 0, 11]
    assert after.factor_coverage[0, 0, 11] == 1.0  # factor 12 has no indicators
    assert after.factors_with_data[0, 0] == before.factors_with_data[0, 0] + 1
    # Factor 3 has indicator data and a blend weight of 0: its assessment does not count.
    assert after.factor_score[0, 1, 2] == before.factor_score[0, 1, 2]

    terms = indicator_terms(spec, contributions, weights, after)
    a_terms = assessment_terms(spec, contributions, weights, after, assessed)
    for u in range(6):
        total = math.fsum(terms[0, u]) + math.fsum(a_terms[0, u])
        assert total == pytest.approx(after.composite[0, u], abs=1e-12)
    share = after.factor_share[0, 0, 11]
    assert a_terms[0, 0, 11] == pytest.approx(share * 0.75)


def test_the_blend_weight_moves_the_factor_score(configuration: Configuration) -> None:
    spec = EngineSpec.from_config(configuration)
    contributions = _panel(spec)
    assessed = _assessed(6, {(1, 3): 0.9})
    members = np.flatnonzero((spec.factor_index == 2) & ~np.isnan(contributions[0, 1]))
    assert members.size, "factor 3 needs data in this panel"
    for blend in (0.5, 1.0, 4.0):
        weights = _weights(spec, f3=blend)
        agg = aggregate(spec, contributions, weights, assessments=assessed)
        w = weights.indicator[members]
        expected = (np.sum(w * contributions[0, 1, members]) + blend * 0.9) / (w.sum() + blend)
        assert agg.factor_score[0, 1, 2] == pytest.approx(expected)
        terms = indicator_terms(spec, contributions, weights, agg)
        a_terms = assessment_terms(spec, contributions, weights, agg, assessed)
        assert math.fsum(terms[0, 1]) + math.fsum(a_terms[0, 1]) == pytest.approx(
            agg.composite[0, 1], abs=1e-12
        )


def test_conditional_factor_14_applies_by_assessment_only_where_conflict_is_unknown(
    configuration: Configuration,
) -> None:
    spec = EngineSpec.from_config(configuration)
    contributions = _panel(spec, units=3)
    conflict = np.array([[1, 0, -1]], dtype=np.int8)
    assessed = _assessed(3, {(0, 14): 0.5, (1, 14): 0.5, (2, 14): 0.5})
    agg = aggregate(spec, contributions, _weights(spec), conflict, assessments=assessed)
    assert agg.applicable[0, :, 13].tolist() == [True, False, True]
    assert agg.rated[0, :, 13].tolist() == [True, False, True]
    plain = aggregate(spec, contributions, _weights(spec), conflict)
    assert plain.applicable[0, :, 13].tolist() == [True, False, False]


def test_each_assessment_term_is_its_share_of_the_factor_term() -> None:
    # Two assessments, confidence weights 2 and 1 (shares 2/3 and 1/3), scores 0.9 and 0.3.
    terms = split_term(0.07, [(2 / 3, 0.9), (1 / 3, 0.3)])
    assert math.fsum(terms) == pytest.approx(0.07)
    assert terms[0] / terms[1] == pytest.approx((2 / 3 * 0.9) / (1 / 3 * 0.3))
    assert split_term(0.0, [(1.0, 0.0)]) == [0.0]


cell = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0))
weight = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=100.0))


@st.composite
def assessed_panels(
    draw: st.DrawFn, spec: EngineSpec
) -> tuple[np.ndarray, Weights, np.ndarray, np.ndarray]:
    units = draw(st.integers(min_value=1, max_value=5))
    n = len(spec.indicator_ids)
    values = draw(st.lists(cell, min_size=units * n, max_size=units * n))
    contributions = np.array([np.nan if v is None else v for v in values]).reshape(1, units, n)
    judged = draw(st.lists(cell, min_size=units * F, max_size=units * F))
    assessed = np.array([np.nan if v is None else v for v in judged]).reshape(1, units, F)
    weights = Weights(
        indicator=np.array(draw(st.lists(weight, min_size=n, max_size=n))),
        factor=np.array(draw(st.lists(weight, min_size=F, max_size=F))),
        assessment=np.array(draw(st.lists(weight, min_size=F, max_size=F))),
    )
    conflict = np.array(
        draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=units, max_size=units)),
        dtype=np.int8,
    ).reshape(1, units)
    return contributions, weights, conflict, assessed


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_indicator_and_assessment_terms_add_up_for_any_panel(
    configuration: Configuration, data: st.DataObject
) -> None:
    spec = EngineSpec.from_config(configuration)
    contributions, weights, conflict, assessed = data.draw(assessed_panels(spec))
    agg = aggregate(spec, contributions, weights, conflict, assessments=assessed)
    terms = indicator_terms(spec, contributions, weights, agg)
    a_terms = assessment_terms(spec, contributions, weights, agg, assessed)
    factor_terms = agg.factor_share * np.nan_to_num(agg.factor_score)
    for u in range(contributions.shape[1]):
        composite = agg.composite[0, u]
        if math.isnan(composite):
            assert not terms[0, u].any()
            assert not a_terms[0, u].any()
            continue
        assert 0.0 <= composite <= 1.0 + 1e-12
        assert math.fsum(terms[0, u]) + math.fsum(a_terms[0, u]) == pytest.approx(
            composite, abs=1e-9
        )
        for f in range(F):
            inner = math.fsum(terms[0, u, spec.factor_index == f]) + a_terms[0, u, f]
            assert inner == pytest.approx(factor_terms[0, u, f], abs=1e-9)
