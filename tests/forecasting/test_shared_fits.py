"""Sharing identical sub-model fits between walk-forward steps changes no forecast."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from earlywarn.forecasting import backtest
from earlywarn.forecasting.backtest import run_backtest
from earlywarn.forecasting.estimators import (
    FitCache,
    OnsetEnsemble,
    data_digest,
    encoded_target,
    make_model,
    sharing_fits,
)
from earlywarn.forecasting.panel import Panel


def _light(features: tuple[str, ...], **params: object) -> OnsetEnsemble:
    model = make_model("ensemble", features)
    assert isinstance(model, OnsetEnsemble)
    values: dict[str, object] = {"Cs": (0.1, 1.0), "max_iter": 30, "min_samples_leaf": 5}
    return model.set_params(**(values | params))


@pytest.mark.parametrize("warm", [False, True])
def test_shared_fits_give_the_forecasts_of_separate_fits(panel: Panel, warm: bool) -> None:
    factory = functools.partial(_light, tuple(panel.feature_names), warm_start_path=warm)
    runs = [
        run_backtest(
            panel,
            factory,
            model_name="ensemble",
            first_train_year=1990,
            last_train_year=2005,
            n_jobs=1,
            share_fits=share,
        )
        for share in (False, True)
    ]
    separate, shared = runs
    assert [(s.country, s.year, s.max_risk, s.best_rank) for s in shared.scored] == [
        (s.country, s.year, s.max_risk, s.best_rank) for s in separate.scored
    ]
    assert shared.auc == separate.auc
    assert shared.selection == separate.selection


def test_steps_share_their_inner_folds_and_nothing_else(panel: Panel) -> None:
    """Of 16 steps x (3 folds + the final fit), far fewer distinct boosted fits are needed,
    and every step's ensemble finds each of its planned fits in the cache."""
    factory = functools.partial(_light, tuple(panel.feature_names))
    years = range(1992, 2008)
    cache, _ = backtest._shared_fits(panel, factory, years, "mk_onset_1or2", 1)
    boosted = [key for key in cache.fits if key[0][0] == "boosting"]
    assert len(years) + 3 <= len(boosted) < 2 * len(years)
    for year in years:
        X, y = panel.as_of(year).training_rows("mk_onset_1or2")
        before = cache.misses
        with sharing_fits(cache):
            factory().fit(X, y.astype(np.int64))
        # Only the final logit (its penalty known after selection) may be new.
        assert cache.misses - before <= 1


def test_a_warm_started_path_is_planned_whole_and_needs_no_fit_in_the_steps(
    panel: Panel,
) -> None:
    factory = functools.partial(
        _light, tuple(panel.feature_names), warm_start_path=True, Cs=(0.01, 0.1, 1.0)
    )
    years = range(1992, 2000)
    cache, _ = backtest._shared_fits(panel, factory, years, "mk_onset_1or2", 1)
    assert {key[0][0] for key in cache.fits} == {"logit-path", "boosting"}
    for year in years:
        X, y = panel.as_of(year).training_rows("mk_onset_1or2")
        before = cache.misses
        with sharing_fits(cache):
            model = factory().fit(X, y.astype(np.int64))
        assert cache.misses == before
        if model.logit_ is not None:
            # The chosen penalty's model from the path, an ordinary fitted pipeline.
            assert model.logit_[-1].C == model.C_


def test_cache_keys_on_exact_data(panel: Panel) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    target = encoded_target(y)
    model = _light(tuple(panel.feature_names))
    spec = model._boosting_spec()
    cache = FitCache()
    first = cache.fitted(spec, "a", X, target)
    assert cache.fitted(spec, "a", X, target) is first
    assert cache.fitted(spec, "b", X, target) is not first
    assert (cache.hits, cache.misses) == (1, 2)
    changed = X.copy()
    changed[0, 0] = np.nextafter(changed[0, 0], np.inf)
    assert data_digest(changed, target) != data_digest(X, target)
    assert data_digest(X, target[::-1].copy()) != data_digest(X, target)
