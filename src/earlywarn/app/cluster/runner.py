"""The clustered scheduler: a tick loop that heart-beats, tries to lead, and, while it leads,
claims and runs each job's due slot once cluster-wide.

Every ``tick_seconds``:

1. write this node's heartbeat (``scheduler_nodes``), leader or follower;
2. try the leader lock (``leader.LeaderLock``); a follower stops here;
3. as leader: mark ``interrupted`` the running slots of nodes whose heartbeat stopped, then for
   each job not already running here, if its next slot is due, claim the latest due slot
   (missed ones are coalesced into it) and run it on a worker thread.

The claim is committed before the work starts (``repository.claim_slot``), so a slot runs once
even if two nodes believed they led, or a restarted node reaches it again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository
from earlywarn.app.cluster.leader import LeaderLock
from earlywarn.app.cluster.models import JobRunStatus, NodeRole
from earlywarn.app.cluster.slots import ScheduledJob, first_slot_after, latest_slot
from earlywarn.db import utc_now

log = logging.getLogger(__name__)

# A node whose heartbeat is older than this many ticks is taken for dead: its running slots
# are interrupted and may be claimed again.
STALE_AFTER_TICKS = 3
FORGET_NODES_AFTER = timedelta(days=7)


def node_name() -> str:
    """Unique per process: host, pid and a random suffix (pids repeat in containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class JobObserver:
    """What the scheduler reports of each run (the scheduler process's metrics)."""

    on_run: Callable[[str, str, float], None] = lambda job, status, seconds: None
    on_leadership: Callable[[bool], None] = lambda leading: None


@dataclass
class SchedulerStatus:
    node: str
    started_at: datetime
    leading: bool = False
    leader_since: datetime | None = None
    last_tick_at: datetime | None = None
    running: set[str] = field(default_factory=set)


class ClusterScheduler:
    def __init__(
        self,
        engine: Engine,
        factory: sessionmaker[Session],
        jobs: list[ScheduledJob],
        *,
        tick_seconds: float = 2.0,
        observer: JobObserver | None = None,
        clock: Callable[[], datetime] = utc_now,
        node: str | None = None,
    ) -> None:
        self.factory = factory
        self.jobs = {job.name: job for job in jobs}
        self.tick_seconds = tick_seconds
        self.observer = observer or JobObserver()
        self.clock = clock
        self.lock = LeaderLock(engine)
        self.status = SchedulerStatus(node=node or node_name(), started_at=clock())
        self.stale_after = timedelta(seconds=tick_seconds * STALE_AFTER_TICKS)
        self._next_due: dict[str, datetime | None] = {}
        self._futures: dict[str, Future[None]] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(jobs)), thread_name_prefix="earlywarn-job"
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="earlywarn-scheduler", daemon=True)
        self._thread.start()

    def stop(self, *, grace_seconds: float = 30.0) -> None:
        """Stop ticking, give running jobs ``grace_seconds`` to finish (so their slots end
        succeeded or failed, not interrupted), then let go of the lead."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.tick_seconds + 10)
        running = [future for future in self._futures.values() if not future.done()]
        if running:
            log.info("waiting up to %.0f s for %d running job(s)", grace_seconds, len(running))
            wait(running, timeout=grace_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.lock.release()
        with suppress(SQLAlchemyError):  # the database is gone: the heartbeat simply ages
            repository.heartbeat(
                self.factory,
                self.status.node,
                role=NodeRole.STOPPED,
                now=self.clock(),
                started_at=self.status.started_at,
                leader_since=None,
            )
        self._set_leading(False)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # the database may be briefly unavailable; keep ticking
                log.exception("scheduler tick failed")
                self._set_leading(False)
                self.lock.release()
            self._stop.wait(max(0.0, self.tick_seconds - (time.monotonic() - started)))

    # --- one tick ---------------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        leading = self.lock.try_acquire()
        if leading != self.status.leading:
            self._set_leading(leading, now)
        repository.heartbeat(
            self.factory,
            self.status.node,
            role=NodeRole.LEADER if leading else NodeRole.FOLLOWER,
            now=now,
            started_at=self.status.started_at,
            leader_since=self.status.leader_since,
        )
        self.status.last_tick_at = now
        if not leading:
            return
        repository.interrupt_dead_runs(self.factory, now=now, node_stale_after=self.stale_after)
        for job in self.jobs.values():
            self._run_if_due(job, now)

    def _set_leading(self, leading: bool, now: datetime | None = None) -> None:
        if leading == self.status.leading:
            return
        self.status.leading = leading
        self.status.leader_since = now if leading else None
        # A new term starts from the database's record, not from what this node saw before.
        self._next_due.clear()
        if leading:
            log.warning("scheduler %s now leads", self.status.node)
            repository.forget_nodes_before(self.factory, (now or self.clock()) - FORGET_NODES_AFTER)
        else:
            # Worth a warning unless this node is stopping on purpose.
            level = logging.DEBUG if self._stop.is_set() else logging.WARNING
            log.log(level, "scheduler %s no longer leads", self.status.node)
        self.observer.on_leadership(leading)

    def _due(self, job: ScheduledJob) -> datetime | None:
        if job.name not in self._next_due:
            last = repository.last_slot(self.factory, job.name)
            if last is None:
                # A job never run starts with its first slot after this node started.
                baseline = self.status.started_at
                self._next_due[job.name] = first_slot_after(job.trigger, baseline)
            elif last.status in (JobRunStatus.RUNNING, JobRunStatus.INTERRUPTED):
                # Possibly unfinished: it is due again, and its claim decides.
                self._next_due[job.name] = last.scheduled_for
            else:
                self._next_due[job.name] = first_slot_after(job.trigger, last.scheduled_for)
        return self._next_due[job.name]

    def _run_if_due(self, job: ScheduledJob, now: datetime) -> None:
        running = self._futures.get(job.name)
        if running is not None and not running.done():
            return  # one run of a job at a time; its missed slots coalesce when it ends
        due = self._due(job)
        if due is None or due > now:
            return
        slot = latest_slot(job.trigger, due, now)
        claim, run_id = repository.claim_slot(
            self.factory,
            job.name,
            slot,
            self.status.node,
            now=now,
            node_stale_after=self.stale_after,
        )
        if claim is repository.Claim.WAIT:
            return
        self._next_due[job.name] = first_slot_after(job.trigger, slot)
        if claim is repository.Claim.CLAIMED and run_id is not None:
            self.status.running.add(job.name)
            self._futures[job.name] = self._pool.submit(self._execute, job, slot, run_id)

    def _execute(self, job: ScheduledJob, slot: datetime, run_id: int) -> None:
        started = time.perf_counter()
        error: str | None = None
        try:
            job.run()
        except Exception as exc:
            log.exception("job %s (slot %s) failed", job.name, slot.isoformat())
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        self.status.running.discard(job.name)
        try:
            repository.finish_run(
                self.factory,
                run_id,
                succeeded=error is None,
                finished_at=self.clock(),
                duration_seconds=seconds,
                error=error,
            )
        except SQLAlchemyError:
            log.exception("job %s: its run record could not be finished", job.name)
        self.observer.on_run(job.name, "succeeded" if error is None else "failed", seconds)
