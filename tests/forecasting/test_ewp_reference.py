"""EWP's model as its R code fits it: R's random folds, glmnet's path, cv.glmnet's choice."""

from __future__ import annotations

import numpy as np
import pytest
from glmnet import LogitNet

from earlywarn.forecasting.backtest import forecast_from
from earlywarn.forecasting.ewp_reference import (
    EwpReference,
    RRandom,
    ewp_row_order,
    glmnet_column_order,
    r_fold_ids,
    training_rows_for,
)
from earlywarn.forecasting.panel import Panel


def test_r_random_draws_what_r_draws() -> None:
    # R >= 3.6: set.seed(42); runif(3) and set.seed(1); runif(3)
    for seed, expected in (
        (42, [0.9148060, 0.9370754, 0.2861395]),
        (1, [0.2655087, 0.3721239, 0.5728534]),
    ):
        draws = RRandom(seed)
        np.testing.assert_allclose([draws.unif_rand() for _ in range(3)], expected, atol=5e-8)
    # set.seed(123); sample(1:10) and set.seed(42); sample(1:10) (rejection sampling)
    assert [i + 1 for i in RRandom(123).permutation(10)] == [3, 10, 2, 8, 6, 9, 1, 7, 5, 4]
    assert [i + 1 for i in RRandom(42).permutation(10)] == [1, 5, 10, 8, 2, 4, 6, 9, 7, 3]


def test_fold_ids_are_a_shuffled_rep_of_the_folds() -> None:
    ids = r_fold_ids(103)
    assert sorted(np.bincount(ids)[1:].tolist()) == [10] * 7 + [11] * 3
    assert ids.tolist() == r_fold_ids(103).tolist()
    assert ids.tolist() != r_fold_ids(103, seed=1).tolist()


def test_rows_are_put_in_the_ewp_files_order() -> None:
    countries = np.array(["20", "100", "2", "2", "XK"])
    years = np.array([1990, 1990, 1991, 1990, 1990])
    order = ewp_row_order(countries, years)
    assert list(zip(countries[order], years[order], strict=True)) == [
        ("2", 1990), ("2", 1991), ("20", 1990), ("100", 1990), ("XK", 1990)
    ]  # fmt: skip


def test_reference_predicts_at_lambda_min_on_glmnets_own_path(panel: Panel) -> None:
    X, y = panel.as_of(2005).training_rows("mk_onset_1or2")
    model = EwpReference().fit(X, y.astype(int))
    # lambda.min: the largest penalty with the lowest cross-validated deviance.
    best = int(np.argmin(model.cv_deviance_))
    assert model.lambda_ == model.lambdas_[best]
    assert np.all(model.cv_deviance_[:best] > model.cv_deviance_[best])
    # The coefficients are glmnet's (standardised inside, returned on the original scale).
    direct = LogitNet(alpha=0.5, n_splits=0, lambda_path=model.lambdas_).fit(X, y.astype(int))
    np.testing.assert_allclose(model.coef_, direct.coef_path_[0][:, best], rtol=1e-6, atol=1e-9)
    p = 1 / (1 + np.exp(-(X @ direct.coef_path_[0][:, best] + direct.intercept_path_[0][best])))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], p, rtol=1e-6)
    # The path is glmnet's default: from the smallest penalty that zeroes every coefficient.
    assert np.all(direct.coef_path_[0][:, 0] == 0)
    assert np.any(model.coef_ != 0)


def test_the_folds_follow_the_files_order_not_the_panels(panel: Panel) -> None:
    """The backtest hands the reference its rows in EWP's order (country code, then year):
    refitting on the panel's own order (codes as text) draws other folds."""
    forecast, model = forecast_from(panel, EwpReference, 2005)
    known = panel.as_of(2005)
    X, y = known.training_rows("mk_onset_1or2")
    mask = known.training_mask("mk_onset_1or2")
    order = ewp_row_order(known.countries[mask], known.years[mask])
    in_file_order = EwpReference().fit(X[order], y[order].astype(int))
    np.testing.assert_array_equal(model.cv_deviance_, in_file_order.cv_deviance_)
    in_panel_order = EwpReference().fit(X, y.astype(int))
    assert not np.array_equal(model.cv_deviance_, in_panel_order.cv_deviance_)
    assert len(forecast.probabilities) == int((known.years == 2005).sum())


def test_reference_rejects_one_class() -> None:
    with pytest.raises(ValueError, match="two classes"):
        EwpReference().fit(np.ones((20, 2)), np.zeros(20))


def test_columns_reach_glmnet_in_ewps_order(panel: Panel) -> None:
    assert glmnet_column_order(("a", "year", "mk_ever", "b")) == (2, 1, 0, 3)
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    reordered = EwpReference(column_order=(2, 0, 1)).fit(X, y.astype(int))
    plain = EwpReference().fit(X[:, [2, 0, 1]], y.astype(int))
    np.testing.assert_array_equal(reordered.coef_, plain.coef_)
    np.testing.assert_array_equal(reordered.predict_proba(X), plain.predict_proba(X[:, [2, 0, 1]]))


def test_only_the_reference_gets_its_rows_reordered(panel: Panel) -> None:
    known = panel.as_of(2005)
    X, y = known.training_rows("mk_onset_1or2")
    mask = known.training_mask("mk_onset_1or2")
    order = ewp_row_order(known.countries[mask], known.years[mask])
    assert not np.array_equal(order, np.arange(len(order)))
    X_ref, y_ref = training_rows_for(EwpReference(), known, "mk_onset_1or2")
    np.testing.assert_array_equal(X_ref, X[order])
    np.testing.assert_array_equal(y_ref, y[order])
    X_other, _ = training_rows_for(object(), known, "mk_onset_1or2")
    np.testing.assert_array_equal(X_other, X)
