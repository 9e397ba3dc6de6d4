"""One thread per fit (the default) changes no forecast: the fast path equals the slow one."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from earlywarn.forecasting.backtest import BacktestResult, run_backtest
from earlywarn.forecasting.catalog import default_predictors, make_model
from earlywarn.forecasting.panel import Panel, read_ewp_csv

from .test_cli import EWP_FILE
from .test_nested import _light


def _forecasts(result: BacktestResult) -> list[tuple[object, ...]]:
    return [
        (f["country"], f["forecast_year"], f["probability"], f["rank"], f.get("probability_low"),
         f.get("probability_high"), f.get("rank_best"), f.get("rank_worst"))
        for f in result.forecasts
    ]  # fmt: skip


def _one_and_two_threads(
    panel: Panel, factory: functools.partial[object], model: str, first: int, last: int
) -> None:
    runs = [
        run_backtest(
            panel,
            factory,
            model_name=model,
            first_train_year=first,
            last_train_year=last,
            n_jobs=1,
            threads_per_fit=threads,
        )
        for threads in (2, 1)
    ]
    many, one = runs
    assert one.forecasts
    assert _forecasts(one) == _forecasts(many)
    # Unrounded too: every scored country-year's highest risk, to the last bit.
    assert [(s.country, s.year, s.max_risk, s.best_rank) for s in one.scored] == [
        (s.country, s.year, s.max_risk, s.best_rank) for s in many.scored
    ]
    assert one.selection_steps == many.selection_steps
    assert (one.auc, one.recall_at_30) == (many.auc, many.recall_at_30)


def test_thread_pools_are_there_to_limit() -> None:
    """Without a native pool the comparisons below would test nothing."""
    assert {pool["user_api"] for pool in threadpool_info()} >= {"openmp", "blas"}


def test_one_thread_per_fit_changes_no_nested_forecast(panel: Panel) -> None:
    factory = functools.partial(_light, tuple(panel.feature_names))
    _one_and_two_threads(panel, factory, "nested", 1996, 2000)


@pytest.mark.shared
@pytest.mark.parametrize(("model", "first"), [("nested", 2021), ("ewp-reference", 2021)])
def test_one_thread_per_fit_changes_no_official_forecast(
    shared_dir: Path, model: str, first: int
) -> None:
    """Official steps on the EWP file: HistGradientBoosting (OpenMP), saga, the forest and
    glmnet with numpy's products (BLAS) give the same bits on one thread as on two."""
    data = shared_dir / EWP_FILE
    if not data.is_file():
        pytest.skip(f"{data} is absent")
    panel = read_ewp_csv(data, predictors=default_predictors(model))
    factory = functools.partial(make_model, model, panel.feature_names)
    _one_and_two_threads(panel, factory, model, first, 2021)
