"""The composite's own track record: stored yearly scores judged by the EWP protocol, no fitting.

For each onset year Y in [first_year, last_year]: the larger of a country's composites as of
31 December of Y-1 and Y-2 (the runs ``earlywarn score-history`` stores, under one weight set
and the current methodology), ROC AUC against ``ewp.mk_onset`` over every country-year with a
composite, and recall@10/20/30 by the better of the country's two ranks. It tells analysts how
far the ladder can be trusted; scripts/ewp_dependence.py computes the same from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sklearn.metrics import roc_auc_score
from sqlalchemy.orm import Session

from earlywarn.framework.config import Configuration
from earlywarn.observations.repository import current_values
from earlywarn.scoring import repository

ONSET_VARIABLE = "ewp.mk_onset"
RECALL_AT = (10, 20, 30)


class TrackRecordError(ValueError):
    """Nothing to judge: no stored runs, or no onset data, for the years asked."""


@dataclass
class TrackRecord:
    weight_set_id: int
    first_year: int
    last_year: int
    years_without_runs: list[int]
    country_years: int
    onsets: int
    auc: float
    recall: dict[int, int]
    onsets_ranked: list[dict[str, Any]] = field(default_factory=list)
    # Per judged country-year, for the report's ROC curve: the larger composite, and 1 = onset.
    risk: list[float] = field(default_factory=list)
    outcome: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "weight_set_id": self.weight_set_id,
            "onset_years": [self.first_year, self.last_year],
            "years_without_runs": self.years_without_runs,
            "country_years": self.country_years,
            "onsets": self.onsets,
            "auc": round(self.auc, 4),
            **{f"recall_at_{k}": [hits, self.onsets] for k, hits in self.recall.items()},
            "onsets_ranked": self.onsets_ranked,
        }


def _yearly_scores(
    session: Session, config: Configuration, years: range, weight_set_id: int
) -> tuple[dict[tuple[str, int], float], dict[tuple[str, int], int], list[int]]:
    runs = repository.successful_runs_on(
        session,
        [date(y, 12, 31) for y in years],
        weight_set_id=weight_set_id,
        methodology_version=config.scoring.methodology_version,
    )
    latest = {as_of.year: run_id for run_id, as_of in runs}  # oldest first: the last one wins
    composite: dict[tuple[str, int], float] = {}
    rank: dict[tuple[str, int], int] = {}
    for year, run_id in latest.items():
        ranked = [s for s in repository.scores_for_run(session, run_id) if s.composite is not None]
        for position, score in enumerate(ranked, start=1):
            assert score.composite is not None
            composite[(score.country_iso3, year)] = score.composite
            rank[(score.country_iso3, year)] = position
    return composite, rank, [y for y in years if y not in latest]


def score_backtest(
    session: Session,
    config: Configuration,
    *,
    weight_set_id: int,
    first_year: int = 1994,
    last_year: int = 2023,
) -> TrackRecord:
    if last_year < first_year:
        raise TrackRecordError(f"last year {last_year} is before first year {first_year}")
    years = range(first_year - 2, last_year)
    composite, rank, missing = _yearly_scores(session, config, years, weight_set_id)
    if not composite:
        raise TrackRecordError(
            f"no stored scores as of 31 December {first_year - 2}-{last_year - 1} under weight "
            f"set {weight_set_id}: run earlywarn score-history --from-year {first_year - 2} "
            f"--to-year {last_year - 1} first"
        )
    outcomes = {
        (iso3, int(period)): value
        for (iso3, _, period), value in current_values(session, [ONSET_VARIABLE]).items()
        if len(period) == 4 and first_year <= int(period) <= last_year
    }
    risk: list[float] = []
    outcome: list[int] = []
    ranked_onsets: list[dict[str, Any]] = []
    for (iso3, year), value in sorted(outcomes.items(), key=lambda item: (item[0][1], item[0][0])):
        earlier = [(iso3, year - 1), (iso3, year - 2)]
        values = [composite[k] for k in earlier if k in composite]
        if not values:
            continue
        risk.append(max(values))
        outcome.append(int(value >= 1))
        if value >= 1:
            best = min(rank[k] for k in earlier if k in rank)
            ranked_onsets.append({"iso3": iso3, "year": year, "best_rank": best})
    if not ranked_onsets or len(ranked_onsets) == len(outcome):
        raise TrackRecordError(
            f"{ONSET_VARIABLE} has no onset (or only onsets) for the scored country-years of "
            f"{first_year}-{last_year}: import the EWP file (earlywarn import)"
        )
    return TrackRecord(
        weight_set_id=weight_set_id,
        first_year=first_year,
        last_year=last_year,
        years_without_runs=missing,
        country_years=len(risk),
        onsets=len(ranked_onsets),
        auc=float(roc_auc_score(outcome, risk)),
        recall={k: sum(1 for o in ranked_onsets if o["best_rank"] <= k) for k in RECALL_AT},
        onsets_ranked=ranked_onsets,
        risk=risk,
        outcome=outcome,
    )
