"""Each scheduled slot runs once cluster-wide: the unique (job, slot) record, its take-over
when its node died, the slot arithmetic, and two schedulers on one database."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository
from earlywarn.app.cluster.models import JobRun, JobRunStatus, NodeRole
from earlywarn.app.cluster.repository import Claim
from earlywarn.app.cluster.runner import ClusterScheduler
from earlywarn.app.cluster.slots import (
    ScheduledJob,
    cron_trigger,
    first_slot_after,
    interval_trigger,
    latest_slot,
)

T0 = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
STALE = timedelta(seconds=6)


def _beat(factory: sessionmaker[Session], node: str, now: datetime) -> None:
    repository.heartbeat(
        factory, node, role=NodeRole.LEADER, now=now, started_at=now, leader_since=now
    )


def test_a_slot_is_claimed_once_and_a_live_owner_keeps_it(
    session_factory: sessionmaker[Session],
) -> None:
    _beat(session_factory, "a", T0)
    first = repository.claim_slot(session_factory, "job", T0, "a", now=T0, node_stale_after=STALE)
    assert first[0] is Claim.CLAIMED
    # b reaches the same slot while a works on it (a heart-beats): b must not run it.
    again = repository.claim_slot(session_factory, "job", T0, "b", now=T0, node_stale_after=STALE)
    assert again == (Claim.WAIT, None)
    assert first[1] is not None
    repository.finish_run(
        session_factory, first[1], succeeded=True, finished_at=T0, duration_seconds=0.5
    )
    later = T0 + timedelta(minutes=5)
    done = repository.claim_slot(session_factory, "job", T0, "b", now=later, node_stale_after=STALE)
    assert done == (Claim.TAKEN, None)
    # Another job's slot at the same time is a different slot.
    other = repository.claim_slot(session_factory, "other", T0, "b", now=T0, node_stale_after=STALE)
    assert other[0] is Claim.CLAIMED
    with session_factory() as session:
        run = session.scalars(select(JobRun).where(JobRun.job_name == "job")).one()
    assert (run.status, run.node, run.attempts, run.duration_seconds) == (
        JobRunStatus.SUCCEEDED,
        "a",
        1,
        0.5,
    )


def test_a_dead_nodes_slot_is_taken_over_by_exactly_one_node(
    session_factory: sessionmaker[Session],
) -> None:
    _beat(session_factory, "dead", T0)
    claim, run_id = repository.claim_slot(
        session_factory, "job", T0, "dead", now=T0, node_stale_after=STALE
    )
    assert claim is Claim.CLAIMED
    later = T0 + STALE + timedelta(seconds=1)  # "dead" stopped heart-beating at T0
    for node in ("b", "c"):
        _beat(session_factory, node, later)
    outcomes = [
        repository.claim_slot(session_factory, "job", T0, node, now=later, node_stale_after=STALE)
        for node in ("b", "c")
    ]
    assert outcomes == [(Claim.CLAIMED, run_id), (Claim.WAIT, None)]
    with session_factory() as session:
        run = session.scalars(select(JobRun)).one()
    assert (run.node, run.attempts, run.status) == ("b", 2, JobRunStatus.RUNNING)
    assert run.error == "attempt by dead interrupted"


def test_running_slots_of_dead_nodes_are_marked_interrupted(
    session_factory: sessionmaker[Session],
) -> None:
    _beat(session_factory, "dead", T0)
    _beat(session_factory, "alive", T0 + timedelta(seconds=30))
    for node, job in (("dead", "one"), ("alive", "two")):
        repository.claim_slot(session_factory, job, T0, node, now=T0, node_stale_after=STALE)
    now = T0 + timedelta(seconds=31)
    assert repository.interrupt_dead_runs(session_factory, now=now, node_stale_after=STALE) == 1
    with session_factory() as session:
        status = dict(session.execute(select(JobRun.job_name, JobRun.status)).all())  # type: ignore[arg-type]
    assert status == {"one": JobRunStatus.INTERRUPTED, "two": JobRunStatus.RUNNING}


def test_slots_are_the_same_on_every_node_and_missed_ones_coalesce() -> None:
    every_3s = interval_trigger(3)
    # Counted from a fixed epoch, not from the process start: any node computes the same.
    assert first_slot_after(every_3s, T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=3)
    assert first_slot_after(every_3s, T0 + timedelta(seconds=3)) == T0 + timedelta(seconds=6)
    now = T0 + timedelta(seconds=31)
    assert latest_slot(every_3s, T0 + timedelta(seconds=3), now) == T0 + timedelta(seconds=30)
    daily = cron_trigger("0 3 * * *")
    assert first_slot_after(daily, T0) == T0 + timedelta(days=1)
    # Three days without a scheduler: one run, for the latest slot.
    assert latest_slot(daily, T0, T0 + timedelta(days=3, hours=2)) == T0 + timedelta(days=3)
    # Over a month down: the catch-up starts no earlier than 31 days back.
    assert latest_slot(daily, T0, T0 + timedelta(days=400)) == T0 + timedelta(days=400)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_restarted_scheduler_runs_a_missed_slot_once(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    ran: list[str] = []
    job = ScheduledJob("pipeline", interval_trigger(60), lambda: ran.append("run"))
    clock = _Clock(T0)
    first = ClusterScheduler(engine, session_factory, [job], clock=clock, node="first")
    first.tick()  # leads; the first slot after its start is T0 + 60 s: nothing due yet
    clock.now = T0 + timedelta(seconds=61)
    first.tick()
    first.stop()
    assert ran == ["run"]
    # Down for ten minutes; a new process starts: the nine missed slots run once, as one.
    clock.now = T0 + timedelta(minutes=11, seconds=5)
    second = ClusterScheduler(engine, session_factory, [job], clock=clock, node="second")
    second.tick()
    second.tick()
    second.stop()
    assert ran == ["run", "run"]
    with session_factory() as session:
        slots = session.execute(
            select(JobRun.scheduled_for, JobRun.node, JobRun.status).order_by(JobRun.id)
        ).all()
    assert [tuple(s) for s in slots] == [
        (T0 + timedelta(seconds=60), "first", JobRunStatus.SUCCEEDED),
        (T0 + timedelta(minutes=11), "second", JobRunStatus.SUCCEEDED),
    ]


def test_a_failing_job_records_its_failure(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    def broken() -> None:
        raise RuntimeError("source unreachable")

    clock = _Clock(T0)
    scheduler = ClusterScheduler(
        engine, session_factory, [ScheduledJob("ingest", interval_trigger(60), broken)], clock=clock
    )
    scheduler.tick()
    clock.now = T0 + timedelta(seconds=60)
    scheduler.tick()
    scheduler.stop()
    with session_factory() as session:
        run = session.scalars(select(JobRun)).one()
    assert run.status is JobRunStatus.FAILED
    assert run.error == "RuntimeError: source unreachable"


def _finished_runs(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(JobRun)
                .where(JobRun.status != JobRunStatus.RUNNING)
            )
            or 0
        )


def test_two_schedulers_on_one_database_run_each_slot_once(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """On SQLite both lead (one node by definition), so only the slot records keep them
    apart; on PostgreSQL one leads. Either way each slot's work happens once."""
    done: list[datetime] = []
    lock = threading.Lock()

    def work() -> None:
        with lock:
            done.append(datetime.now(UTC))
        time.sleep(0.05)

    job = ScheduledJob("fast", interval_trigger(0.5), work)
    schedulers = [
        ClusterScheduler(engine, session_factory, [job], tick_seconds=0.1) for _ in range(2)
    ]
    for scheduler in schedulers:
        scheduler.start()
    # Both compete for at least four seconds (eight slots), and until three slots have run:
    # a loaded machine may run the schedulers' threads late, which proves nothing either way.
    started = time.monotonic()
    while time.monotonic() - started < 4 or _finished_runs(session_factory) < 3:
        assert time.monotonic() - started < 120, "the schedulers ran fewer than three slots"
        time.sleep(0.1)
    for scheduler in schedulers:
        scheduler.stop()
    with session_factory() as session:
        runs = session.execute(select(JobRun.scheduled_for, JobRun.status, JobRun.node)).all()
    assert len(runs) >= 3, "the schedulers ran too few slots to tell anything"
    assert Counter(r.scheduled_for for r in runs).most_common(1)[0][1] == 1
    assert {r.status for r in runs} == {JobRunStatus.SUCCEEDED}
    assert len(done) == len(runs)  # the work ran once per recorded slot, never twice
    if engine.dialect.name == "postgresql":
        assert len({r.node for r in runs}) == 1  # the leader ran them all
