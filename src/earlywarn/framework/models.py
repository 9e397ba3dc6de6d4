"""The configuration that scoring and alerting read, mirrored into the database.

``config/*.yaml`` is the source of truth; ``framework.service.sync_configuration`` copies it here
so that every score and alert can point at the exact catalogue and weights it used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import Sphere, enum_column


class RiskFactor(Base):
    __tablename__ = "risk_factors"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # "common" or "specific"
    crime: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)


class Indicator(Base):
    __tablename__ = "indicators"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    risk_factor_number: Mapped[int] = mapped_column(ForeignKey("risk_factors.number"), index=True)
    name: Mapped[str] = mapped_column(Text)
    variable: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(24))
    transform: Mapped[str] = mapped_column(String(16))
    normalisation: Mapped[dict[str, Any]] = mapped_column()
    weight: Mapped[float] = mapped_column(Float)
    max_age_days: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column()  # the whole validated config entry


class ActionHeading(Base):
    """An action of the Framework for Action, e.g. 1.13 'Combat hate speech...'."""

    __tablename__ = "action_headings"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    sphere: Mapped[Sphere] = mapped_column(enum_column(Sphere, "sphere"))
    title: Mapped[str] = mapped_column(Text)


class RecommendedAction(Base):
    """One recommended-action row under a heading."""

    __tablename__ = "recommended_actions"
    __table_args__ = (UniqueConstraint("heading_code", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    heading_code: Mapped[str] = mapped_column(ForeignKey("action_headings.code"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    group_title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    for_imminent_risk: Mapped[bool] = mapped_column(Boolean, default=False)


class WeightSet(Base):
    """A versioned set of indicator and factor weights. New weights make a new version."""

    __tablename__ = "weight_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)
    indicator_weights: Mapped[dict[str, Any]] = mapped_column()
    factor_weights: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(128), default="config")
    note: Mapped[str | None] = mapped_column(Text)
