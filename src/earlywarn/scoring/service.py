"""Scoring runs: read the latest fresh observations, score every country, store the results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.observations import repository as observations_repository
from earlywarn.scoring import repository
from earlywarn.scoring.engine import CountryResult, score_countries
from earlywarn.scoring.models import ScoreRun, ScoreRunStatus

# Observations older than the largest max_age_days are never used, so there is no point
# reading them; a year of slack covers periods that start long before they end.
_READ_SLACK_DAYS = 366


@dataclass(frozen=True)
class ScoringOutcome:
    run: ScoreRun
    results: list[CountryResult]

    @property
    def rated(self) -> int:
        return sum(1 for r in self.results if r.composite is not None)


def run_scoring(
    session: Session,
    config: Configuration,
    weight_set: WeightSet,
    *,
    as_of: date,
    max_ingest_run_id: int | None = None,
) -> ScoringOutcome:
    """Score every country with data as of ``as_of`` (optionally as of a past data vintage).

    Adds a succeeded ``ScoreRun`` and its ``CountryScore`` rows to the session; the caller
    commits. Observations with ``ingest_run_id`` above ``max_ingest_run_id`` are ignored, so a
    past state of the data can be scored again.
    """
    run = repository.add_run(
        session,
        ScoreRun(
            as_of=as_of,
            weight_set_id=weight_set.id,
            methodology_version=config.scoring.methodology_version,
        ),
    )
    max_age_days = max(i.max_age_days for i in config.indicators.indicators)
    latest = observations_repository.latest_values(
        session,
        sorted({i.variable for i in config.indicators.indicators}),
        as_of=as_of,
        earliest_period_start=as_of - timedelta(days=max_age_days + _READ_SLACK_DAYS),
        max_ingest_run_id=max_ingest_run_id,
    )
    results = score_countries(
        config,
        latest,
        as_of=as_of,
        indicator_weights={k: float(v) for k, v in weight_set.indicator_weights.items()},
        factor_weights={int(k): float(v) for k, v in weight_set.factor_weights.items()},
    )
    repository.insert_scores(
        session,
        [
            {
                "score_run_id": run.id,
                "country_iso3": r.iso3,
                "composite": r.composite,
                "level": r.level,
                "coverage": r.coverage,
                "factors": r.breakdown(),
                "factor_summary": r.summary(),
                "weight_set_id": weight_set.id,
                "methodology_version": config.scoring.methodology_version,
                "created_at": utc_now(),
            }
            for r in results
        ],
    )
    run.status = ScoreRunStatus.SUCCEEDED
    run.countries_scored = sum(1 for r in results if r.composite is not None)
    run.finished_at = utc_now()
    session.flush()
    return ScoringOutcome(run=run, results=results)


def record_failed_run(
    session: Session, config: Configuration, weight_set_id: int, *, as_of: date, error: str
) -> ScoreRun:
    """Keep a trace of a scoring run that failed (its partial results were rolled back)."""
    return repository.add_run(
        session,
        ScoreRun(
            as_of=as_of,
            weight_set_id=weight_set_id,
            methodology_version=config.scoring.methodology_version,
            status=ScoreRunStatus.FAILED,
            error=error,
            finished_at=utc_now(),
        ),
    )
