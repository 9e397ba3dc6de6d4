"""Forecasting benchmark: CPU of one thread per fit against the libraries' default threads.

    .venv/bin/python benchmarks/forecast_threads.py [--ewp PATH] [--first-train-year 2019]
        [--last-train-year 2021] [--rounds 2] [--models nested,ewp-reference]

Runs the official protocol's last walk-forward steps (both horizons, as ``earlywarn backtest``
does) in this process, serially (``n_jobs=1``, so every thread is this process's), once with
the native thread pools at their defaults (OpenMP and OpenBLAS: one thread per core) and once
with one thread per fit (``threads_per_fit=1``, the default since issue 14), alternating the
two ``--rounds`` times. Prints the CPU and wall time of each, their ratio, and whether every
forecast (probability unrounded, rank, interval) is the same, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

from earlywarn.forecasting.catalog import default_predictors
from earlywarn.forecasting.official import run_both_horizons
from earlywarn.forecasting.panel import read_ewp_csv

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EWP = REPO.parent / "shared" / "data" / "ewp" / "prepared2024predictors-2025-09-03.csv"


def _run(panel: Any, model: str, first: int, last: int, threads: int | None) -> dict[str, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    two, summary = run_both_horizons(
        panel,
        model,
        first_train_year=first,
        last_train_year=last,
        n_jobs=1,
        threads_per_fit=threads,
    )
    return {
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
        # Unrounded risks (two-year), and every JSON forecast field of both horizons.
        "forecasts": (
            [(s.country, s.year, s.max_risk, s.best_rank) for s in two.scored],
            summary["forecasts"],
            summary["one_year"]["forecasts"],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ewp", type=Path, default=DEFAULT_EWP)
    parser.add_argument("--first-train-year", type=int, default=2019)
    parser.add_argument("--last-train-year", type=int, default=2021)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--models", default="nested,ewp-reference")
    args = parser.parse_args()
    if not args.ewp.is_file():
        sys.exit(f"EWP file not found: {args.ewp}")
    out: dict[str, Any] = {}
    for model in args.models.split(","):
        panel = read_ewp_csv(args.ewp, predictors=default_predictors(model))
        runs: dict[str, list[dict[str, Any]]] = {"default": [], "one": []}
        for _ in range(args.rounds):
            for label, threads in (("default", None), ("one", 1)):
                runs[label].append(
                    _run(panel, model, args.first_train_year, args.last_train_year, threads)
                )
        reference = runs["default"][0]["forecasts"]
        identical = all(r["forecasts"] == reference for rs in runs.values() for r in rs)
        figures = {
            label: {
                "cpu_seconds": [round(r["cpu"], 2) for r in rs],
                "wall_seconds": [round(r["wall"], 2) for r in rs],
            }
            for label, rs in runs.items()
        }
        ratio = median(r["cpu"] for r in runs["one"]) / median(r["cpu"] for r in runs["default"])
        out[model] = {**figures, "cpu_ratio_one_to_default": round(ratio, 3)}
        out[model]["identical_forecasts"] = identical
        print(
            f"{model:>14}: CPU default threads {figures['default']['cpu_seconds']} s, one "
            f"thread per fit {figures['one']['cpu_seconds']} s (median ratio {ratio:.2f}); "
            f"wall {figures['default']['wall_seconds']} / {figures['one']['wall_seconds']} s; "
            f"forecasts identical: {identical}",
            flush=True,
        )
    steps = {"first_train_year": args.first_train_year, "last_train_year": args.last_train_year}
    print(json.dumps({"benchmark": "forecast_threads", **steps, "models": out}))


if __name__ == "__main__":
    main()
