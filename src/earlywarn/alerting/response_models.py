"""What was done about an alert: the early actions focal points record (issue 15).

An action is one of the alert's recommended rows (``catalogue_code``) or a free-text action,
with its sphere, who acts, a status (planned, under way, done, dropped with a reason), a due
date and an outcome note. Every change is also an ``AlertEvent`` in the alert's audit trail.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import Sphere, enum_column


class ActionStatus(StrEnum):
    PLANNED = "planned"
    UNDER_WAY = "under_way"
    DONE = "done"
    DROPPED = "dropped"


class AlertAction(Base):
    __tablename__ = "alert_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    # A row of the Framework for Action catalogue (e.g. "4.3.1"); None for a free-text action.
    catalogue_code: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    sphere: Mapped[Sphere] = mapped_column(enum_column(Sphere, "sphere"))
    who_acts: Mapped[str] = mapped_column(String(200))
    status: Mapped[ActionStatus] = mapped_column(
        enum_column(ActionStatus, "status"), default=ActionStatus.PLANNED
    )
    dropped_reason: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None]
    outcome_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by: Mapped[str] = mapped_column(String(128))
