"""The observation store: the sources, the ingest runs that loaded them and the values.

A run is what a vintage is: every observation names the run that loaded it, and "what was
known at a moment" is read off the runs (their ids and finish times). So the run record sits
here, below both the ingest stage that writes it and the scoring stage that filters on it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import BigIntPK, enum_column


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"  # the payload's digest matched the last successful load
    FAILED = "failed"


# Appended to the source id of an observation that an event-count source's coverage rule filled
# with zero (a covered country-period in which the run found no event), so the row itself says
# it is a zero-fill and not a counted value. The run that wrote it is the source's run.
ZERO_FILL_SUFFIX = "+zero_fill"


def zero_fill_source_id(source_id: str) -> str:
    return f"{source_id}{ZERO_FILL_SUFFIX}"


def is_zero_fill(source_id: str) -> bool:
    return source_id.endswith(ZERO_FILL_SUFFIX)


def base_source_id(source_id: str) -> str:
    """The source that wrote an observation, zero-fill or not."""
    return source_id.removesuffix(ZERO_FILL_SUFFIX)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # "file" or "api"
    url: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class IngestRun(Base):
    """One attempt to load one source. Written before the load starts, finished after it."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    status: Mapped[RunStatus] = mapped_column(
        enum_column(RunStatus, "status"), default=RunStatus.RUNNING
    )
    trigger: Mapped[str] = mapped_column(String(16), default="cli")
    source_uri: Mapped[str | None] = mapped_column(Text)  # never carries credentials
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    content_digest: Mapped[str | None] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Observation(Base):
    """One value of one variable for one country and period, as delivered by one ingest run.

    Rows are never updated: a revised value is a new row (a new vintage) and the newest
    ingest run wins when reading. Missing values are not stored. ``source_id`` ends in
    ``ZERO_FILL_SUFFIX`` where the value is a zero-fill of a covered, quiet period.
    """

    __tablename__ = "observations"
    # SQLite: every column a history read takes (``scoring.history_read.observation_groups``),
    # so it walks the index alone rather than looking up a million rows in the table;
    # PostgreSQL reads the table in one sequential pass instead (migration 0010).
    __table_args__ = (
        Index(
            "ix_observations_variable_country_period", "variable", "country_iso3", "period_start"
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_observations_variable_country_period_all",
            "variable",
            "country_iso3",
            "period_start",
            "period_end",
            "ingest_run_id",
            "period",
            "value",
        ).ddl_if(dialect="sqlite"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # No foreign keys to countries or sources: PostgreSQL checks one per inserted row, which
    # cost two thirds of a bulk load. The loader refuses unknown ISO3 codes against the
    # countries table before inserting, and the run (which keeps its key) names the source.
    # See migration 0006.
    country_iso3: Mapped[str] = mapped_column(String(3))
    variable: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(10))  # "2024", "2024-03" or "2024-03-05"
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    source_id: Mapped[str] = mapped_column(String(32))
    ingest_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utc_now)
