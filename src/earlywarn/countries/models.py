from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base


class Country(Base):
    """One state (current or historical) with every code the sources use for it."""

    __tablename__ = "countries"

    iso3: Mapped[str] = mapped_column(String(3), primary_key=True)
    iso2: Mapped[str | None] = mapped_column(String(2), unique=True)
    m49: Mapped[int | None] = mapped_column(Integer)
    gw_code: Mapped[int | None] = mapped_column(Integer, index=True)
    cow_code: Mapped[int | None] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(128))
    region: Mapped[str | None] = mapped_column(String(64))
    is_historical: Mapped[bool] = mapped_column(Boolean, default=False)
