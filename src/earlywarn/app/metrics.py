"""``GET /metrics`` in the Prometheus text format (``prometheus-client``).

Per process: HTTP requests and their latency by route template (``/alerts/{alert_id}``, not one
series per id). From the database at scrape time (so every replica reports the same, and a
restarted one at once): outbox depth and the age of its oldest pending message, open alerts by
level and rule, each source's data age (since its last successful load), the scheduled slots by
job and status, each job's last duration and the leading scheduler's heartbeat age. A scheduler
process adds its own runs, their durations and whether it leads (``SchedulerMetrics``). Plain
SQL over the tables, because these cut across stages only the composition root may know
together.

Each application gets a registry of its own, so several apps in one process (tests) never share
or double-register series.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from earlywarn.db import utc_now

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back text for an aggregate over a timestamp
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class DatabaseCollector(Collector):
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "earlywarn_metrics_database_up", "1 when the database answered this scrape"
        )
        try:
            families = self._families(utc_now())
        except SQLAlchemyError as exc:
            logger.warning("metrics: database unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: datetime) -> list[GaugeMetricFamily]:
        with self.factory() as session:
            depth, oldest = session.execute(
                text(
                    "SELECT COUNT(*), MIN(created_at) FROM outbox_messages WHERE status = 'pending'"
                )
            ).one()
            alerts = session.execute(
                text(
                    "SELECT level, rule_id, COUNT(*) FROM alerts WHERE state <> 'resolved' "
                    "GROUP BY level, rule_id"
                )
            ).all()
            sources = session.execute(
                text(
                    "SELECT source_id, MAX(finished_at) FROM ingest_runs "
                    "WHERE status IN ('succeeded', 'unchanged') GROUP BY source_id"
                )
            ).all()
        pending = GaugeMetricFamily(
            "earlywarn_outbox_pending_messages", "Notifications waiting to be delivered"
        )
        pending.add_metric([], depth)
        age = GaugeMetricFamily(
            "earlywarn_outbox_oldest_pending_age_seconds",
            "Age of the oldest notification waiting to be delivered (0 when none)",
        )
        age.add_metric([], (now - _aware(oldest)).total_seconds() if oldest is not None else 0)
        open_alerts = GaugeMetricFamily(
            "earlywarn_open_alerts",
            "Alerts not resolved, by level and rule",
            labels=["level", "rule"],
        )
        for level, rule, count in alerts:
            open_alerts.add_metric([level, rule], count)
        data_age = GaugeMetricFamily(
            "earlywarn_source_data_age_seconds",
            "Time since each source's last successful load",
            labels=["source"],
        )
        for source, finished in sources:
            if finished is not None:
                data_age.add_metric([source], (now - _aware(finished)).total_seconds())
        return [pending, age, open_alerts, data_age, *self._job_families(now)]

    def _job_families(self, now: datetime) -> list[GaugeMetricFamily]:
        """The scheduled jobs, cluster-wide, from ``job_runs`` and ``scheduler_nodes``."""
        with self.factory() as session:
            slots = session.execute(
                text("SELECT job_name, status, COUNT(*) FROM job_runs GROUP BY job_name, status")
            ).all()
            durations = session.execute(
                text(
                    "SELECT r.job_name, r.duration_seconds FROM job_runs r "
                    "WHERE r.finished_at = (SELECT MAX(finished_at) FROM job_runs l "
                    "WHERE l.job_name = r.job_name AND l.duration_seconds IS NOT NULL)"
                )
            ).all()
            leader = session.execute(
                text("SELECT MAX(heartbeat_at) FROM scheduler_nodes WHERE role = 'leader'")
            ).scalar()
        runs = GaugeMetricFamily(
            "earlywarn_job_slots",
            "Scheduled slots recorded in job_runs, by job and status (failed: the failures)",
            labels=["job", "status"],
        )
        for job, status, count in slots:
            runs.add_metric([job, status], count)
        last = GaugeMetricFamily(
            "earlywarn_job_last_duration_seconds",
            "Duration of each job's latest finished run",
            labels=["job"],
        )
        for job, seconds in durations:
            last.add_metric([job], seconds)
        heartbeat = GaugeMetricFamily(
            "earlywarn_scheduler_leader_heartbeat_age_seconds",
            "Time since the leading scheduler's last heartbeat (absent: no leader yet)",
        )
        if leader is not None:
            heartbeat.add_metric([], (now - _aware(leader)).total_seconds())
        return [runs, last, heartbeat]


class SchedulerMetrics:
    """The scheduler process's own series: its runs, their durations, and whether it leads."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "earlywarn_job_runs",
            "Scheduled job runs by this process, by job and status (succeeded or failed)",
            ["job", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "earlywarn_job_duration_seconds",
            "Duration of scheduled job runs by this process",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=registry,
        )
        self.leader = Gauge(
            "earlywarn_scheduler_leader", "1 while this scheduler leads", registry=registry
        )

    def on_run(self, job: str, status: str, seconds: float) -> None:
        self.runs.labels(job, status).inc()
        self.duration.labels(job).observe(seconds)

    def on_leadership(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)


class RequestMetrics:
    """Pure ASGI middleware: count and time every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "earlywarn_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "earlywarn_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - started)


@router.get("/metrics", summary="Prometheus metrics (no API key: counts only, no content)")
def metrics(request: Request) -> Response:
    """Counters and gauges for Prometheus: requests and latency by route, job runs, each
    source's data age, outbox depth, open alerts by level and rule. Counts only, never content,
    so it needs no key; keep the port private if even counts are sensitive."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, factory: sessionmaker[Session]) -> None:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(factory))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, registry=registry)
    app.include_router(router)
