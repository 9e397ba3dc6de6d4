"""The scheduler's tables: one row per scheduled slot run (``job_runs``) and one per scheduler
process (``scheduler_nodes``, its heartbeat)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import enum_column


class JobRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Its scheduler stopped heart-beating mid-run (killed, host lost): the work was rolled
    # back with its transaction, and the slot may be claimed again.
    INTERRUPTED = "interrupted"


class NodeRole(StrEnum):
    LEADER = "leader"
    FOLLOWER = "follower"
    STOPPED = "stopped"


class JobRun(Base):
    """One scheduled slot of one job. The unique (job_name, scheduled_for) key is the
    cluster-wide guarantee: the row is committed before the work starts, so a second
    scheduler, or a restarted one, that reaches the same slot gets a unique violation and
    skips it."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_name", "scheduled_for"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(100))
    scheduled_for: Mapped[datetime]
    status: Mapped[JobRunStatus] = mapped_column(enum_column(JobRunStatus, "status"))
    node: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None]
    duration_seconds: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)


class SchedulerNode(Base):
    """A scheduler process and its heartbeat, written every tick whether it leads or not."""

    __tablename__ = "scheduler_nodes"

    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[NodeRole] = mapped_column(enum_column(NodeRole, "role"))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    leader_since: Mapped[datetime | None]
