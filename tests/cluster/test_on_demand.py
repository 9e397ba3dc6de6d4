"""Jobs started on demand ("Ingest now") run once at a time cluster-wide: one job_runs row per
job, claimed with a compare-and-set, kept alive by its process's heartbeat, taken over when
that process died."""

from __future__ import annotations

import functools
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository
from earlywarn.app.cluster.models import JobRun, JobRunStatus, NodeRole, SchedulerNode
from earlywarn.app.cluster.on_demand import OnDemandRunner
from earlywarn.db import utc_now

STALE = timedelta(seconds=6)
STALE_TICKS = timedelta(seconds=0.6)  # three ticks of the runners below (tick_seconds=0.2)
WAIT_SECONDS = 30


def _beat(factory: sessionmaker[Session], node: str) -> None:
    now = utc_now()
    repository.heartbeat(
        factory, node, role=NodeRole.FOLLOWER, now=now, started_at=now, leader_since=None
    )


def _wait_finished(factory: sessionmaker[Session], job: str) -> JobRun:
    deadline = time.monotonic() + WAIT_SECONDS
    while (run := repository.latest_runs(factory, [job])[job]).status is JobRunStatus.RUNNING:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.02)
    return run


def _beat_after(factory: sessionmaker[Session], job: str, into_run: timedelta) -> datetime:
    """The heartbeat of the node running ``job``, once one is dated ``into_run`` after the run
    started (a second beat after the staleness limit proves the process kept beating)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with factory() as session:
            run = session.scalars(select(JobRun).where(JobRun.job_name == job)).one()
            node = session.get_one(SchedulerNode, run.node)
            if node.heartbeat_at >= run.started_at + into_run:
                return node.heartbeat_at
        assert time.monotonic() < deadline, "the running job's process stopped heart-beating"
        time.sleep(0.05)


def test_a_live_run_is_not_claimed_twice_and_a_finished_one_is_reused(
    session_factory: sessionmaker[Session],
) -> None:
    now = utc_now()
    _beat(session_factory, "a")
    first = repository.claim_on_demand(session_factory, "j", "a", now=now, node_stale_after=STALE)
    assert first is not None
    _beat(session_factory, "b")
    assert (
        repository.claim_on_demand(session_factory, "j", "b", now=now, node_stale_after=STALE)
        is None
    )
    assert (
        repository.claim_on_demand(session_factory, "j", "a", now=now, node_stale_after=STALE)
        is None
    )
    repository.finish_run(
        session_factory, first, succeeded=False, finished_at=now, duration_seconds=1.0, error="x"
    )
    again = repository.claim_on_demand(session_factory, "j", "b", now=now, node_stale_after=STALE)
    assert again == first  # the same row, running again for b, its last error cleared
    with session_factory() as session:
        run = session.scalars(select(JobRun)).one()
    assert (run.status, run.node, run.error, run.finished_at) == (
        JobRunStatus.RUNNING,
        "b",
        None,
        None,
    )


def test_a_run_whose_process_died_is_taken_over(session_factory: sessionmaker[Session]) -> None:
    _beat(session_factory, "dead")
    claimed = repository.claim_on_demand(
        session_factory, "j", "dead", now=utc_now(), node_stale_after=STALE
    )
    assert claimed is not None
    later = utc_now() + STALE * 2  # "dead" never heart-beat again
    _beat(session_factory, "b")
    taken = repository.claim_on_demand(session_factory, "j", "b", now=later, node_stale_after=STALE)
    assert taken == claimed


def test_two_processes_asked_at_once_run_the_job_once_and_the_leader_leaves_it_alone(
    session_factory: sessionmaker[Session],
) -> None:
    release = threading.Event()
    ran: list[str] = []

    def work(name: str) -> None:
        ran.append(name)
        release.wait(WAIT_SECONDS)

    runners = [OnDemandRunner(session_factory, tick_seconds=0.2) for _ in range(2)]
    started: list[bool] = []
    barrier = threading.Barrier(2)

    def ask(index: int) -> None:
        barrier.wait()
        started.append(runners[index].start("j", lambda: work(f"runner {index}")))

    askers = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    try:
        assert sorted(started) == [False, True]
        # While it runs, its process heart-beats: the leader's sweep of dead nodes, well after
        # the staleness limit of the runner's ticks, does not interrupt it. The sweep is dated
        # at a beat seen a second into the run, not at a wall-clock time after a sleep: a
        # loaded machine may run the beat thread late, and that is not a dead node.
        beat = _beat_after(session_factory, "j", timedelta(seconds=1.0))
        interrupted = repository.interrupt_dead_runs(
            session_factory, now=beat + timedelta(seconds=0.3), node_stale_after=STALE_TICKS
        )
        assert interrupted == 0
    finally:
        release.set()
    run = _wait_finished(session_factory, "j")
    assert run.status is JobRunStatus.SUCCEEDED
    assert len(ran) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 1
    for runner in runners:
        runner.close()


def test_a_failing_job_records_its_error(session_factory: sessionmaker[Session]) -> None:
    runner = OnDemandRunner(session_factory, tick_seconds=0.2)

    def broken() -> None:
        raise RuntimeError("the source answered 503")

    assert runner.start("j", broken)
    run = _wait_finished(session_factory, "j")
    runner.close()
    assert run.status is JobRunStatus.FAILED
    assert run.error == "RuntimeError: the source answered 503"


def test_closing_cancels_queued_runs_and_leaves_their_rows_to_the_take_over(
    session_factory: sessionmaker[Session],
) -> None:
    runner = OnDemandRunner(session_factory, tick_seconds=0.2)
    release = threading.Event()
    started: list[str] = []

    def work(name: str) -> None:
        started.append(name)
        release.wait(WAIT_SECONDS)

    for name in ("a", "b", "c"):  # two run at once; "c" waits in the queue
        assert runner.start(name, functools.partial(work, name))
    deadline = time.monotonic() + WAIT_SECONDS
    while len(started) < 2:
        assert time.monotonic() < deadline, "the first two runs did not start"
        time.sleep(0.01)
    # The running two end during close()'s grace period, released only once close() has
    # cancelled the queue: a timer started before close() could fire first on a loaded
    # machine, and "c" would start.
    shutdown = runner._pool.shutdown

    def shutdown_then_release(wait: bool = True, *, cancel_futures: bool = False) -> None:
        shutdown(wait=wait, cancel_futures=cancel_futures)
        threading.Timer(0.3, release.set).start()

    runner._pool.shutdown = shutdown_then_release  # type: ignore[method-assign]
    runner.close(grace_seconds=WAIT_SECONDS)
    assert runner._idle.is_set()  # every run ended or was cancelled: nothing left counted
    statuses = {
        name: run.status
        for name, run in repository.latest_runs(session_factory, ["a", "b", "c"]).items()
    }
    assert statuses == {
        "a": JobRunStatus.SUCCEEDED,
        "b": JobRunStatus.SUCCEEDED,
        "c": JobRunStatus.RUNNING,  # claimed, never started: interrupted once its node is stale
    }
