from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from earlywarn.forecasting.estimators import (
    MODEL_NAMES,
    OnsetEnsemble,
    build_submodel,
    make_model,
)
from earlywarn.forecasting.ewp_reference import EwpReference
from earlywarn.forecasting.panel import Panel


def _light(**params: object) -> OnsetEnsemble:
    values: dict[str, object] = {"Cs": (0.1, 1.0), "max_iter": 20, "min_samples_leaf": 5}
    values.update(params)
    return OnsetEnsemble(random_state=0, **values)


def test_passes_scikit_learns_estimator_checks() -> None:
    # The generic checks use tiny data where an out-of-time split finds both classes only
    # sometimes; the estimator then falls back to the average without calibration, by design.
    check_estimator(_light(Cs=(1.0,), inner_folds=1), on_skip=None)


def test_get_params_set_params_and_clone() -> None:
    model = _light(year_column=2)
    params = model.get_params()
    assert params["random_state"] == 0
    assert params["year_column"] == 2
    assert params["candidates"] == ("logit", "boosting", "average")
    twin = clone(model).set_params(l1_ratio=0.9)
    assert twin.l1_ratio == 0.9
    assert model.l1_ratio == 0.5


def test_same_random_state_same_probabilities(panel: Panel) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    first = _light(year_column=2).fit(X, y).predict_proba(X)
    second = _light(year_column=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (len(X), 2)
    np.testing.assert_allclose(first.sum(axis=1), 1.0)


def test_selection_and_calibration_use_out_of_time_folds_inside_the_training_data(
    panel: Panel,
) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    model = _light(year_column=2).fit(X, y)
    folds = model._inner_folds(X[:, 2], y.astype(np.int64))
    assert len(folds) == 3
    for train, val in folds:
        # Validation years come after the training years, with a one-year gap, like the
        # outer protocol (train through T, forecast from T+2).
        assert X[train, 2].max() + 2 == X[val, 2].min()
        assert X[val, 2].max() - X[val, 2].min() == 2
    assert model.selected_ in ("logit", "boosting", "average")
    assert set(model.inner_scores_) == {"logit", "boosting", "average"}
    assert model.C_ in (0.1, 1.0)
    assert model.calibrator_ is not None


def test_single_candidate_and_bad_candidates(panel: Panel) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    only = _light(year_column=2, candidates=("boosting",)).fit(X, y)
    assert only.selected_ == "boosting"
    assert only.logit_ is None
    with pytest.raises(ValueError, match="candidates"):
        _light(candidates=("bagging",)).fit(X, y)
    with pytest.raises(ValueError, match="combine"):
        _light(combine="median").fit(X, y)


def test_forest_candidates_are_fitted_and_selected_out_of_time(panel: Panel) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    model = _light(year_column=2, candidates=("forest", "logit+forest"), forest_trees=20).fit(X, y)
    assert set(model.inner_scores_) == {"forest", "logit+forest"}
    assert model.forest_ is not None
    assert model.boosting_ is None
    assert (model.logit_ is not None) == (model.selected_ == "logit+forest")
    p = model.predict_proba(X)[:, 1]
    assert ((p > 0) & (p < 1)).all()
    # Every sub-model the fit needed was announced by planned_fits (the backtest fits those
    # in parallel), the forest included.
    planned = {spec[0] for _, specs in model.planned_fits(X, y) for spec in specs}
    assert planned == {"logit", "forest"}


def test_log_odds_combination_averages_the_parts_log_odds(panel: Panel) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    model = _light(year_column=2, candidates=("average",), combine="log-odds", calibrate=False)
    model.fit(X, y)
    a, b = (m.predict_proba(X)[:, 1] for m in (model.logit_, model.boosting_) if m is not None)
    expected = 1 / (1 + np.sqrt((1 - a) * (1 - b) / (a * b)))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], expected, rtol=1e-9)
    plain = _light(year_column=2, candidates=("average",), calibrate=False).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X)[:, 1], (a + b) / 2, rtol=1e-12)


def test_reference_model_is_the_ewp_specification() -> None:
    model = make_model("ewp-reference", ("a", "year"))
    assert isinstance(model, EwpReference)
    assert (model.seed, model.folds) == (90035, 10)


def test_make_model_knows_every_name() -> None:
    for name in MODEL_NAMES:
        assert make_model(name, ("a", "year")) is not None
    assert make_model("ensemble", ("a", "year")).year_column == 1
    with pytest.raises(ValueError, match="unknown model"):
        make_model("forest", ("a",))


def test_the_default_ensemble_is_uncalibrated_as_selected_on_the_development_years(
    panel: Panel,
) -> None:
    """The default has no Platt step (chosen on the 1970-1989 development backtest): its
    probability is the plain average of the selected parts."""
    model = make_model("ensemble", panel.feature_names)
    assert isinstance(model, OnsetEnsemble)
    assert model.calibrate is False
    assert model.warm_start_path is True
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    model.set_params(Cs=(0.1, 1.0), max_iter=20, min_samples_leaf=5).fit(X, y)
    assert model.calibrator_ is None
    parts = [m.predict_proba(X)[:, 1] for m in (model.logit_, model.boosting_) if m is not None]
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], np.mean(parts, axis=0))


def test_a_warm_started_logit_path_fits_the_same_models_to_the_solver_tolerance(
    panel: Panel,
) -> None:
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    target = y.astype(np.int64)
    cs = (0.01, 0.1, 1.0)
    path = build_submodel(("logit-path", cs, 0.5, 0)).fit(X, target)
    assert sorted(path.models) == list(cs)
    for c in cs:
        cold = build_submodel(("logit", c, 0.5, 0)).fit(X, target)
        warm = path.models[c]
        np.testing.assert_allclose(
            warm.predict_proba(X)[:, 1], cold.predict_proba(X)[:, 1], atol=0.02
        )
    # Without inner folds the penalty falls back to the median, which the path then includes.
    model = _light(Cs=(0.1, 1.0), inner_folds=0, warm_start_path=True).fit(X, y)
    assert model.C_ == 0.55
    assert model.logit_ is not None
    assert model.logit_[-1].C == 0.55
