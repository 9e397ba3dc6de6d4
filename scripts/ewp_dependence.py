"""How much the composite depends on the indicators that still prefer an EWP column.

Scores the EWP file (path as the first argument; default ../shared/data/ewp/...) at one date
three ways, with the engine only (no database):

- ``before``: the indicators of another configuration directory (second argument, e.g. main's
  config checked out elsewhere; skipped when absent);
- ``live``: the shipped configuration;
- ``without_ewp``: the shipped configuration without the indicators whose preferred variable is
  an ``ewp.*`` column (none since issue 16) or whose only value on this data is one of EWP's own
  codings (``EWP_CODINGS``: the mass-killing history and targeting codes and the ICCPR protocol,
  which now read UCDP, ACLED and the UN Treaty Collection first); EWP columns kept where they are
  fallbacks of a raw source.

Prints rated countries and Spearman rank correlations of the composites over the countries
rated in both, then the composite's backtest by the EWP protocol, no fitting, for each
configuration: for each onset year Y (1994-2023) the larger of the composites as of 31 December
of Y-1 and Y-2, ROC AUC against ``mk_onset``, and recall@10/20/30 by the better of the two
ranks; then one JSON line. ``--recorded FIXTURES_DIR`` (../shared/fixtures) adds the recorded
V-Dem, PTS and EPR payloads to the EWP data, so the raw sources come before EWP's columns
where they cover a country-year. Usage:
``python scripts/ewp_dependence.py [EWP_CSV] [OTHER_CONFIG_DIR] [--as-of 2025-06-30]
[--recorded ../shared/fixtures]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from pathlib import Path

from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.ingest.epr import parse_epr
from earlywarn.ingest.ewp import load_ewp
from earlywarn.ingest.pts import parse_pts
from earlywarn.ingest.vdem import parse_vdem
from earlywarn.scoring.engine import EngineSpec, Weights
from earlywarn.scoring.panel import ObservationTable
from earlywarn.scoring.results import score_panel

ROOT = Path(__file__).resolve().parent.parent
FIRST_ONSET_YEAR, LAST_ONSET_YEAR = 1994, 2023
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


def backtest(
    config: Configuration, table: ObservationTable, onsets: dict[tuple[str, int], int]
) -> dict[str, object]:
    years = range(FIRST_ONSET_YEAR - 2, LAST_ONSET_YEAR)
    spec = EngineSpec.from_config(config)
    weights = Weights.from_maps(
        spec,
        {i.id: i.weight for i in config.indicators.indicators},
        {int(k): float(v) for k, v in config.scoring.factor_weights.items()},
    )
    scored = score_panel(config, table, [date(y, 12, 31) for y in years], weights)
    composite: dict[tuple[str, int], float] = {}
    rank: dict[tuple[str, int], int] = {}
    for t, year in enumerate(years):
        rated = sorted(
            ((r.composite, r.iso3) for r in scored.results(t) if r.composite is not None),
            reverse=True,
        )
        for position, (value, iso3) in enumerate(rated, start=1):
            composite[(iso3, year)] = value
            rank[(iso3, year)] = position
    risk, outcome, best_rank = [], [], []
    for (iso3, year), onset in onsets.items():
        if not FIRST_ONSET_YEAR <= year <= LAST_ONSET_YEAR:
            continue
        earlier = [(iso3, year - 1), (iso3, year - 2)]
        values = [composite[k] for k in earlier if k in composite]
        if not values:
            continue
        risk.append(max(values))
        outcome.append(onset)
        best_rank.append(min(rank[k] for k in earlier if k in rank))
    hits = [r for r, o in zip(best_rank, outcome, strict=True) if o == 1]
    return {
        "country_years": len(risk),
        "onsets": len(hits),
        "auc": round(float(roc_auc_score(outcome, risk)), 4),
        **{f"top{k}": sum(1 for r in hits if r <= k) for k in (10, 20, 30)},
    }


# The indicators that preferred an EWP column until issue 16 moved them to UCDP, ACLED and the
# UN Treaty Collection: their EWP fallbacks are EWP's own codings (mass-killing episodes, the
# ICCPR protocol), not a transformation of a raw source loaded here, so on the EWP file they are
# what the live sources would have to replace.
EWP_CODINGS = frozenset(
    {
        "past_mass_killing",
        "recent_mass_killing_onset",
        "ongoing_mass_killings",
        "wide_targeting",
        "narrow_targeting",
        "iccpr_ratified",
    }
)


def without_ewp(config: Configuration) -> Configuration:
    """The configuration without the indicators that prefer an EWP column or whose value here
    can only be one of EWP's own codings (``EWP_CODINGS``)."""
    kept = [
        i
        for i in config.indicators.indicators
        if not i.variable.startswith("ewp.") and i.id not in EWP_CODINGS
    ]
    return dataclasses.replace(config, indicators=IndicatorsConfig(indicators=kept))


def recorded_rows(folder: Path) -> list[tuple[str, str, str, date, date, float, str, int]]:
    """The recorded V-Dem, PTS and EPR payloads as observation rows of their own runs."""
    resolver = CountryResolver.default()
    parsed = {
        "vdem": parse_vdem(
            (
                folder / "vdem/demspaces_vdem_data_1968_on_SUBSET_MEX1968_HUN2018-2020.csv"
            ).read_bytes(),
            name="vdem",
            resolver=resolver,
        ),
        "pts": parse_pts(
            (folder / "pts/PTS-2024_SUBSET_selected_countries_2021-2023.csv").read_bytes(),
            name="pts",
            resolver=resolver,
        ),
        "epr": parse_epr(
            (folder / "epr/EPR-2019_SUBSET.csv").read_bytes(), name="epr", resolver=resolver
        ),
    }
    return [
        (*record, source, run)
        for run, (source, loaded) in enumerate(parsed.items(), start=2)
        for record in loaded.records
    ]


def rank_correlation(a: dict[str, float], b: dict[str, float]) -> tuple[int, float]:
    both = sorted(set(a) & set(b))
    rho = spearmanr([a[c] for c in both], [b[c] for c in both]).statistic
    return len(both), float(rho)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ewp", nargs="?", type=Path, default=DEFAULT_EWP)
    parser.add_argument("other_config", nargs="?", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--recorded", type=Path, help="the recorded payloads' directory")
    args = parser.parse_args()
    payload = load_ewp(args.ewp, resolver=CountryResolver.default())
    rows = [(*record, "ewp", 1) for record in payload.records]
    if args.recorded is not None:
        rows += recorded_rows(args.recorded)
    table = ObservationTable.from_rows(rows)
    live = load_configuration(ROOT / "config")
    configs = {"live": live, "without_ewp": without_ewp(live)}
    if args.other_config is not None:
        configs["before"] = load_configuration(args.other_config)
    scores = {name: composites(config, table, args.as_of) for name, config in configs.items()}
    onsets = {
        (r.iso3, int(r.period)): int(r.value)
        for r in payload.records
        if r.variable == "ewp.mk_onset"
    }
    figures: dict[str, object] = {
        "as_of": args.as_of.isoformat(),
        "recorded_payloads": args.recorded is not None,
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
    for name, config in configs.items():
        figures[f"backtest_{name}"] = backtest(config, table, onsets)
    for key, value in figures.items():
        sys.stdout.write(f"{key}: {value}\n")
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
