"""Every query of the scoring stage over its own tables: score runs, scores, panels.

The one read of the observations a history is scored from is ``history_read``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import ColumnElement, and_, func, insert, or_, select
from sqlalchemy.orm import Session, aliased, defer

from earlywarn.countries.models import Country
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
    "insufficient_data",
    "factors",
    "factor_summary",
    "weight_set_id",
    "methodology_version",
    "created_at",
)


def _dumps(value: Any) -> str:
    # orjson (already a dependency): the standard encoder took ~0.4 s for a history's 13,000
    # factor summaries, more than the insert itself. Floats keep their shortest round-trip
    # form; numpy scalars are accepted as json accepted np.float64. It writes NaN as null
    # where json refused it (PostgreSQL) or wrote a non-JSON token (SQLite); the rows carry
    # no NaN (missing scores are None already).
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


_JSON_SCORE_COLUMNS = frozenset({"factors", "factor_summary"})


def insert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert score rows (dicts of ``_SCORE_COLUMNS``) in the session's transaction.

    On PostgreSQL through COPY: psycopg's executemany sends one INSERT per row, which made
    writing a history's thousands of scores slower than scoring them. Elsewhere the DBAPI's
    executemany with each column's own SQLAlchemy bind conversion (the ORM's per-row
    bookkeeping cost more than SQLite's insert), JSON encoded by orjson."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        dialect = connection.dialect
        table = CountryScore.__table__
        convert = [
            _dumps
            if name in _JSON_SCORE_COLUMNS
            else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in _SCORE_COLUMNS
        ]
        statement = insert(CountryScore).compile(dialect=dialect, column_keys=list(_SCORE_COLUMNS))
        if list(statement.positiontup or []) != list(_SCORE_COLUMNS):
            raise RuntimeError("unexpected parameter order for inserting scores")
        connection.exec_driver_sql(
            str(statement),
            [
                tuple(
                    value if f is None or value is None else f(value)
                    for f, value in zip(convert, (row[c] for c in _SCORE_COLUMNS), strict=True)
                )
                for row in rows
            ],
        )
        return
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
                    row["insufficient_data"],
                    _dumps(row["factors"]),
                    _dumps(row["factor_summary"]),
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


def runs_before(run_id: int, *, inclusive: bool = False) -> ColumnElement[bool]:
    """Runs before ``run_id`` in (as_of, id) order: an earlier date, or the same date and
    created before it (or ``run_id`` itself, when ``inclusive``). Matches nothing when
    ``run_id`` does not exist."""
    reference = aliased(ScoreRun)
    as_of = select(reference.as_of).where(reference.id == run_id).scalar_subquery()
    same_day = ScoreRun.id <= run_id if inclusive else ScoreRun.id < run_id
    return or_(ScoreRun.as_of < as_of, and_(ScoreRun.as_of == as_of, same_day))


def successful_runs_on(
    session: Session, dates: Sequence[date], *, weight_set_id: int, methodology_version: str
) -> list[tuple[int, date]]:
    """(id, as_of) of the successful runs on ``dates`` under one weight set and methodology,
    oldest first."""
    rows = session.execute(
        select(ScoreRun.id, ScoreRun.as_of)
        .where(
            ScoreRun.status == ScoreRunStatus.SUCCEEDED,
            ScoreRun.weight_set_id == weight_set_id,
            ScoreRun.methodology_version == methodology_version,
            ScoreRun.as_of.in_(dates),
        )
        .order_by(ScoreRun.as_of, ScoreRun.id)
    )
    return [(run_id, as_of) for run_id, as_of in rows]


def latest_successful_run(session: Session, *, before_run_id: int | None = None) -> ScoreRun | None:
    """The newest-dated successful run (of those before ``before_run_id`` in time, when given)."""
    query = select(ScoreRun).where(ScoreRun.status == ScoreRunStatus.SUCCEEDED)
    if before_run_id is not None:
        query = query.where(runs_before(before_run_id))
    return session.scalars(query.order_by(*NEWEST_FIRST).limit(1)).one_or_none()


class RunKey(NamedTuple):
    id: int
    finished_at: datetime | None


def latest_successful_run_key(session: Session) -> RunKey | None:
    """The newest-dated successful run's id and end, without loading the run (a cache key)."""
    query = (
        select(ScoreRun.id, ScoreRun.finished_at)
        .where(ScoreRun.status == ScoreRunStatus.SUCCEEDED)
        .order_by(*NEWEST_FIRST)
        .limit(1)
    )
    row = session.execute(query).first()
    return RunKey(row.id, row.finished_at) if row is not None else None


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


def rank_in_run(session: Session, score: CountryScore) -> int | None:
    """The score's place in its run's ranking (the order of ``scores_for_run``: composite
    descending, ties by ISO3); None when unrated. Counted in the database, not by loading
    the whole run."""
    if score.composite is None:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(CountryScore)
        .where(
            CountryScore.score_run_id == score.score_run_id,
            CountryScore.composite.is_not(None),
            or_(
                CountryScore.composite > score.composite,
                and_(
                    CountryScore.composite == score.composite,
                    CountryScore.country_iso3 < score.country_iso3,
                ),
            ),
        )
    )
    return int(ahead or 0) + 1


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
