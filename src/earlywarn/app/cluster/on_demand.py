"""Jobs a person starts ("Ingest now" on the sources page), run in the background of the process
that was asked, recorded in ``job_runs`` like the scheduled slots.

The claim (``repository.claim_on_demand``) is committed before the work starts, so a second
request, from this process or any other of the cluster, finds the job running and starts
nothing. While its work runs, the process heart-beats in ``scheduler_nodes`` as a follower: the
leading scheduler then leaves the run alone, and marks it ``interrupted`` (so it may be asked
for again) only when the process dies mid-run, exactly as for a scheduled slot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository
from earlywarn.app.cluster.models import NodeRole
from earlywarn.app.cluster.runner import STALE_AFTER_TICKS, node_name
from earlywarn.db import utc_now

log = logging.getLogger(__name__)

# Runs at once in one process; more requests wait in the pool's queue (already claimed).
MAX_PARALLEL_RUNS = 2


class OnDemandRunner:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        tick_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        node: str | None = None,
    ) -> None:
        self.factory = factory
        self.tick_seconds = tick_seconds
        self.stale_after = timedelta(seconds=tick_seconds * STALE_AFTER_TICKS)
        self.clock = clock
        self.node = node or node_name()
        self.started_at = clock()
        self._pool = ThreadPoolExecutor(
            max_workers=MAX_PARALLEL_RUNS, thread_name_prefix="earlywarn-on-demand"
        )
        self._lock = threading.Lock()
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()

    def start(self, job_name: str, work: Callable[[], object]) -> bool:
        """Claim ``job_name`` and run ``work`` in the background; ``False`` when it runs
        already somewhere in the cluster."""
        self._beat()  # alive before the claim is visible, so the leader leaves it alone
        run_id = repository.claim_on_demand(
            self.factory, job_name, self.node, now=self.clock(), node_stale_after=self.stale_after
        )
        if run_id is None:
            return False
        with self._lock:
            self._running += 1
            if self._running == 1:
                self._idle.clear()
                threading.Thread(
                    target=self._heartbeat_loop, name="earlywarn-on-demand-beat", daemon=True
                ).start()
        future = self._pool.submit(self._execute, job_name, run_id, work)
        # Also when it is cancelled unstarted at close: its row is left to the take-over.
        future.add_done_callback(self._done)
        return True

    def close(self, *, grace_seconds: float = 30.0) -> None:
        """Give running work ``grace_seconds`` to finish, then stop taking more."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._idle.wait(timeout=grace_seconds)

    def _execute(self, job_name: str, run_id: int, work: Callable[[], object]) -> None:
        started = time.perf_counter()
        error: str | None = None
        try:
            work()
        except Exception as exc:
            log.exception("on-demand job %s failed", job_name)
            error = f"{type(exc).__name__}: {exc}"
        try:
            repository.finish_run(
                self.factory,
                run_id,
                succeeded=error is None,
                finished_at=self.clock(),
                duration_seconds=time.perf_counter() - started,
                error=error,
            )
        except SQLAlchemyError:
            log.exception("on-demand job %s: its run record could not be finished", job_name)

    def _done(self, _future: Future[None]) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    def _heartbeat_loop(self) -> None:
        while not self._idle.wait(self.tick_seconds):
            self._beat()

    def _beat(self) -> None:
        try:
            repository.heartbeat(
                self.factory,
                self.node,
                role=NodeRole.FOLLOWER,
                now=self.clock(),
                started_at=self.started_at,
                leader_since=None,
            )
        except SQLAlchemyError:  # the database is away: the run's claim fails next anyway
            log.warning("on-demand runner %s: heartbeat not written", self.node)
