"""Scoring runs: read the observations, score every country as one panel, store the results."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.observations import repository as observations_repository
from earlywarn.scoring import explain, history, repository, summary
from earlywarn.scoring.engine import (
    FACTOR_NUMBERS,
    LEVELS,
    EngineSpec,
    FloatArray,
    Weights,
    points_to_rows,
    transform_array,
)
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.scoring.panel import ObservationTable, input_variables
from earlywarn.scoring.results import CountryResult, score_panel
from earlywarn.scoring.schemas import RunComparisonRow, ScoreExplanation

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
        sources = [(ind.variable, ind.transform, ind.per_capita)] + [
            (f.variable, f.transform, f.per_capita) for f in ind.fallbacks
        ]
        populations = {p.population_variable for _, _, p in sources if p is not None}
        rows = observations_repository.values_between(
            session,
            {v for v, _, _ in sources} | populations,
            start=date(norm.reference_start_year, 1, 1),
            end=date(norm.reference_end_year, 12, 31),
            max_ingest_run_id=max_ingest_run_id,
            vintage_as_of=vintage_as_of,
        )
        by_key = {(r.variable, r.iso3, r.period): r.value for r in rows}
        taken: dict[tuple[str, str], float] = {}
        for variable, transform, per_capita in sources:
            for (var, iso3, period), value in by_key.items():
                if var != variable or (iso3, period) in taken:
                    continue
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
    scored = score_panel(config, table, [as_of], weights_of(spec, weight_set), reference=reference)
    results = scored.results(0)
    repository.insert_scores(session, [_score_row(run, r, weight_set, config) for r in results])
    run.status = ScoreRunStatus.SUCCEEDED
    run.countries_scored = sum(1 for r in results if r.composite is not None)
    run.finished_at = utc_now()
    session.flush()
    return ScoringOutcome(run=run, results=results)


# --- history --------------------------------------------------------------------------------


def _nullable(values: FloatArray) -> list[Any]:
    """``values`` as (nested) lists, NaN as None (JSON has no NaN)."""
    cells = values.astype(object)
    cells[np.isnan(values)] = None
    out: list[Any] = cells.tolist()
    return out


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a bulk step.

    A history run allocates hundreds of thousands of short-lived containers (the read's
    strings, 13,000 score rows with their factor summaries) and creates no reference
    cycles; each allocation burst triggered full collections that rescanned that whole heap,
    ~0.4 s of a 3 s run (profiled). Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def score_history(
    session: Session,
    config: Configuration,
    weight_set: WeightSet,
    *,
    dates: Sequence[date],
    vintage_as_of: datetime | None = None,
    timings: dict[str, float] | None = None,
) -> list[ScoreRun]:
    """Score every date in ``dates`` under one weight set from one read of the observations:
    one ``ScoreRun`` per date, every country with data, the breakdowns in one binary panel
    per run (``history``; the API expands a score's row into the full breakdown).
    ``timings``, when given, receives the seconds spent reading, scoring and writing."""
    with _cyclic_gc_paused():
        return _score_history(
            session, config, weight_set, dates=dates, vintage_as_of=vintage_as_of, timings=timings
        )


def _score_history(
    session: Session,
    config: Configuration,
    weight_set: WeightSet,
    *,
    dates: Sequence[date],
    vintage_as_of: datetime | None,
    timings: dict[str, float] | None,
) -> list[ScoreRun]:
    clock = time.perf_counter()
    spent = timings if timings is not None else {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        spent[name] = spent.get(name, 0.0) + now - clock
        clock = now

    dates = sorted(dates)
    variables = input_variables(config)
    table = ObservationTable.from_groups(
        repository.observation_groups(
            session, variables, end=dates[-1], vintage_as_of=vintage_as_of
        )
    )
    # Sources named, so that a history breakdown names them like a normal run's.
    table = table.with_sources(
        observations_repository.run_sources(
            session, {int(r) for r in np.unique(table.ingest_run_id)}
        )
    )
    reference = reference_values(session, config, vintage_as_of=vintage_as_of)
    lap("read_seconds")
    spec = EngineSpec.from_config(config, reference)
    scored = score_panel(config, table, dates, weights_of(spec, weight_set), reference=reference)
    lap("score_seconds")
    runs: list[ScoreRun] = []
    now = utc_now()
    level_names = [None, *LEVELS]
    names = factor_names(config)
    numbers = list(FACTOR_NUMBERS)
    for as_of in dates:
        run = ScoreRun(
            as_of=as_of,
            weight_set_id=weight_set.id,
            methodology_version=config.scoring.methodology_version,
            vintage_as_of=vintage_as_of,
            status=ScoreRunStatus.SUCCEEDED,
            finished_at=now,
            factor_names=names,
            # A backfill is not news: alert rules never read these runs.
            alerts_evaluated=False,
        )
        runs.append(run)
    session.add_all(runs)
    session.flush()
    levels_config = config.scoring.levels
    payload: list[dict[str, Any]] = []
    panels: list[dict[str, Any]] = []
    agg = scored.agg
    for t, run in enumerate(runs):
        units = scored.rows_for(t)
        run.countries_scored = int(np.sum(~np.isnan(agg.composite[t][units]))) if units else 0
        panels.append({"score_run_id": run.id, "data": history.pack(scored, t, units)})
        if not units:
            continue
        idx = np.asarray(units, dtype=np.intp)
        composite = _nullable(agg.composite[t][idx])
        levels = agg.level[t][idx].tolist()
        coverage = agg.coverage[t][idx].tolist()
        factors_with_data = agg.factors_with_data[t][idx].tolist()
        conflict = scored.inputs.armed_conflict[t][idx].tolist()
        factor_score = _nullable(agg.factor_score[t][idx])
        factor_coverage = agg.factor_coverage[t][idx].tolist()
        crimes = points_to_rows(agg.crime_score[t][idx], levels_config)
        for k, u in enumerate(units):
            payload.append(
                {
                    "score_run_id": run.id,
                    "country_iso3": table.units[u],
                    "composite": composite[k],
                    "level": level_names[levels[k] + 1],
                    "coverage": coverage[k],
                    "factors": {"format": history.PANEL_FORMAT, "row": k},
                    # The same summary a normal run stores (summary.from_full).
                    "factor_summary": summary.compact(
                        factors_with_data=factors_with_data[k],
                        armed_conflict=None if conflict[k] < 0 else bool(conflict[k]),
                        points_to=crimes[k],
                        numbers=numbers,
                        scores=factor_score[k],
                        coverage=factor_coverage[k],
                    ),
                    "weight_set_id": weight_set.id,
                    "methodology_version": config.scoring.methodology_version,
                    "created_at": now,
                }
            )
    lap("breakdown_seconds")
    repository.insert_scores(session, payload)
    lap("write_scores_seconds")
    repository.insert_panels(session, panels)
    session.flush()
    lap("write_panels_seconds")
    return runs


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


# --- explanations over stored scores ---------------------------------------------------------


def stored_breakdowns(
    session: Session, config: Configuration, scores: Sequence[CountryScore]
) -> list[dict[str, Any]]:
    """The scores' breakdowns as stored, a history run's panel row expanded into the full form
    (each run's panel read once)."""
    panels: dict[int, history.Panel] = {}
    out: list[dict[str, Any]] = []
    for score in scores:
        stored = score.factors
        if stored.get("format") != history.PANEL_FORMAT:
            out.append(stored)
            continue
        run_id = score.score_run_id
        if run_id not in panels:
            data = repository.run_panel(session, run_id)
            if data is None:
                raise LookupError(f"score run {run_id} has no stored panel")
            panels[run_id] = history.unpack(data)
        run = session.get_one(ScoreRun, run_id)
        out.append(history.breakdown(config, run.as_of, panels[run_id], int(stored["row"])))
    return out


def stored_breakdown(
    session: Session, config: Configuration, score: CountryScore
) -> dict[str, Any]:
    return stored_breakdowns(session, config, [score])[0]


def explain_score(
    session: Session, config: Configuration, run: ScoreRun, score: CountryScore
) -> ScoreExplanation:
    """The score's terms under the weight set it was made with, and what changed since the
    country's previous run (data per factor, and weights)."""
    spec = EngineSpec.from_config(config)
    weight_set = session.get_one(WeightSet, score.weight_set_id)
    weights = weights_of(spec, weight_set)
    breakdown = stored_breakdown(session, config, score)
    rescored = explain.rescore(spec, [score.country_iso3], [breakdown], weights)
    terms = explain.explanation(config, rescored, 0)
    previous = repository.previous_score(session, score.country_iso3, run.id)
    change: dict[str, Any] | None = None
    if previous is not None:
        previous_score, _ = previous
        previous_weights = weights_of(
            spec, session.get_one(WeightSet, previous_score.weight_set_id)
        )
        change = explain.change(
            config,
            spec,
            score.country_iso3,
            (stored_breakdown(session, config, previous_score), previous_weights),
            (breakdown, weights),
        )
    return ScoreExplanation(
        iso3=score.country_iso3,
        score_run_id=run.id,
        as_of=run.as_of,
        weight_set_id=weight_set.id,
        weight_set_version=weight_set.version,
        methodology_version=score.methodology_version,
        composite=terms["composite"],
        level=terms["level"],
        sum_of_factor_terms=terms["sum_of_factor_terms"],
        sum_of_indicator_terms=terms["sum_of_indicator_terms"],
        factors=terms["factors"],
        change_since_previous=change,
        previous_score_run_id=None if previous is None else previous[1].id,
    )


def expand_stored_breakdown(
    session: Session, config: Configuration, run: ScoreRun, score: CountryScore
) -> dict[str, Any]:
    spec = EngineSpec.from_config(config)
    weights = weights_of(spec, session.get_one(WeightSet, score.weight_set_id))
    return explain.expand_breakdown(
        config, run.as_of, weights, stored_breakdown(session, config, score)
    )


def rescore_scores(
    session: Session,
    config: Configuration,
    scores: Sequence[CountryScore],
    weight_set: WeightSet,
) -> explain.Rescored:
    spec = EngineSpec.from_config(config)
    return explain.rescore(
        spec,
        [s.country_iso3 for s in scores],
        stored_breakdowns(session, config, scores),
        weights_of(spec, weight_set),
    )


def rescore_run(
    session: Session, config: Configuration, run: ScoreRun, weight_set: WeightSet
) -> tuple[list[CountryScore], explain.Rescored]:
    """A stored run's scores re-computed under another weight set (nothing is written)."""
    scores = repository.scores_with_breakdown(session, run.id)
    spec = EngineSpec.from_config(config)
    rescored = explain.rescore(
        spec,
        [s.country_iso3 for s in scores],
        stored_breakdowns(session, config, scores),
        weights_of(spec, weight_set),
    )
    return scores, rescored


def compare_runs(
    session: Session, config: Configuration, base: ScoreRun, other: ScoreRun
) -> list[RunComparisonRow]:
    """Every country of either run: composites, levels and ranks in both, and the change split
    into data (both under the base run's weights) and weights."""
    spec = EngineSpec.from_config(config)
    base_scores = {s.country_iso3: s for s in repository.scores_with_breakdown(session, base.id)}
    other_scores = {s.country_iso3: s for s in repository.scores_with_breakdown(session, other.id)}
    base_weights = weights_of(spec, session.get_one(WeightSet, base.weight_set_id))
    other_weights = weights_of(spec, session.get_one(WeightSet, other.weight_set_id))
    units = sorted(set(base_scores) | set(other_scores))
    empty: dict[str, Any] = {"factors": []}

    base_breakdowns = dict(
        zip(base_scores, stored_breakdowns(session, config, [*base_scores.values()]), strict=True)
    )
    other_list = stored_breakdowns(session, config, [*other_scores.values()])
    other_breakdowns = dict(zip(other_scores, other_list, strict=True))

    def scored(breakdowns: dict[str, dict[str, Any]], weights: Weights) -> explain.Rescored:
        return explain.rescore(spec, units, [breakdowns.get(u, empty) for u in units], weights)

    before = scored(base_breakdowns, base_weights)
    mixed = scored(other_breakdowns, base_weights)
    after = scored(other_breakdowns, other_weights)
    ranks_before, ranks_after = before.ranks(), after.ranks()
    rows = []
    for u, iso3 in enumerate(units):
        old, mid, new = before.composite(u), mixed.composite(u), after.composite(u)
        complete = old is not None and mid is not None and new is not None
        rows.append(
            RunComparisonRow(
                iso3=iso3,
                composite_before=old,
                composite_after=new,
                level_before=before.level(u),
                level_after=after.level(u),
                rank_before=ranks_before.get(iso3),
                rank_after=ranks_after.get(iso3),
                change=new - old if old is not None and new is not None else None,
                data_change=mid - old if complete and mid is not None and old is not None else None,
                weights_change=new - mid
                if complete and new is not None and mid is not None
                else None,
            )
        )
    return rows
