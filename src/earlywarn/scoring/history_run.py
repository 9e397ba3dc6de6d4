"""Scoring a whole history of dates from one read of the observations (a backfill): one
``ScoreRun`` per date, the breakdowns stored as one binary panel per run (``history``)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.observations import repository as observations_repository
from earlywarn.scoring import history, history_read, repository, summary
from earlywarn.scoring.engine import FACTOR_NUMBERS, LEVELS, EngineSpec, FloatArray, points_to_rows
from earlywarn.scoring.evidence import insufficient_data_reason
from earlywarn.scoring.models import ScoreRun, ScoreRunStatus
from earlywarn.scoring.panel import ObservationTable, input_variables
from earlywarn.scoring.results import ScoredPanel, score_panel
from earlywarn.scoring.service import factor_names, reference_values, weights_of


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
    lap = _Laps(timings if timings is not None else {})
    started = utc_now()
    dates = sorted(dates)
    table = _read_table(session, config, end=dates[-1], vintage_as_of=vintage_as_of)
    reference = reference_values(session, config, vintage_as_of=vintage_as_of)
    lap("read_seconds")
    spec = EngineSpec.from_config(config, reference)
    scored = score_panel(config, table, dates, weights_of(spec, weight_set), reference=reference)
    lap("score_seconds")
    now = utc_now()
    runs = _add_runs(
        session, config, weight_set, dates, vintage_as_of=vintage_as_of, started=started, now=now
    )
    scores: list[dict[str, Any]] = []
    panels: list[dict[str, Any]] = []
    for t, run in enumerate(runs):
        units = scored.rows_for(t)
        composite = scored.agg.composite[t]
        run.countries_scored = int(np.sum(~np.isnan(composite[units]))) if units else 0
        panels.append({"score_run_id": run.id, "data": history.pack(scored, t, units)})
        if units:
            scores.extend(_score_rows(config, weight_set, scored, table, t, run, units, now))
    lap("breakdown_seconds")
    repository.insert_scores(session, scores)
    lap("write_scores_seconds")
    repository.insert_panels(session, panels)
    session.flush()
    lap("write_panels_seconds")
    return runs


class _Laps:
    """Adds the seconds since the previous lap to ``spent[name]``."""

    def __init__(self, spent: dict[str, float]) -> None:
        self.spent = spent
        self.clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.spent[name] = self.spent.get(name, 0.0) + now - self.clock
        self.clock = now


def _read_table(
    session: Session, config: Configuration, *, end: date, vintage_as_of: datetime | None
) -> ObservationTable:
    table = ObservationTable.from_groups(
        history_read.observation_groups(
            session, input_variables(config), end=end, vintage_as_of=vintage_as_of
        )
    )
    # Sources named, so that a history breakdown names them like a normal run's.
    return table.with_sources(
        observations_repository.run_sources(
            session, {int(r) for r in np.unique(table.ingest_run_id)}
        )
    )


def _add_runs(
    session: Session,
    config: Configuration,
    weight_set: WeightSet,
    dates: Sequence[date],
    *,
    vintage_as_of: datetime | None,
    started: datetime,
    now: datetime,
) -> list[ScoreRun]:
    names = factor_names(config)
    runs = [
        ScoreRun(
            as_of=as_of,
            weight_set_id=weight_set.id,
            methodology_version=config.scoring.methodology_version,
            vintage_as_of=vintage_as_of,
            status=ScoreRunStatus.SUCCEEDED,
            # The backfill's own start, not the insert time: a run never finishes before it starts.
            started_at=started,
            finished_at=now,
            factor_names=names,
            # A backfill is not news: alert rules never read these runs.
            alerts_evaluated=False,
        )
        for as_of in dates
    ]
    session.add_all(runs)
    session.flush()
    return runs


def _score_rows(
    config: Configuration,
    weight_set: WeightSet,
    scored: ScoredPanel,
    table: ObservationTable,
    t: int,
    run: ScoreRun,
    units: list[int],
    now: datetime,
) -> list[dict[str, Any]]:
    """The score rows of date ``t`` for ``units``: each breakdown a row of the run's panel,
    the factor summary the same a normal run stores (``summary.from_full``)."""
    agg = scored.agg
    idx = np.asarray(units, dtype=np.intp)
    composite = _nullable(agg.composite[t][idx])
    levels = agg.level[t][idx].tolist()
    coverage = agg.coverage[t][idx].tolist()
    factors_with_data = agg.factors_with_data[t][idx].tolist()
    conflict = scored.inputs.armed_conflict[t][idx].tolist()
    factor_score = _nullable(agg.factor_score[t][idx])
    factor_coverage = agg.factor_coverage[t][idx].tolist()
    crimes = points_to_rows(agg.crime_score[t][idx], config.scoring.levels)
    level_names = [None, *LEVELS]
    numbers = list(FACTOR_NUMBERS)
    return [
        {
            "score_run_id": run.id,
            "country_iso3": table.units[u],
            "composite": composite[k],
            "level": level_names[levels[k] + 1],
            "coverage": coverage[k],
            "insufficient_data": insufficient_data_reason(
                composite[k],
                coverage[k],
                config.scoring.min_coverage_for_level,
                config.scoring.levels,
            ),
            "factors": {"format": history.PANEL_FORMAT, "row": k},
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
        for k, u in enumerate(units)
    ]
