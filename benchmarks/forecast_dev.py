"""Model choice without peeking: a development backtest on years every official step trains on.

    .venv/bin/python benchmarks/forecast_dev.py [--ewp PATH] [--official]

Runs the EWP walk-forward protocol with last training years 1970-1989 (forecasts from
1972-1991, onsets 1973-1991; the backtest cuts the panel to what was known at the end of 1991,
so no later outcome is used) for the candidates pre-registered in the README ("Forecasting"),
applies the pre-registered selection rule, prints every figure and the choice, then one JSON
line. ``--official`` then runs the *selected* configuration once on the official 1991-2021
backtest (the official years play no part in the choice).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from earlywarn.forecasting.backtest import BacktestResult, run_backtest
from earlywarn.forecasting.estimators import OnsetEnsemble, make_model
from earlywarn.forecasting.panel import Panel, read_ewp_csv

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EWP = REPO.parent / "shared" / "data" / "ewp" / "prepared2024predictors-2025-09-03.csv"
DEV_YEARS = (1970, 1989)
OFFICIAL_YEARS = (1991, 2021)
MIN_ONSETS = 20
MIN_AUC_GAIN = 0.02
# Pre-registered candidates: the default as it was (Platt calibration on; B was selected and is
# the default since) and one change each; every other parameter as ``make_model("ensemble")``.
CANDIDATES: dict[str, dict[str, Any]] = {
    "A default": {"calibrate": True},
    "B no-calibration": {"calibrate": False},
    "C boost-lr0.1": {"calibrate": True, "learning_rate": 0.1},
    "D boost-16-leaves": {"calibrate": True, "max_leaf_nodes": 16},
    "E boost-100-iters": {"calibrate": True, "max_iter": 100},
}


def _factory(panel: Panel, params: dict[str, Any]) -> Any:
    def make() -> OnsetEnsemble:
        model = make_model("ensemble", panel.feature_names)
        assert isinstance(model, OnsetEnsemble)
        return model.set_params(**params)

    return make


def select(results: dict[str, BacktestResult]) -> tuple[str, str]:
    """The pre-registered rule: (chosen candidate, why)."""
    names = list(results)
    base = results[names[0]]
    if base.n_onsets < MIN_ONSETS or base.auc is None:
        return names[0], f"only {base.n_onsets} onsets: too few to discriminate"
    passing = []
    for name in names[1:]:
        r = results[name]
        lost = round((base.recall_at_30 - r.recall_at_30) * base.n_onsets)
        if r.auc is not None and r.auc >= base.auc + MIN_AUC_GAIN and lost <= 1:
            passing.append(name)
    if not passing:
        return names[0], f"no challenger gains {MIN_AUC_GAIN} AUC without losing recall"
    best = max(passing, key=lambda n: (results[n].auc or 0.0, results[n].recall_at_30))
    return best, f"passes the rule ({', '.join(passing)} passed)"


def _line(name: str, r: BacktestResult) -> str:
    return (
        f"{name:>18}: AUC {r.auc}  recall@10/20/30 {r.recall_at_10:.3f}/{r.recall_at_20:.3f}/"
        f"{r.recall_at_30:.3f} of {r.n_onsets} onsets  FA/hit@4% "
        f"{r.false_alarms_per_hit_at_4pct}  AP {r.average_precision}  Brier {r.brier}  "
        f"{r.seconds:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ewp", type=Path, default=DEFAULT_EWP)
    parser.add_argument("--official", action="store_true")
    args = parser.parse_args()
    if not args.ewp.is_file():
        sys.exit(f"EWP file not found: {args.ewp}")
    panel = read_ewp_csv(args.ewp)
    start = time.perf_counter()
    results = {}
    for name, params in CANDIDATES.items():
        results[name] = run_backtest(
            panel,
            _factory(panel, params),
            model_name=name,
            first_train_year=DEV_YEARS[0],
            last_train_year=DEV_YEARS[1],
        )
        print(_line(name, results[name]), flush=True)
    chosen, why = select(results)
    print(f"selected: {chosen} ({why})", flush=True)
    out: dict[str, Any] = {
        "development_years": DEV_YEARS,
        "development": {n: r.summary() | {"onsets": None} for n, r in results.items()},
        "selected": chosen,
        "reason": why,
    }
    if args.official:
        official = run_backtest(
            panel,
            _factory(panel, CANDIDATES[chosen]),
            model_name=chosen,
            first_train_year=OFFICIAL_YEARS[0],
            last_train_year=OFFICIAL_YEARS[1],
        )
        print("official " + _line(chosen, official), flush=True)
        out["official"] = official.summary() | {"onsets": None}
    out["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
