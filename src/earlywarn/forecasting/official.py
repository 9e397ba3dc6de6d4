"""The backtest the CLI runs: both horizons with the same protocol, and the process's CPU.

``run_both_horizons`` returns the two-year result (the EWP target, whose figures are the
headline) and the JSON summary: the two-year figures at the top level, as before, the one-year
figures under ``one_year``, and ``cpu_seconds`` for the whole process so far.
"""

from __future__ import annotations

import functools
import resource
from collections.abc import Callable
from typing import Any

import numpy as np

from earlywarn.forecasting.backtest import BacktestResult, run_backtest
from earlywarn.forecasting.calibration import calibration
from earlywarn.forecasting.catalog import make_model
from earlywarn.forecasting.panel import Panel

# (horizon in years, walk-forward steps done, steps in all)
Progress = Callable[[int, int, int], None]


def process_cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_both_horizons(
    panel: Panel,
    model: str,
    *,
    first_train_year: int,
    last_train_year: int,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    threads_per_fit: int | None = 1,
) -> tuple[BacktestResult, dict[str, Any]]:
    results: dict[int, BacktestResult] = {}
    for horizon in (2, 1):
        step = functools.partial(progress, horizon) if progress is not None else None
        # Amendment 1 (docs/forecasting-procedure.md): the one-year model of each forecast
        # year takes the choices the two-year procedure made for that year.
        fixed = (
            {
                d["forecast_year"]: (d["feature_set"], d["family"], d["C"])
                for d in results[2].selection_steps
                if "family" in d
            }
            if horizon == 1
            else None
        )
        results[horizon] = run_backtest(
            panel,
            functools.partial(
                make_model,
                model,
                panel.feature_names,
                horizon_years=horizon,
                fixed_choices=fixed,
            ),
            model_name=model,
            first_train_year=first_train_year,
            last_train_year=last_train_year,
            n_jobs=n_jobs,
            horizon_years=horizon,
            progress=step,
            threads_per_fit=threads_per_fit,
        )
    two, one = results[2], results[1]
    summary = two.summary()
    summary["one_year"] = one.summary()
    for figures, result in ((summary, two), (summary["one_year"], one)):
        risk = np.array([s.max_risk for s in result.scored])
        figures["calibration"] = calibration(risk, [s.onset for s in result.scored])
    # Worker processes (parallel steps) are not waited-for children: their CPU, measured in
    # each worker, is counted in the results' own ``cpu_seconds``; add the part outside this
    # process's accounting.
    in_workers = sum(r.worker_cpu_seconds for r in results.values())
    summary["cpu_seconds"] = round(process_cpu_seconds() + in_workers, 3)
    summary["seconds_both_horizons"] = round(two.seconds + one.seconds, 3)
    return two, summary


def card_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without its per-row lists (every forecast, every onset): for a model card."""
    bulky = ("forecasts", "onsets", "selection_steps")
    card = {k: v for k, v in summary.items() if k not in bulky}
    if isinstance(card.get("one_year"), dict):
        card["one_year"] = {k: v for k, v in card["one_year"].items() if k not in bulky}
    return card
