from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Integer, Text, and_, cast, func, insert, literal, or_, select
from sqlalchemy.orm import Session, aliased, defer

from earlywarn.countries.models import Country
from earlywarn.ingest.models import IngestRun
from earlywarn.observations.models import Observation
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunPanel, ScoreRunStatus
from earlywarn.types import RiskLevel


def add_run(session: Session, run: ScoreRun) -> ScoreRun:
    session.add(run)
    session.flush()
    return run


_SCORE_COLUMNS = (
    "score_run_id",
    "country_iso3",
    "composite",
    "level",
    "coverage",
    "factors",
    "factor_summary",
    "weight_set_id",
    "methodology_version",
    "created_at",
)


def insert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert score rows (dicts of ``_SCORE_COLUMNS``) in the session's transaction.

    On PostgreSQL through COPY: psycopg's executemany sends one INSERT per row, which made
    writing a history's thousands of scores slower than scoring them. Elsewhere Core
    executemany."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(CountryScore), list(rows))
        return
    # orjson (already a dependency): the standard encoder took ~0.4 s for a history's 13,000
    # factor summaries, more than the COPY itself. Floats keep their shortest round-trip
    # form; numpy scalars are accepted as json accepted np.float64. It writes NaN as null
    # where json refused it; the rows carry no NaN (missing scores are None already).

    def dumps(value: Any) -> str:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()

    columns = ", ".join(_SCORE_COLUMNS)
    with (
        connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY country_scores ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            level = row["level"]
            copy.write_row(
                (
                    row["score_run_id"],
                    row["country_iso3"],
                    row["composite"],
                    None if level is None else RiskLevel(level).value,
                    row["coverage"],
                    dumps(row["factors"]),
                    dumps(row["factor_summary"]),
                    row["weight_set_id"],
                    row["methodology_version"],
                    row["created_at"],
                )
            )


def insert_panels(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(ScoreRunPanel), list(rows))


def run_panel(session: Session, run_id: int) -> bytes | None:
    return session.scalar(select(ScoreRunPanel.data).where(ScoreRunPanel.score_run_id == run_id))


def get_run(session: Session, run_id: int) -> ScoreRun | None:
    return session.get(ScoreRun, run_id)


def list_runs(session: Session, *, limit: int) -> list[ScoreRun]:
    return list(session.scalars(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(limit)))


# "Latest" and "previous" are by date, then by creation: a history backfilled after the live
# runs holds older dates with higher ids, and must not become "the latest run".
NEWEST_FIRST = (ScoreRun.as_of.desc(), ScoreRun.id.desc())


def runs_before(run_id: int) -> ColumnElement[bool]:
    """Runs before ``run_id`` in (as_of, id) order: an earlier date, or the same date and
    created before it. Matches nothing when ``run_id`` does not exist."""
    reference = aliased(ScoreRun)
    as_of = select(reference.as_of).where(reference.id == run_id).scalar_subquery()
    return or_(ScoreRun.as_of < as_of, and_(ScoreRun.as_of == as_of, ScoreRun.id < run_id))


def latest_successful_run(session: Session, *, before_run_id: int | None = None) -> ScoreRun | None:
    """The newest-dated successful run (of those before ``before_run_id`` in time, when given)."""
    query = select(ScoreRun).where(ScoreRun.status == ScoreRunStatus.SUCCEEDED)
    if before_run_id is not None:
        query = query.where(runs_before(before_run_id))
    return session.scalars(query.order_by(*NEWEST_FIRST).limit(1)).one_or_none()


def scores_for_run(
    session: Session,
    run_id: int,
    *,
    level: RiskLevel | None = None,
    min_coverage: float = 0.0,
    limit: int | None = None,
) -> list[CountryScore]:
    """A run's scores ranked: highest composite first, unrated countries last."""
    # The full breakdown is large; ranked lists need only the factor summary.
    query = (
        select(CountryScore)
        .options(defer(CountryScore.factors))
        .where(CountryScore.score_run_id == run_id, CountryScore.coverage >= min_coverage)
    )
    if level is not None:
        query = query.where(CountryScore.level == level)
    query = query.order_by(
        CountryScore.composite.is_(None), CountryScore.composite.desc(), CountryScore.country_iso3
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def score_for_country(session: Session, run_id: int, iso3: str) -> CountryScore | None:
    return session.scalars(
        select(CountryScore).where(
            CountryScore.score_run_id == run_id, CountryScore.country_iso3 == iso3
        )
    ).one_or_none()


def country_history(
    session: Session, iso3: str, *, limit: int
) -> list[tuple[CountryScore, ScoreRun]]:
    """A country's scores without the breakdown, newest-dated run first."""
    rows = session.execute(
        select(CountryScore, ScoreRun)
        .options(defer(CountryScore.factors))
        .join(ScoreRun, ScoreRun.id == CountryScore.score_run_id)
        .where(CountryScore.country_iso3 == iso3, ScoreRun.status == ScoreRunStatus.SUCCEEDED)
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    return [(score, run) for score, run in rows]


def country_names(session: Session, iso3s: Sequence[str]) -> dict[str, str]:
    """Names for many countries in one query (a ranked list must not query per row)."""
    if not iso3s:
        return {}
    query = select(Country.iso3, Country.name).where(Country.iso3.in_(set(iso3s)))
    return {row.iso3: row.name for row in session.execute(query)}


def scores_with_breakdown(session: Session, run_id: int) -> list[CountryScore]:
    """A run's scores with their full breakdown, by country code (for re-scoring a run)."""
    query = (
        select(CountryScore)
        .where(CountryScore.score_run_id == run_id)
        .order_by(CountryScore.country_iso3)
    )
    return list(session.scalars(query))


def latest_run_as_of(session: Session, as_of: date) -> ScoreRun | None:
    """The latest successful run that scored a date on or before ``as_of``."""
    query = (
        select(ScoreRun)
        .where(ScoreRun.status == ScoreRunStatus.SUCCEEDED, ScoreRun.as_of <= as_of)
        .order_by(*NEWEST_FIRST)
        .limit(1)
    )
    return session.scalars(query).one_or_none()


def country_scores_with_runs(
    session: Session, iso3: str, *, limit: int
) -> list[tuple[CountryScore, ScoreRun]]:
    """A country's scores with their breakdown, newest-dated run first."""
    rows = session.execute(
        select(CountryScore, ScoreRun)
        .join(ScoreRun, ScoreRun.id == CountryScore.score_run_id)
        .where(CountryScore.country_iso3 == iso3, ScoreRun.status == ScoreRunStatus.SUCCEEDED)
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    return [(score, run) for score, run in rows]


def previous_score(
    session: Session, iso3: str, before_run_id: int
) -> tuple[CountryScore, ScoreRun] | None:
    """The country's score in the latest successful run before ``before_run_id`` in time."""
    row = session.execute(
        select(CountryScore, ScoreRun)
        .join(ScoreRun, ScoreRun.id == CountryScore.score_run_id)
        .where(
            CountryScore.country_iso3 == iso3,
            ScoreRun.status == ScoreRunStatus.SUCCEEDED,
            runs_before(before_run_id),
        )
        .order_by(*NEWEST_FIRST)
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


EPOCH = date(1970, 1, 1)
_JULIAN_EPOCH = 2440587.5  # julianday('1970-01-01')

# The separator of the aggregated columns below; it cannot occur in dates, numbers or ids.
COLUMN_SEPARATOR = "|"


def observation_groups(
    session: Session,
    variables: Collection[str],
    *,
    end: date,
    vintage_as_of: datetime | None = None,
) -> list[tuple[str, str, int, str, str, str, str, str]]:
    """Every vintage of every period of ``variables`` starting on or before ``end`` (of ingest
    runs finished by ``vintage_as_of`` when given), for scoring a whole history from one read;
    the engine picks the newest vintage itself.

    One row per (country, variable), its observations' period starts, period ends, values,
    ingest runs and period labels joined into '|'-separated text: ~16,000 rows for a million
    observations, parsed by numpy in C rather than row by row in Python (that per-row cost,
    not the database, dominated a history read). Period starts and ends are days since
    1970-01-01 (integers parse several times faster than dates). Values are written with 17
    significant digits (SQLite) or PostgreSQL's exact shortest form, so they read back
    exactly."""
    dialect = session.get_bind().dialect.name
    columns: list[Any]
    value_text: Any
    # Every aggregate of a group is fed the group's rows in the same order (one pass over
    # the input, no per-aggregate ORDER BY), so the joined columns line up; an ORDER BY
    # inside each aggregate would sort every group once per column.
    if dialect == "postgresql":

        def joined(column: Any) -> Any:
            return func.string_agg(cast(column, Text), literal(COLUMN_SEPARATOR))

        value_text = Observation.value

        def days(column: Any) -> Any:
            return column - literal(EPOCH)  # date - date is an integer on PostgreSQL

    else:

        def joined(column: Any) -> Any:
            return func.group_concat(column, COLUMN_SEPARATOR)

        value_text = func.printf("%.17g", Observation.value)

        def days(column: Any) -> Any:
            # Dates are ISO text on SQLite; a day's Julian number is exact in a double.
            return cast(func.julianday(column) - _JULIAN_EPOCH, Integer)

    columns = [
        Observation.country_iso3,
        Observation.variable,
        func.count(),
        joined(days(Observation.period_start)),
        joined(days(Observation.period_end)),
        joined(value_text),
        joined(Observation.ingest_run_id),
        joined(Observation.period),
    ]
    query = (
        select(*columns)
        .where(Observation.variable.in_(sorted(set(variables))), Observation.period_start <= end)
        # In the order of the (variable, country, period_start) index: no sort on SQLite
        # (PostgreSQL hashes, see _hash_aggregate).
        .group_by(Observation.variable, Observation.country_iso3)
    )
    if vintage_as_of is not None:
        finished = session.scalars(
            select(IngestRun.id).where(
                IngestRun.finished_at.is_not(None), IngestRun.finished_at <= vintage_as_of
            )
        ).all()
        query = query.where(Observation.ingest_run_id.in_(list(finished) or [-1]))
    if dialect == "postgresql":
        with _hash_aggregate(session):
            result = session.execute(query).all()
    else:
        result = session.execute(query).all()
    return [(row[0], row[1], int(row[2]), row[3], row[4], row[5], row[6], row[7]) for row in result]


# Memory PostgreSQL may use for the hash table of ``observation_groups`` (~110 MB measured
# for a million observations; beyond it the hash spills to disk, still correct).
_HASH_AGGREGATE_WORK_MEM = "256MB"


@contextmanager
def _hash_aggregate(session: Session) -> Iterator[None]:
    """Let PostgreSQL group ``observation_groups`` by hashing, for this query only.

    Left to itself the planner sorts the million rows by (variable, country) under the
    database's linguistic collation (or walks the index in that order): ~0.9 s of a history
    read, against ~0.5 s hashing the 16,000 groups in memory, measured. The groups' order
    does not matter (``ObservationTable.from_groups`` codes them itself) and each group still
    feeds all its aggregates the same rows in the same order. The settings are transaction
    local and put back right after, so later queries of the caller's transaction plan as
    usual."""
    names = ("enable_sort", "work_mem")
    before = session.execute(select(*(func.current_setting(n) for n in names))).one()
    session.execute(
        select(
            func.set_config("enable_sort", "off", True),
            func.set_config("work_mem", _HASH_AGGREGATE_WORK_MEM, True),
        )
    )
    yield
    # Not in a ``finally``: a failed query aborts the transaction, whose rollback undoes the
    # settings anyway, and a statement sent now would only mask the original error.
    session.execute(
        select(*(func.set_config(n, v, True) for n, v in zip(names, before, strict=True)))
    )


def run_sources(session: Session, run_ids: Collection[int]) -> dict[int, str]:
    """The source of each ingest run."""
    if not run_ids:
        return {}
    query = select(IngestRun.id, IngestRun.source_id).where(IngestRun.id.in_(sorted(run_ids)))
    return {int(r[0]): r[1] for r in session.execute(query)}
