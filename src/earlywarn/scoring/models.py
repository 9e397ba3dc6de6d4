from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, JSONType, utc_now
from earlywarn.types import RiskLevel, enum_column


class ScoreRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ScoreRun(Base):
    __tablename__ = "score_runs"
    # "Latest" and "previous" mean by date, then by creation: (as_of, id).
    __table_args__ = (Index("ix_score_runs_as_of_id", "as_of", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[ScoreRunStatus] = mapped_column(
        enum_column(ScoreRunStatus, "status"), default=ScoreRunStatus.RUNNING
    )
    as_of: Mapped[date] = mapped_column(Date)
    weight_set_id: Mapped[int] = mapped_column(ForeignKey("weight_sets.id"))
    methodology_version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None]
    countries_scored: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # The data vintage scored: only observations of ingest runs that finished at or before
    # ``vintage_as_of`` (and with ids up to ``max_ingest_run_id``) counted. None: all data.
    vintage_as_of: Mapped[datetime | None]
    max_ingest_run_id: Mapped[int | None] = mapped_column(Integer)
    # The names of the factors its scores' summaries list, in their order (written once per
    # run rather than in every score; see ``scoring.summary``). None: a run without scores.
    factor_names: Mapped[list[str] | None] = mapped_column(JSONType)
    # False for runs alerting never saw: history backfills, and a run scored for a date
    # older than the newest run's. Alert rules read their history only from evaluated runs,
    # so a backfill cannot open, escalate or resolve a live alert.
    alerts_evaluated: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class CountryScore(Base):
    """A country's composite score in one run, with the full per-factor breakdown."""

    __tablename__ = "country_scores"
    __table_args__ = (UniqueConstraint("score_run_id", "country_iso3"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score_run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id"), index=True)
    country_iso3: Mapped[str] = mapped_column(ForeignKey("countries.iso3"), index=True)
    # Both None when too few risk factors have data to rate the country (see scoring.yaml).
    composite: Mapped[float | None] = mapped_column(Float)
    level: Mapped[RiskLevel | None] = mapped_column(enum_column(RiskLevel, "level"))
    coverage: Mapped[float] = mapped_column(Float)
    # Why the level is held at 'concern' at most: coverage below min_coverage_for_level
    # (scoring.evidence); None when the evidence suffices.
    insufficient_data: Mapped[str | None] = mapped_column(Text)
    # The full breakdown (every factor, every indicator value), read for one country at a time.
    factors: Mapped[dict[str, Any]] = mapped_column()
    # Factor scores only: what ranked lists show, small enough to read for every country.
    # Stored compactly, read through ``scoring.summary.factor_summary``.
    factor_summary: Mapped[dict[str, Any]] = mapped_column()
    weight_set_id: Mapped[int] = mapped_column(ForeignKey("weight_sets.id"))
    methodology_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ScoreRunPanel(Base):
    """A history run's breakdowns as one binary panel (numpy ``.npz``, no pickles): every
    country's inputs, contributions, factor scores and terms for that date. Its scores point
    at their row (``{"format": "panel", "row": k}``) and the API expands a row into exactly
    the breakdown a normal run stores; one blob per run writes in a fraction of the time of
    thousands of JSON documents."""

    __tablename__ = "score_run_panels"

    score_run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
