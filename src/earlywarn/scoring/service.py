"""Scoring runs: read the observations, score every country as one panel, store the results.

A whole history of dates is scored in ``history_run``; stored scores are read back (explained,
re-scored, compared) in ``stored``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from earlywarn.assessments import service as assessments_service
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.observations import repository as observations_repository
from earlywarn.scoring import repository, summary
from earlywarn.scoring.engine import (
    FACTOR_NUMBERS,
    EngineSpec,
    FloatArray,
    Weights,
    transform_array,
)
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.scoring.panel import ObservationTable, indicator_sources, input_variables, recode
from earlywarn.scoring.results import CountryResult, score_panel

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


def weights_of(spec: EngineSpec, weight_set: WeightSet) -> Weights:
    """A stored weight set as arrays; an indicator it does not name keeps weight 0 (it was not
    part of the methodology that set was made for), so scoring never invents a weight."""
    return Weights.from_maps(
        spec,
        {k: float(v) for k, v in weight_set.indicator_weights.items()},
        {int(k): float(v) for k, v in weight_set.factor_weights.items()},
        default_indicator_weights=dict.fromkeys(spec.indicator_ids, 0.0),
    )


def reference_values(
    session: Session,
    config: Configuration,
    *,
    max_ingest_run_id: int | None = None,
    vintage_as_of: datetime | None = None,
) -> dict[str, FloatArray]:
    """For each indicator normalised against a reference period: its values (every country,
    every year of the period, on the indicator's common scale)."""
    reference: dict[str, FloatArray] = {}
    for ind in config.indicators.indicators:
        norm = ind.normalisation
        if (
            norm.method != "percentile"
            or norm.reference_start_year is None
            or norm.reference_end_year is None
        ):
            continue
        sources = indicator_sources(ind)
        populations = {p.population_variable for _, _, p, _ in sources if p is not None}
        rows = observations_repository.values_between(
            session,
            {v for v, _, _, _ in sources} | populations,
            start=date(norm.reference_start_year, 1, 1),
            end=date(norm.reference_end_year, 12, 31),
            max_ingest_run_id=max_ingest_run_id,
            vintage_as_of=vintage_as_of,
        )
        by_key = {(r.variable, r.iso3, r.period): r.value for r in rows}
        taken: dict[tuple[str, str], float] = {}
        for variable, transform, per_capita, coding in sources:
            for (var, iso3, period), value in by_key.items():
                if var != variable or (iso3, period) in taken:
                    continue
                value = float(recode(coding, np.array([value]))[0])
                if per_capita is not None:
                    population = by_key.get((per_capita.population_variable, iso3, period))
                    if population is None or population <= 0:
                        continue
                    value = value / population * per_capita.per
                converted = float(transform_array(transform, np.array([value]))[0])
                if not np.isnan(converted):
                    taken[(iso3, period)] = converted
        reference[ind.id] = np.array(list(taken.values()), dtype=np.float64)
    return reference


def _score_row(
    run: ScoreRun, result: CountryResult, weight_set: WeightSet, config: Configuration
) -> dict[str, Any]:
    stored_summary, names = summary.from_full(result.summary())
    if names != run.factor_names:
        raise ValueError(f"factor names {names} differ from the run's {run.factor_names}")
    return {
        "score_run_id": run.id,
        "country_iso3": result.iso3,
        "composite": result.composite,
        "level": result.level,
        "coverage": result.coverage,
        "insufficient_data": result.insufficient_data,
        "factors": result.breakdown(),
        "factor_summary": stored_summary,
        "weight_set_id": weight_set.id,
        "methodology_version": config.scoring.methodology_version,
        "created_at": utc_now(),
    }


def factor_names(config: Configuration) -> list[str]:
    """The factors' names in the order every summary lists them (``FACTOR_NUMBERS``)."""
    names = {f.number: f.name for f in config.framework.risk_factors}
    return [names[n] for n in FACTOR_NUMBERS]


def run_scoring(
    session: Session,
    config: Configuration,
    weight_set: WeightSet,
    *,
    as_of: date,
    max_ingest_run_id: int | None = None,
    vintage_as_of: datetime | None = None,
) -> ScoringOutcome:
    """Score every country with data as of ``as_of`` (optionally as of a past data vintage).

    Adds a succeeded ``ScoreRun`` and its ``CountryScore`` rows to the session; the caller
    commits. Observations of ingest runs above ``max_ingest_run_id``, or that finished after
    ``vintage_as_of``, are ignored, so a past state of the data can be scored again.
    """
    run = repository.add_run(
        session,
        ScoreRun(
            as_of=as_of,
            weight_set_id=weight_set.id,
            methodology_version=config.scoring.methodology_version,
            vintage_as_of=vintage_as_of,
            max_ingest_run_id=max_ingest_run_id,
            factor_names=factor_names(config),
        ),
    )
    max_age_days = max(i.max_age_days for i in config.indicators.indicators)
    if config.scoring.armed_conflict is not None:
        max_age_days = max(max_age_days, config.scoring.armed_conflict.max_age_days)
    latest = observations_repository.latest_values(
        session,
        input_variables(config),
        as_of=as_of,
        earliest_period_start=as_of - timedelta(days=max_age_days + _READ_SLACK_DAYS),
        max_ingest_run_id=max_ingest_run_id,
        vintage_as_of=vintage_as_of,
    )
    reference = reference_values(
        session, config, max_ingest_run_id=max_ingest_run_id, vintage_as_of=vintage_as_of
    )
    indicator_vars = {v for i in config.indicators.indicators for v in i.variables}
    units = sorted({v.iso3 for v in latest if v.variable in indicator_vars})
    table = ObservationTable.from_latest(latest, units=units)
    spec = EngineSpec.from_config(config, reference)
    # Approved analyst assessments valid on the date (for a past vintage: as they stood then).
    counted = assessments_service.counted(
        session, config.assessments, as_of, vintage_as_of=vintage_as_of
    )
    scored = score_panel(
        config,
        table,
        [as_of],
        weights_of(spec, weight_set),
        reference=reference,
        assessments=counted,
    )
    results = scored.results(0)
    repository.insert_scores(session, [_score_row(run, r, weight_set, config) for r in results])
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


def last_run_per_day(
    rows: Sequence[tuple[CountryScore, ScoreRun]],
) -> list[tuple[CountryScore, ScoreRun]]:
    """Newest-first history rows thinned to one per scored date: the last run of each day,
    so that re-running a day reads as one point in a chart, not a vertical jump."""
    seen: set[date] = set()
    kept = []
    for score, run in rows:
        if run.as_of not in seen:
            seen.add(run.as_of)
            kept.append((score, run))
    return kept
