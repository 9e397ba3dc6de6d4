from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import BigIntPK


class Observation(Base):
    """One value of one variable for one country and period, as delivered by one ingest run.

    Rows are never updated: a revised value is a new row (a new vintage) and the newest
    ingest run wins when reading. Missing values are not stored.
    """

    __tablename__ = "observations"
    # SQLite: every column a history read takes (``scoring.repository.observation_groups``),
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
