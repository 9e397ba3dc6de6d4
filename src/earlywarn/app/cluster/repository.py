"""Every query of the scheduler's tables. Each function owns a short transaction of its own:
a slot's claim must be committed before its work starts, whatever the work does after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from earlywarn.app.cluster.models import JobRun, JobRunStatus, NodeRole, SchedulerNode
from earlywarn.db import session_scope


class Claim(Enum):
    CLAIMED = "claimed"  # this node owns the slot: do the work
    TAKEN = "taken"  # done, or being done by a live node: skip it
    WAIT = "wait"  # a node that may be dead holds it: ask again at the next tick


@dataclass(frozen=True)
class LastSlot:
    scheduled_for: datetime
    status: JobRunStatus


def claim_slot(
    factory: sessionmaker[Session],
    job_name: str,
    scheduled_for: datetime,
    node: str,
    *,
    now: datetime,
    node_stale_after: timedelta,
) -> tuple[Claim, int | None]:
    """Insert the slot's row as ``running`` and commit it; the unique (job, slot) key makes a
    second insert fail. A slot left ``running`` by a node whose heartbeat stopped, or marked
    ``interrupted``, is taken over with a compare-and-set, so only one node re-runs it."""
    inserted = _insert_running(factory, job_name, scheduled_for, node, now)
    if inserted is not None:
        return Claim.CLAIMED, inserted
    with session_scope(factory) as session:
        existing = session.scalars(
            select(JobRun).where(JobRun.job_name == job_name, JobRun.scheduled_for == scheduled_for)
        ).one_or_none()
        if existing is None or existing.status in (JobRunStatus.SUCCEEDED, JobRunStatus.FAILED):
            return Claim.TAKEN, None
        if existing.status is JobRunStatus.RUNNING and not _node_dead(
            session, existing.node, now - node_stale_after
        ):
            return (Claim.WAIT if existing.node != node else Claim.TAKEN), None
        taken = session.execute(
            update(JobRun)
            .where(
                JobRun.id == existing.id,
                JobRun.status == existing.status,
                JobRun.node == existing.node,
            )
            .values(
                status=JobRunStatus.RUNNING,
                node=node,
                attempts=JobRun.attempts + 1,
                started_at=now,
                error=f"attempt by {existing.node} interrupted",
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            return Claim.CLAIMED, existing.id
        return Claim.TAKEN, None


# Jobs run on demand ("Ingest now") have no schedule: each keeps one row, at this fixed slot,
# which a new run takes over once the last one finished. The unique (job, slot) key and a
# compare-and-set make "one run at a time" hold across every process of a cluster.
ON_DEMAND_SLOT = datetime(2000, 1, 1, tzinfo=UTC)


def claim_on_demand(
    factory: sessionmaker[Session],
    job_name: str,
    node: str,
    *,
    now: datetime,
    node_stale_after: timedelta,
) -> int | None:
    """Mark the on-demand job ``running`` for ``node`` and commit; ``None`` when a live node
    runs it already. A run left ``running`` by a node whose heartbeat stopped is taken over."""
    inserted = _insert_running(factory, job_name, ON_DEMAND_SLOT, node, now)
    if inserted is not None:
        return inserted
    with session_scope(factory) as session:
        mine = (JobRun.job_name == job_name) & (JobRun.scheduled_for == ON_DEMAND_SLOT)
        existing = session.scalars(select(JobRun).where(mine)).one_or_none()
        if existing is None:
            return None
        if existing.status is JobRunStatus.RUNNING and not _node_dead(
            session, existing.node, now - node_stale_after
        ):
            return None
        taken = session.execute(
            update(JobRun)
            .where(
                JobRun.id == existing.id,
                JobRun.status == existing.status,
                JobRun.node == existing.node,
                JobRun.started_at == existing.started_at,
            )
            .values(
                status=JobRunStatus.RUNNING,
                node=node,
                attempts=1,
                started_at=now,
                finished_at=None,
                duration_seconds=None,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        return existing.id if getattr(taken, "rowcount", 0) == 1 else None


def latest_runs(factory: sessionmaker[Session], job_names: list[str]) -> dict[str, JobRun]:
    """Each named job's latest slot (detached rows, for reading)."""
    if not job_names:
        return {}
    newest = (
        select(JobRun.job_name, func.max(JobRun.scheduled_for).label("slot"))
        .where(JobRun.job_name.in_(job_names))
        .group_by(JobRun.job_name)
        .subquery()
    )
    with session_scope(factory) as session:
        rows = session.scalars(
            select(JobRun).join(
                newest,
                (JobRun.job_name == newest.c.job_name) & (JobRun.scheduled_for == newest.c.slot),
            )
        ).all()
        session.expunge_all()
    return {row.job_name: row for row in rows}


