"""Property: contributions add up to the composite, at factor and indicator level, for any
contributions, missing data, weights and armed-conflict status; and the change between two
runs splits exactly into data changes per factor and the effect of the weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.scoring.engine import EngineSpec, Weights, aggregate, indicator_terms
from earlywarn.scoring.explain import change, explanation, rescore

CONFIG: Configuration = load_configuration(Path(__file__).resolve().parents[2] / "config")
SPEC = EngineSpec.from_config(CONFIG)
N_INDICATORS = len(SPEC.indicator_ids)

contribution = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0))
weight = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=100.0))


@st.composite
def panels(draw: st.DrawFn) -> tuple[np.ndarray, Weights, np.ndarray]:
    units = draw(st.integers(min_value=1, max_value=6))
    cells = draw(
        st.lists(contribution, min_size=units * N_INDICATORS, max_size=units * N_INDICATORS)
    )
    values = np.array([np.nan if c is None else c for c in cells]).reshape(1, units, -1)
    weights = Weights(
        indicator=np.array(draw(st.lists(weight, min_size=N_INDICATORS, max_size=N_INDICATORS))),
        factor=np.array(draw(st.lists(weight, min_size=14, max_size=14))),
    )
    conflict = np.array(
        draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=units, max_size=units)),
        dtype=np.int8,
    ).reshape(1, units)
    return values, weights, conflict


@settings(max_examples=200, deadline=None)
@given(panels())
def test_indicator_and_factor_terms_add_up_to_the_composite(
    panel: tuple[np.ndarray, Weights, np.ndarray],
) -> None:
    contributions, weights, conflict = panel
    agg = aggregate(SPEC, contributions, weights, conflict)
    terms = indicator_terms(SPEC, contributions, weights, agg)
    factor_terms = agg.factor_share * np.nan_to_num(agg.factor_score)
    for u in range(contributions.shape[1]):
        composite = agg.composite[0, u]
        if math.isnan(composite):
            assert not terms[0, u].any()
            assert not factor_terms[0, u].any()
            continue
        assert 0.0 <= composite <= 1.0
        assert math.fsum(terms[0, u]) == _close(composite)
        assert math.fsum(factor_terms[0, u]) == _close(composite)
        # Each factor's term is the sum of its indicators' terms.
        for f in range(14):
            members = terms[0, u, SPEC.factor_index == f]
            assert math.fsum(members) == _close(factor_terms[0, u, f])
        # A missing indicator contributes nothing; it is never counted as zero risk.
        missing = np.isnan(contributions[0, u])
        assert not terms[0, u, missing].any()


class _close(float):
    """Equal within floating-point rounding of a sum of at most a few hundred terms."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, float) and abs(other - float(self)) <= 1e-12

    __hash__ = float.__hash__


def _breakdown(values: np.ndarray, applicable: list[bool]) -> dict[str, object]:
    return {
        "format": "columns",
        "indicator_ids": list(SPEC.indicator_ids),
        "contribution": [None if math.isnan(v) else float(v) for v in values],
        "factor_applicable": applicable,
    }


@settings(max_examples=150, deadline=None)
@given(panels(), panels())
def test_change_splits_into_data_per_factor_and_weights(
    before: tuple[np.ndarray, Weights, np.ndarray],
    after: tuple[np.ndarray, Weights, np.ndarray],
) -> None:
    old = _breakdown(before[0][0, 0], [True] * 14)
    new = _breakdown(after[0][0, 0], [True] * 12 + [False, False])
    result = change(CONFIG, SPEC, "AAA", (old, before[1]), (new, after[1]))
    if result["change"] is None:
        return
    assert result["data_change"] + result["weights_change"] == _close(result["change"])
    per_factor = math.fsum(f["change"] for f in result["data_change_by_factor"])
    assert per_factor == _close(result["data_change"])


@settings(max_examples=50, deadline=None)
@given(panels())
def test_explanation_of_stored_contributions_matches_the_engine(
    panel: tuple[np.ndarray, Weights, np.ndarray],
) -> None:
    contributions, weights, _ = panel
    breakdown = _breakdown(contributions[0, 0], [True] * 14)
    rescored = rescore(SPEC, ["AAA"], [breakdown], weights)
    out = explanation(CONFIG, rescored, 0)
    direct = aggregate(SPEC, contributions[:, :1], weights).composite[0, 0]
    if out["composite"] is None:
        assert math.isnan(direct)
        return
    assert out["composite"] == _close(float(direct))
    assert out["sum_of_indicator_terms"] == _close(out["composite"])
    assert out["sum_of_factor_terms"] == _close(out["composite"])
