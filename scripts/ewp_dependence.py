"""How much the composite depends on the indicators that still prefer an EWP column.

Scores the EWP file (path as the first argument; default ../shared/data/ewp/...) at one date
three ways, with the engine only (no database):

- ``before``: the indicators of another configuration directory (second argument, e.g. main's
  config checked out elsewhere; skipped when absent);
- ``live``: the shipped configuration;
- ``without_ewp``: the shipped configuration without the indicators whose preferred variable is
  an ``ewp.*`` column (EWP columns kept where they are fallbacks of a raw source).

Prints rated countries and Spearman rank correlations of the composites over the countries
rated in both, then one JSON line. Usage:
``python scripts/ewp_dependence.py [EWP_CSV] [OTHER_CONFIG_DIR] [--as-of 2025-06-30]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from pathlib import Path

from scipy.stats import spearmanr

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.framework.schemas import IndicatorsConfig
from earlywarn.ingest.ewp import load_ewp
from earlywarn.scoring.engine import EngineSpec, Weights
from earlywarn.scoring.panel import ObservationTable
from earlywarn.scoring.results import score_panel

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EWP = ROOT.parent / "shared/data/ewp/prepared2024predictors-2025-09-03.csv"


def composites(config: Configuration, table: ObservationTable, as_of: date) -> dict[str, float]:
    spec = EngineSpec.from_config(config)
    weights = Weights.from_maps(
        spec,
        {i.id: i.weight for i in config.indicators.indicators},
        {int(k): float(v) for k, v in config.scoring.factor_weights.items()},
    )
    scored = score_panel(config, table, [as_of], weights)
    return {r.iso3: r.composite for r in scored.results(0) if r.composite is not None}


def without_ewp(config: Configuration) -> Configuration:
    kept = [i for i in config.indicators.indicators if not i.variable.startswith("ewp.")]
    return dataclasses.replace(config, indicators=IndicatorsConfig(indicators=kept))


def rank_correlation(a: dict[str, float], b: dict[str, float]) -> tuple[int, float]:
    both = sorted(set(a) & set(b))
    rho = spearmanr([a[c] for c in both], [b[c] for c in both]).statistic
    return len(both), float(rho)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ewp", nargs="?", type=Path, default=DEFAULT_EWP)
    parser.add_argument("other_config", nargs="?", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    args = parser.parse_args()
    payload = load_ewp(args.ewp, resolver=CountryResolver.default())
    table = ObservationTable.from_rows([(*record, "ewp", 1) for record in payload.records])
    live = load_configuration(ROOT / "config")
    scores = {"live": composites(live, table, args.as_of)}
    scores["without_ewp"] = composites(without_ewp(live), table, args.as_of)
    if args.other_config is not None:
        scores["before"] = composites(load_configuration(args.other_config), table, args.as_of)
    figures: dict[str, object] = {
        "as_of": args.as_of.isoformat(),
        "ewp_preferred_indicators": sum(
            1 for i in live.indicators.indicators if i.variable.startswith("ewp.")
        ),
        "indicators": len(live.indicators.indicators),
        "rated": {name: len(values) for name, values in scores.items()},
    }
    pairs = [("live", "without_ewp")] + ([("before", "live")] if "before" in scores else [])
    for first, second in pairs:
        n, rho = rank_correlation(scores[first], scores[second])
        figures[f"spearman_{first}_vs_{second}"] = {"countries": n, "rho": round(rho, 4)}
    for key, value in figures.items():
        sys.stdout.write(f"{key}: {value}\n")
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
