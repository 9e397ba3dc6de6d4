"""Analyst-assessment benchmark: what assessments cost the engine. One command, figures on
stdout, a JSON line at the end.

    .venv/bin/python benchmarks/assessments.py [--countries 200] [--years 65] [--share 0.3]

The real configuration's indicators, random contributions for ``countries`` x ``years``, and an
assessment for ``share`` of the (country, factor) cells of every year: the engine's aggregate
and both kinds of terms, with and without the assessments, best of five. The machine is small
and noisy: read the ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from earlywarn.framework.config import load_configuration
from earlywarn.scoring.engine import (
    FACTOR_NUMBERS,
    EngineSpec,
    Weights,
    aggregate,
    assessment_terms,
    indicator_terms,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def _best(run: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--years", type=int, default=65)
    parser.add_argument("--share", type=float, default=0.3)
    args = parser.parse_args()

    spec = EngineSpec.from_config(load_configuration(CONFIG_DIR))
    rng = np.random.default_rng(1)
    shape = (args.years, args.countries, len(spec.indicator_ids))
    contributions = rng.uniform(0, 1, shape)
    contributions[rng.uniform(0, 1, shape) < 0.4] = np.nan
    conflict = rng.integers(-1, 2, shape[:2]).astype(np.int8)
    assessed = rng.uniform(0, 1, (*shape[:2], len(FACTOR_NUMBERS)))
    assessed[rng.uniform(0, 1, assessed.shape) >= args.share] = np.nan
    weights = Weights.from_maps(spec, {"assessment.3": 1.0}, dict.fromkeys(FACTOR_NUMBERS, 1.0))

    def without() -> None:
        agg = aggregate(spec, contributions, weights, conflict)
        indicator_terms(spec, contributions, weights, agg)

    def with_assessments() -> None:
        agg = aggregate(spec, contributions, weights, conflict, assessments=assessed)
        indicator_terms(spec, contributions, weights, agg)
        assessment_terms(spec, contributions, weights, agg, assessed)

    without()  # warm-up: first calls pay for allocations the later ones reuse
    with_assessments()
    plain, assessed_s = _best(without), _best(with_assessments)
    cells = int(np.sum(~np.isnan(assessed)))
    result = {
        "benchmark": "assessments",
        "countries": args.countries,
        "years": args.years,
        "indicators": len(spec.indicator_ids),
        "assessed_cells": cells,
        "engine_seconds_without": round(plain, 4),
        "engine_seconds_with": round(assessed_s, 4),
        "ratio": round(assessed_s / plain, 2),
    }
    print(
        f"panel {args.years} years x {args.countries} countries x {len(spec.indicator_ids)}"
        f" indicators, {cells} assessed (country, factor, year) cells"
    )
    print(f"  engine without assessments  {plain:.4f} s")
    print(f"  engine with assessments     {assessed_s:.4f} s  (x{assessed_s / plain:.2f})")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
