"""Procedure 2 (docs/forecasting-procedure-2.md): the nested selection with cheaper fits."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from earlywarn.forecasting.backtest import BacktestResult, run_backtest
from earlywarn.forecasting.catalog import PROCEDURES, default_predictors, make_model
from earlywarn.forecasting.estimators import build_submodel
from earlywarn.forecasting.glmnet_path import GlmnetPath
from earlywarn.forecasting.nested import ALL_FEATURES, FAMILIES, NestedSelection
from earlywarn.forecasting.official import run_both_horizons
from earlywarn.forecasting.panel import Panel, read_ewp_csv

from .test_cli import EWP_FILE
from .test_nested import _light

CS = (0.01, 0.03, 0.1, 0.3, 1.0)


def _fast_light(feature_names: tuple[str, ...], lead_years: int = 2) -> NestedSelection:
    """Procedure 2's solver and families with small trees, so a test backtest stays quick."""
    return _light(feature_names, lead_years).set_params(
        logit_solver="glmnet", families=PROCEDURES["nested-fast"]["families"]
    )


def _everything(result: BacktestResult) -> list[tuple[object, ...]]:
    return [(s.country, s.year, s.max_risk, s.best_rank) for s in result.scored] + [
        tuple(sorted(f.items())) for f in result.forecasts
    ]


def test_glmnet_solves_the_same_problem_as_saga_at_each_penalty(panel: Panel) -> None:
    """lambda = 1 / (C n), alpha = l1_ratio: the same penalised likelihood, so the two
    solvers' probabilities agree to their tolerances (saga's is 1e-3)."""
    X, y = panel.as_of(2000).training_rows("mk_onset_1or2")
    y = y.astype(np.int64)
    saga = build_submodel(("logit-path", CS, 0.5, 0)).fit(X, y)
    glmnet = build_submodel(("glmnet-path", CS, 0.5, 1e-5)).fit(X, y)
    assert isinstance(glmnet, GlmnetPath)
    np.testing.assert_allclose(glmnet.lambdas(len(y)), [1 / (c * len(y)) for c in CS])
    for c in CS:
        ours = glmnet.models[c].predict_proba(X)[:, 1]
        theirs = saga.models[c].predict_proba(X)[:, 1]
        assert np.max(np.abs(ours - theirs)) < 0.01
    # The penalty matters: the weakest and the strongest give different forecasts.
    weak, strong = (glmnet.models[c].predict_proba(X)[:, 1] for c in (CS[-1], CS[0]))
    assert np.max(np.abs(weak - strong)) > 0.01


def test_procedure_two_is_registered_and_procedure_one_is_unchanged() -> None:
    one = make_model("nested", ALL_FEATURES)
    two = make_model("nested-fast", ALL_FEATURES)
    assert isinstance(one, NestedSelection)
    assert isinstance(two, NestedSelection)
    assert one.get_params() == NestedSelection(feature_names=ALL_FEATURES).get_params() | {
        "feature_sets": one.feature_sets
    }
    assert (one.logit_solver, one.families, one.boosting) == (
        "saga",
        tuple(FAMILIES),
        (0.05, 200, 8, 40, 1.0),
    )
    assert (two.logit_solver, two.families, two.boosting) == (
        "glmnet",
        ("logit", "boosting", "logit+boosting"),
        (0.4, 25, 8, 40, 1.0),
    )
    # Everything else is procedure 1's: the feature sets, windows, margin, penalties.
    same = ("feature_sets", "windows", "window_years", "margin", "Cs", "l1_ratio", "lead_years")
    assert {k: one.get_params()[k] for k in same} == {k: two.get_params()[k] for k in same}
    assert default_predictors("nested-fast") == default_predictors("nested") == ALL_FEATURES
    with pytest.raises(ValueError, match="logit_solver"):
        _light(("risk", "year")).set_params(logit_solver="lbfgs").fit(
            np.array([[0.0, 1990.0], [1.0, 1991.0]]), np.array([0, 1])
        )


def test_shared_fits_change_no_forecast_of_procedure_two(panel: Panel) -> None:
    factory = functools.partial(_fast_light, tuple(panel.feature_names))
    separate, shared, again = (
        run_backtest(
            panel,
            factory,
            model_name="nested-fast",
            first_train_year=1995,
            last_train_year=2001,
            n_jobs=1,
            share_fits=share,
        )
        for share in (False, True, True)
    )
    assert shared.forecasts
    assert _everything(shared) == _everything(separate)
    assert shared.selection == separate.selection
    assert shared.selection_steps == separate.selection_steps
    # Deterministic: the same run again makes the same choices and the same forecasts.
    assert _everything(again) == _everything(shared)
    assert again.selection_steps == shared.selection_steps
    assert {d["family"] for d in shared.selection_steps} <= {"logit", "boosting", "logit+boosting"}
    assert all(set(d["family_log_loss"]) == {"logit", "boosting", "logit+boosting"}
               for d in shared.selection_steps)  # fmt: skip


def _untimed(figures: object) -> object:
    """The JSON summary without its timings (the only fields allowed to differ)."""
    if isinstance(figures, dict):
        return {k: _untimed(v) for k, v in figures.items() if "seconds" not in k}
    return figures


def _both(panel: Panel, first: int, last: int) -> object:
    _, summary = run_both_horizons(
        panel, "nested-fast", first_train_year=first, last_train_year=last, n_jobs=1
    )
    return _untimed(summary)


@pytest.mark.shared
def test_procedure_two_on_development_steps_of_the_ewp_file(shared_dir: Path) -> None:
    """Three steps of the development window (nothing after 1990 is read), both horizons,
    twice: identical JSON but for the timings; and the shared fits equal separate fits."""
    data = shared_dir / EWP_FILE
    if not data.is_file():
        pytest.skip(f"{data} is absent")
    panel = read_ewp_csv(data, predictors=default_predictors("nested-fast"))
    first = _both(panel, 1985, 1987)
    assert first == _both(panel, 1985, 1987)
    assert isinstance(first, dict)
    assert first["one_year"]
    assert first["selection_steps"]
    factory = functools.partial(make_model, "nested-fast", panel.feature_names)
    shared, separate = (
        run_backtest(
            panel,
            factory,
            model_name="nested-fast",
            first_train_year=1985,
            last_train_year=1987,
            n_jobs=1,
            share_fits=share,
        )
        for share in (True, False)
    )
    assert _everything(shared) == _everything(separate)
    assert shared.selection_steps == separate.selection_steps
