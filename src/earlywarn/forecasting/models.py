from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, JSONType, utc_now


class Forecast(Base):
    """A country's onset probabilities made beside its risk-factor score in one scoring run.

    ``probability_1y`` is the probability that a mass killing begins in the year after
    ``data_year``; ``probability_2y`` that one begins within the two years after it.
    ``drivers`` lists the predictors that move ``probability_2y`` most when set to their
    cross-country typical value (see forecasting/service.py).
    """

    __tablename__ = "forecasts"
    __table_args__ = (UniqueConstraint("score_run_id", "country_iso3"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score_run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id"), index=True)
    country_iso3: Mapped[str] = mapped_column(ForeignKey("countries.iso3"), index=True)
    model_version: Mapped[str] = mapped_column(String(128))
    data_year: Mapped[int] = mapped_column(Integer)
    probability_1y: Mapped[float] = mapped_column(Float)
    probability_2y: Mapped[float] = mapped_column(Float)
    rank_2y: Mapped[int] = mapped_column(Integer)
    # The interval of the two-year probability and rank (the spread of the nested model's
    # members, docs/forecasting-procedure.md); null for a model without one.
    probability_2y_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    probability_2y_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    rank_2y_best: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rank_2y_worst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The same for the one-year probability (its own model's members); no rank is kept for
    # the one-year horizon, so neither is a rank interval.
    probability_1y_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    probability_1y_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    drivers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ForecastRegistryKey(Base):
    """The database's own key for its model registry (one row, made on first use): models
    live under ``<models dir>/<key>/``, so two databases never share a model by accident,
    even with one models directory (a fresh database gets a fresh key, hence no model)."""

    __tablename__ = "forecast_registry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
