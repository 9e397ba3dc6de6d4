"""The scheduler process's probes: ``/readyz`` with its role and heartbeat age, ``/metrics``
with its runs, durations, failures and leader flag, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import warnings
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from earlywarn.app.cluster.http import create_scheduler_app
from earlywarn.app.cluster.runner import ClusterScheduler, JobObserver
from earlywarn.app.cluster.slots import ScheduledJob, interval_trigger
from earlywarn.db import make_session_factory
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _broken() -> None:
    raise RuntimeError("no data")


def test_scheduler_readyz_and_metrics(
    engine: Engine, configuration: Configuration, tmp_path: Path
) -> None:
    factory = make_session_factory(engine)
    jobs = [
        ScheduledJob("ok-job", interval_trigger(0.3), lambda: None),
        ScheduledJob("broken-job", interval_trigger(0.3), _broken),
    ]

    def build(observer: JobObserver) -> ClusterScheduler:
        return ClusterScheduler(engine, factory, jobs, tick_seconds=0.1, observer=observer)

    app = create_scheduler_app(
        settings=Settings(_env_file=None, data_dir=tmp_path),
        engine=engine,
        configuration=configuration,
        build=build,
    )
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while 'status="failed"' not in (scraped := client.get("/metrics").text):
            assert time.monotonic() < deadline, "no failed run reported"
            time.sleep(0.1)
        while 'job="ok-job",status="succeeded"' not in (scraped := client.get("/metrics").text):
            assert time.monotonic() < deadline, "no succeeded run reported"
            time.sleep(0.1)
        ready = client.get("/readyz")
        scheduler = app.state.cluster_scheduler
        scheduler.stop()  # its loop ends: the heartbeat ages
        assert scheduler.status.last_tick_at is not None
        scheduler.status.last_tick_at -= timedelta(seconds=60)
        stale = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["scheduler"] == "ok"
    assert body["scheduler_detail"]["role"] == "leader"
    assert body["scheduler_detail"]["heartbeat_age_seconds"] < 5
    assert body["scheduler_detail"]["leader_heartbeat_age_seconds"] < 5
    assert stale.status_code == 503
    assert stale.json()["scheduler"].startswith("heartbeat stale (60 s)")
    assert "earlywarn_scheduler_leader 1.0" in scraped
    assert 'earlywarn_job_runs_total{job="broken-job",status="failed"}' in scraped
    assert 'earlywarn_job_duration_seconds_count{job="ok-job"}' in scraped
    # From the database, cluster-wide (every API replica reports these too):
    assert 'earlywarn_job_slots{job="broken-job",status="failed"}' in scraped
    assert 'earlywarn_job_last_duration_seconds{job="ok-job"}' in scraped
    assert "earlywarn_scheduler_leader_heartbeat_age_seconds" in scraped
