"""Reads of the observation store. Rows are vintages: for one (country, variable, period) the
row of the highest ingest run is the current value, and earlier rows stay for reproducibility
(``max_ingest_run_id`` replays what was known when a past score was computed). What a
vintage admits is decided here once, in ``vintage_conditions``, for every reader (scoring's
history read included)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from earlywarn.countries.models import Country
from earlywarn.observations.models import IngestRun, Observation
from earlywarn.observations.schemas import LatestValue

_COLUMNS = (
    Observation.country_iso3,
    Observation.variable,
    Observation.period,
    Observation.period_start,
    Observation.period_end,
    Observation.value,
    Observation.source_id,
    Observation.ingest_run_id,
)
# Bound parameters per IN list, well below the SQLite and PostgreSQL limits.
_IN_CHUNK = 500


def _first_ranked(
    conditions: Sequence[ColumnElement[bool]], partition: Sequence[Any], order: Sequence[Any]
) -> Select[Any]:
    """The first row by ``order`` within each ``partition`` of the rows matching ``conditions``
    (a window function, so one query whatever the number of countries)."""
    ranked = (
        select(
            *_COLUMNS, func.row_number().over(partition_by=partition, order_by=order).label("rank")
        )
        .where(*conditions)
        .subquery()
    )
    return select(*(ranked.c[c.key] for c in _COLUMNS)).where(ranked.c.rank == 1)


def _to_latest(row: Row[Any]) -> LatestValue:
    return LatestValue(
        iso3=row.country_iso3,
        variable=row.variable,
        period=row.period,
        period_start=row.period_start,
        period_end=row.period_end,
        value=row.value,
        source_id=row.source_id,
        ingest_run_id=row.ingest_run_id,
    )


def vintage_conditions(
    session: Session,
    *,
    max_ingest_run_id: int | None = None,
    vintage_as_of: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Only what was known at a past moment: observations of ingest runs up to an id, or that
    had finished loading at or before a time (a load is visible only once it commits).

    The finished runs are read first and the observations filtered on their ids, written as
    literals: PostgreSQL planned an ``IN (subquery)`` as a join to the runs, about a fifth
    slower on a history read of 200,000 observations (measured), and literals are not bound
    parameters, so no number of runs can reach a driver's parameter limit."""
    conditions: list[ColumnElement[bool]] = []
    if max_ingest_run_id is not None:
        conditions.append(Observation.ingest_run_id <= max_ingest_run_id)
    if vintage_as_of is not None:
        finished = session.scalars(
            select(IngestRun.id).where(
                IngestRun.finished_at.is_not(None), IngestRun.finished_at <= vintage_as_of
            )
        ).all()
        runs: BindParameter[list[int]] = bindparam(
            "finished_runs", sorted(finished), expanding=True, literal_execute=True
        )
        conditions.append(Observation.ingest_run_id.in_(runs))
    return conditions


def latest_values(
    session: Session,
    variables: Collection[str],
    *,
    as_of: date,
    earliest_period_start: date,
    max_ingest_run_id: int | None = None,
    vintage_as_of: datetime | None = None,
) -> list[LatestValue]:
    """For every (country, variable) among ``variables``: the newest period starting within
    [``earliest_period_start``, ``as_of``], in its newest vintage (not above
    ``max_ingest_run_id``, nor loaded after ``vintage_as_of``, when given). One query per 500
    variables."""
    results: list[LatestValue] = []
    ordered = sorted(set(variables))
    for start in range(0, len(ordered), _IN_CHUNK):
        conditions = [
            Observation.variable.in_(ordered[start : start + _IN_CHUNK]),
            Observation.period_start >= earliest_period_start,
            Observation.period_start <= as_of,
            *vintage_conditions(
                session, max_ingest_run_id=max_ingest_run_id, vintage_as_of=vintage_as_of
            ),
        ]
        newest = _first_ranked(
            conditions,
            partition=(Observation.country_iso3, Observation.variable),
            # Newest period first; a longer period wins a tie on the start (a year over its
            # January); within the period, the newest vintage.
            order=(
                Observation.period_start.desc(),
                Observation.period_end.desc(),
                Observation.ingest_run_id.desc(),
                Observation.id.desc(),
            ),
        )
        results.extend(_to_latest(row) for row in session.execute(newest))
    results.sort(key=lambda v: (v.variable, v.iso3))
    return results


def values_between(
    session: Session,
    variables: Collection[str],
    *,
    start: date,
    end: date,
    max_ingest_run_id: int | None = None,
    vintage_as_of: datetime | None = None,
) -> list[LatestValue]:
    """Every period of ``variables`` starting within [``start``, ``end``], each in its newest
    vintage (as known at the given vintage): the reference distribution of a percentile."""
    results: list[LatestValue] = []
    ordered = sorted(set(variables))
    for first in range(0, len(ordered), _IN_CHUNK):
        current = _first_ranked(
            [
                Observation.variable.in_(ordered[first : first + _IN_CHUNK]),
                Observation.period_start >= start,
                Observation.period_start <= end,
                *vintage_conditions(
                    session, max_ingest_run_id=max_ingest_run_id, vintage_as_of=vintage_as_of
                ),
            ],
            partition=(Observation.country_iso3, Observation.variable, Observation.period),
            order=(Observation.ingest_run_id.desc(), Observation.id.desc()),
        )
        results.extend(_to_latest(row) for row in session.execute(current))
    return results


def current_values(
    session: Session, variables: Collection[str]
) -> dict[tuple[str, str, str], float]:
    """The value readers see for every (country, variable, period) of ``variables``: the
    newest vintage of each, from any source. Ingest compares new payloads against it."""
    current: dict[tuple[str, str, str], float] = {}
    ordered = sorted(set(variables))
    for start in range(0, len(ordered), _IN_CHUNK):
        newest = _first_ranked(
            [Observation.variable.in_(ordered[start : start + _IN_CHUNK])],
            partition=(Observation.country_iso3, Observation.variable, Observation.period),
            order=(Observation.ingest_run_id.desc(), Observation.id.desc()),
        )
        for row in session.execute(newest):
            current[(row.country_iso3, row.variable, row.period)] = row.value
    return current


def observation_history(
    session: Session, iso3: str, variable: str | None = None
) -> list[LatestValue]:
    """Every period of one country's variable (or of all its variables), current vintage only,
    ordered by variable and period."""
    conditions = [Observation.country_iso3 == iso3]
    if variable is not None:
        conditions.append(Observation.variable == variable)
    current = _first_ranked(
        conditions,
        partition=(Observation.variable, Observation.period),
        order=(Observation.ingest_run_id.desc(), Observation.id.desc()),
    )
    rows = [_to_latest(row) for row in session.execute(current)]
    rows.sort(key=lambda v: (v.variable, v.period_start, v.period_end))
    return rows


def run_sources(session: Session, run_ids: Collection[int]) -> dict[int, str]:
    """The source of each ingest run."""
    if not run_ids:
        return {}
    query = select(IngestRun.id, IngestRun.source_id).where(IngestRun.id.in_(sorted(run_ids)))
    return {int(r[0]): r[1] for r in session.execute(query)}


def get_country(session: Session, iso3: str) -> Country | None:
    return session.get(Country, iso3)
