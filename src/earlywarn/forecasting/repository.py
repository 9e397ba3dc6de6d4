"""Every query of the forecasting stage."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from earlywarn.forecasting.models import Forecast, ForecastRegistryKey
from earlywarn.observations.repository import current_values


def insert_forecasts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Forecast), list(rows))


def forecasts_for_run(session: Session, score_run_id: int) -> dict[str, Forecast]:
    """A scoring run's forecasts by ISO3 (empty when the run made none, e.g. no promoted
    model). The alerting stage reads probabilities through this."""
    rows = session.scalars(select(Forecast).where(Forecast.score_run_id == score_run_id))
    return {f.country_iso3: f for f in rows}


def ranked_forecasts(session: Session, score_run_id: int) -> list[Forecast]:
    query = (
        select(Forecast)
        .where(Forecast.score_run_id == score_run_id)
        .order_by(Forecast.rank_2y, Forecast.country_iso3)
    )
    return list(session.scalars(query))


def country_forecasts(session: Session, iso3: str, *, limit: int) -> list[Forecast]:
    """One country's forecasts, newest scoring run first."""
    query = (
        select(Forecast)
        .where(Forecast.country_iso3 == iso3)
        .order_by(Forecast.score_run_id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def latest_forecast_run_id(session: Session) -> int | None:
    """The newest scoring run that stored forecasts."""
    query = select(Forecast.score_run_id).order_by(Forecast.score_run_id.desc()).limit(1)
    return session.scalars(query).one_or_none()


def country_year_values(
    session: Session, variables: Collection[str]
) -> dict[tuple[str, str, str], float]:
    """(ISO3, variable, period) -> value in its newest vintage: the panel's raw material."""
    return current_values(session, variables)


def registry_key(session: Session) -> str:
    """This database's model-registry key, made on first use (the oldest row wins if two
    processes race to make one; the other's model is then simply retrained)."""
    row = session.scalar(select(ForecastRegistryKey).order_by(ForecastRegistryKey.id).limit(1))
    if row is not None:
        return row.key
    row = ForecastRegistryKey(key=str(uuid.uuid4()))
    session.add(row)
    session.flush()
    return row.key


def latest_forecast_per_year(session: Session) -> list[Forecast]:
    """For each model version, data year and country, the forecast of the newest scoring run
    (a daily run repeats the same year's forecast: it counts once in a track record)."""
    newest = (
        select(func.max(Forecast.id))
        .group_by(Forecast.model_version, Forecast.data_year, Forecast.country_iso3)
        .scalar_subquery()
    )
    query = (
        select(Forecast)
        .where(Forecast.id.in_(newest))
        .order_by(Forecast.model_version, Forecast.data_year, Forecast.country_iso3)
    )
    return list(session.scalars(query))
