from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, defer

from earlywarn.countries.models import Country
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.types import RiskLevel


def add_run(session: Session, run: ScoreRun) -> ScoreRun:
    session.add(run)
    session.flush()
    return run


def insert_scores(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(CountryScore), list(rows))


def get_run(session: Session, run_id: int) -> ScoreRun | None:
    return session.get(ScoreRun, run_id)


def list_runs(session: Session, *, limit: int) -> list[ScoreRun]:
    return list(session.scalars(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(limit)))


def latest_successful_run(session: Session, *, before_run_id: int | None = None) -> ScoreRun | None:
    query = select(ScoreRun).where(ScoreRun.status == ScoreRunStatus.SUCCEEDED)
    if before_run_id is not None:
        query = query.where(ScoreRun.id < before_run_id)
    return session.scalars(query.order_by(ScoreRun.id.desc()).limit(1)).one_or_none()


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
    rows = session.execute(
        select(CountryScore, ScoreRun)
        .options(defer(CountryScore.factors))
        .join(ScoreRun, ScoreRun.id == CountryScore.score_run_id)
        .where(CountryScore.country_iso3 == iso3, ScoreRun.status == ScoreRunStatus.SUCCEEDED)
        .order_by(ScoreRun.id.desc())
        .limit(limit)
    )
    return [(score, run) for score, run in rows]


def country_names(session: Session, iso3s: Sequence[str]) -> dict[str, str]:
    """Names for many countries in one query (a ranked list must not query per row)."""
    if not iso3s:
        return {}
    query = select(Country.iso3, Country.name).where(Country.iso3.in_(set(iso3s)))
    return {row.iso3: row.name for row in session.execute(query)}