def _insert_running(
    factory: sessionmaker[Session], job_name: str, slot: datetime, node: str, now: datetime
) -> int | None:
    """Insert the (job, slot) row as ``running`` for ``node`` and commit it; ``None`` when
    the row exists already (the unique key refused a second insert)."""
    try:
        with session_scope(factory) as session:
            run = JobRun(
                job_name=job_name,
                scheduled_for=slot,
                status=JobRunStatus.RUNNING,
                node=node,
                attempts=1,
                started_at=now,
            )
            session.add(run)
            session.flush()
            return run.id
    except IntegrityError:
        return None


def _node_dead(session: Session, node: str, stale_before: datetime) -> bool:
    heartbeat = session.scalar(select(SchedulerNode.heartbeat_at).where(SchedulerNode.node == node))
    return heartbeat is None or heartbeat < stale_before


def finish_run(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    succeeded: bool,
    finished_at: datetime,
    duration_seconds: float,
    error: str | None = None,
) -> None:
    with session_scope(factory) as session:
        run = session.get(JobRun, run_id)
        if run is None:
            return
        run.status = JobRunStatus.SUCCEEDED if succeeded else JobRunStatus.FAILED
        run.finished_at = finished_at
        run.duration_seconds = duration_seconds
        run.error = error[:2000] if error else None


def last_slot(factory: sessionmaker[Session], job_name: str) -> LastSlot | None:
    with session_scope(factory) as session:
        row = session.execute(
            select(JobRun.scheduled_for, JobRun.status)
            .where(JobRun.job_name == job_name)
            .order_by(JobRun.scheduled_for.desc())
            .limit(1)
        ).one_or_none()
    return None if row is None else LastSlot(row[0], row[1])


def interrupt_dead_runs(
    factory: sessionmaker[Session], *, now: datetime, node_stale_after: timedelta
) -> int:
    """Mark ``interrupted`` the running slots of nodes that stopped heart-beating."""
    alive = select(SchedulerNode.node).where(SchedulerNode.heartbeat_at >= now - node_stale_after)
    with session_scope(factory) as session:
        result = session.execute(
            update(JobRun)
            .where(JobRun.status == JobRunStatus.RUNNING, JobRun.node.not_in(alive))
            .values(
                status=JobRunStatus.INTERRUPTED,
                finished_at=now,
                error="its scheduler stopped mid-run; the work was rolled back",
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def heartbeat(
    factory: sessionmaker[Session],
    node: str,
    *,
    role: NodeRole,
    now: datetime,
    started_at: datetime,
    leader_since: datetime | None,
) -> None:
    with session_scope(factory) as session:
        row = session.get(SchedulerNode, node)
        if row is None:
            session.add(
                SchedulerNode(
                    node=node,
                    role=role,
                    started_at=started_at,
                    heartbeat_at=now,
                    leader_since=leader_since,
                )
            )
            return
        row.role = role
        row.heartbeat_at = now
        row.leader_since = leader_since


def forget_nodes_before(factory: sessionmaker[Session], before: datetime) -> None:
    """Processes long gone (one row per process start would otherwise pile up)."""
    with session_scope(factory) as session:
        session.execute(delete(SchedulerNode).where(SchedulerNode.heartbeat_at < before))


def prune_finished_runs(factory: sessionmaker[Session], *, finished_before: datetime) -> int:
    """Delete the runs that finished before ``finished_before``, except each job's latest slot:
    the scheduler reads it to know which slot is due next (``last_slot``). Running rows are
    never deleted. Returns how many rows went."""
    newer = aliased(JobRun)
    latest_of_job = (
        select(func.max(newer.scheduled_for))
        .where(newer.job_name == JobRun.job_name)
        .scalar_subquery()
    )
    with session_scope(factory) as session:
        result = session.execute(
            delete(JobRun)
            .where(
                JobRun.status != JobRunStatus.RUNNING,
                JobRun.finished_at.is_not(None),
                JobRun.finished_at < finished_before,
                JobRun.scheduled_for < latest_of_job,
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def leader_heartbeat(session: Session) -> datetime | None:
    """The newest heartbeat of a node that says it leads (None: no leader seen)."""
    return session.scalar(
        select(func.max(SchedulerNode.heartbeat_at)).where(SchedulerNode.role == NodeRole.LEADER)
    )
