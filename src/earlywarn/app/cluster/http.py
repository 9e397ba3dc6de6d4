"""The HTTP face of an ``earlywarn scheduler`` process: ``/livez``, ``/readyz`` (with its
heartbeat age) and ``/metrics`` (with its runs and leader flag). No API routes: the scheduler
serves probes only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from earlywarn import __version__
from earlywarn.api import probes
from earlywarn.api.request_id import RequestIdMiddleware
from earlywarn.app import metrics
from earlywarn.app.cluster import repository
from earlywarn.app.cluster.runner import ClusterScheduler, JobObserver
from earlywarn.db import make_session_factory, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment).total_seconds(), 3)


def scheduler_probe(scheduler: ClusterScheduler) -> Any:
    """``/readyz``'s scheduler check: ok while this process's tick loop heart-beats (a
    follower is ready: it is the standby), with its role and the leader's heartbeat age."""

    def probe() -> tuple[str, dict[str, Any]]:
        now = utc_now()
        status = scheduler.status
        own_age = _age(status.last_tick_at, now)
        try:
            with scheduler.factory() as session:
                leader_age = _age(repository.leader_heartbeat(session), now)
        except SQLAlchemyError:
            leader_age = None
        detail = {
            "node": status.node,
            "role": "leader" if status.leading else "follower",
            "heartbeat_age_seconds": own_age,
            "leader_heartbeat_age_seconds": leader_age,
            "running": sorted(status.running),
        }
        stale = scheduler.stale_after.total_seconds()
        if own_age is None:
            return "starting", detail
        return ("ok" if own_age <= stale else f"heartbeat stale ({own_age:.0f} s)"), detail

    return probe


def create_scheduler_app(
    *,
    settings: Settings,
    engine: Engine,
    configuration: Configuration,
    build: Any,
) -> FastAPI:
    """``build(observer)`` returns the ``ClusterScheduler`` (the composition root knows the
    jobs); it is started with the app and stopped with it."""
    factory = make_session_factory(engine)
    app = FastAPI(title="earlywarn scheduler", version=__version__)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.configuration = configuration
    metrics.install(app, factory)
    observer = metrics.SchedulerMetrics(app.state.metrics_registry)
    scheduler: ClusterScheduler = build(
        JobObserver(on_run=observer.on_run, on_leadership=observer.on_leadership)
    )
    app.state.cluster_scheduler = scheduler
    app.state.scheduler_probe = scheduler_probe(scheduler)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(probes.router)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()

    app.router.lifespan_context = lifespan
    return app
