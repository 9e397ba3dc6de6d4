"""The sources page's "Ingest now": an administrator starts a source's ingest, which runs in the
background (the scheduler's own source job, recorded in job_runs); the page shows it running,
refuses a second run meanwhile, then shows the rows written or the failure's reason.

The source is PTS, configured with a URL on a loopback HTTP server serving the real recorded
file from ../shared/fixtures/pts."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.cluster import repository
from earlywarn.app.cluster.models import JobRun, NodeRole
from earlywarn.app.factory import create_app
from earlywarn.app.ingest_now import JOB_PREFIX
from earlywarn.app.scheduler import SOURCE_JOB_PREFIX
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.sources_schemas import FileSourceConfig
from earlywarn.observations.models import IngestRun, Observation, RunStatus
from earlywarn.types import Role

from .conftest import TestClient, form_token, sign_in, web_settings
from .payload_server import PTS_FIXTURE, PayloadServer, serving

WAIT_SECONDS = 60


def ingest_now_configuration(configuration: Configuration, pts_url: str) -> Configuration:
    """The repository's sources.yaml, with PTS downloaded from ``pts_url`` and the World Bank
    switched off (a disabled source); ucdp stays without its token (not configured)."""
    sources = configuration.sources
    assert sources.worldbank is not None
    changed = sources.model_copy(
        update={
            "worldbank": sources.worldbank.model_copy(update={"enabled": False}),
            "files": {"pts": FileSourceConfig(format="pts", url=pts_url)},
        }
    )
    return dataclasses.replace(configuration, sources=changed)


def wait_until_finished(factory: sessionmaker[Session], source_id: str) -> JobRun:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        run = repository.latest_runs(factory, [JOB_PREFIX + source_id])[JOB_PREFIX + source_id]
        if run.status.value != "running":
            return run
        assert time.monotonic() < deadline, "the ingest did not finish"
        time.sleep(0.05)


@pytest.fixture
def pts_server(shared_dir: Path) -> Iterator[PayloadServer]:
    fixture = shared_dir / PTS_FIXTURE
    if not fixture.exists():
        pytest.skip(f"PTS fixture not found at {fixture}")
    with serving(fixture.read_bytes()) as server:
        yield server


@pytest.fixture
def app(
    engine: Engine,
    configuration: Configuration,
    session_factory: sessionmaker[Session],
    pts_server: PayloadServer,
    tmp_path: Path,
) -> FastAPI:
    with session_scope(session_factory) as session:
        seed_countries(session)
    settings = web_settings(tmp_path, http_timeout_seconds=30.0)
    config = ingest_now_configuration(configuration, pts_server.url)
    return create_app(settings=settings, engine=engine, configuration=config)


def _admin(new_client: Callable[[], TestClient], users: dict[Role, str]) -> tuple[TestClient, str]:
    client = new_client()
    sign_in(client, users[Role.ADMIN])
    page = client.get("/admin/sources")
    assert page.status_code == 200
    return client, form_token(page.text)


def _row(page: str, source_id: str) -> str:
    return page.split(f'id="source-{source_id}"')[1].split("</tr>")[0]


def test_an_admin_ingests_a_source_now_and_sees_the_rows_written(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    pts_server: PayloadServer,
) -> None:
    client, token = _admin(new_client, users)
    assert 'action="/admin/sources/pts/ingest"' in _row(client.get("/admin/sources").text, "pts")
    pts_server.gate.clear()  # the download hangs until the test lets it go
    started = client.post("/admin/sources/pts/ingest", data={"csrf_token": token})
    assert started.status_code == 303
    assert started.headers["location"].startswith("/admin/sources?started=pts")
    page = client.get(started.headers["location"])
    assert "Ingest of pts started." in page.text
    row = _row(page.text, "pts")
    assert "<strong>Running</strong>" in row
    assert 'action="/admin/sources/pts/ingest"' not in row
    second = client.post("/admin/sources/pts/ingest", data={"csrf_token": token})
    assert second.status_code == 409
    assert "already running" in second.text
    pts_server.gate.set()
    job = wait_until_finished(session_factory, "pts")
    assert job.status.value == "succeeded", job.error
    with session_factory() as session:
        runs = session.scalars(select(IngestRun).where(IngestRun.source_id == "pts")).all()
        stored = session.scalar(
            select(func.count()).select_from(Observation).where(Observation.source_id == "pts")
        )
    assert [(run.trigger, run.status) for run in runs] == [("web", RunStatus.SUCCEEDED)]
    assert runs[0].rows_loaded > 0
    assert stored == runs[0].rows_loaded
    assert pts_server.requests == ["/PTS-2024.csv"]  # the second click fetched nothing
    row = _row(client.get("/admin/sources").text, "pts")
    assert f"run #{runs[0].id} succeeded: {runs[0].rows_loaded} rows written" in row
    assert 'action="/admin/sources/pts/ingest"' in row  # it may run again
    # Again: the same record is taken over, and the unchanged file is recognised.
    assert client.post("/admin/sources/pts/ingest", data={"csrf_token": token}).status_code == 303
    assert wait_until_finished(session_factory, "pts").status.value == "succeeded"
    with session_factory() as session:
        jobs = session.scalar(select(func.count()).select_from(JobRun))
        last = session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(1)).one()
    assert jobs == 1
    assert last.status is RunStatus.UNCHANGED
    assert f"run #{last.id} unchanged: 0 rows written" in _row(
        client.get("/admin/sources").text, "pts"
    )


def test_a_failed_ingest_shows_its_reason(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    pts_server: PayloadServer,
) -> None:
    pts_server.status = 404
    client, token = _admin(new_client, users)
    assert client.post("/admin/sources/pts/ingest", data={"csrf_token": token}).status_code == 303
    job = wait_until_finished(session_factory, "pts")
    assert job.status.value == "failed"
    assert job.error is not None
    assert "ingest of pts failed" in job.error
    assert "404" in job.error
    row = _row(client.get("/admin/sources").text, "pts")
    assert "failed: JobFailedError: ingest of pts failed" in row
    assert 'action="/admin/sources/pts/ingest"' in row  # it may be tried again


def test_disabled_and_unconfigured_sources_say_why_and_cannot_start(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
) -> None:
    client, token = _admin(new_client, users)
    page = client.get("/admin/sources").text
    assert "Cannot run: disabled in config/sources.yaml." in _row(page, "worldbank")
    ucdp = _row(page, "ucdp")
    assert "Cannot run until configured (see Why)." in ucdp
    assert ucdp.count("EARLYWARN_UCDP_TOKEN") == 1  # named once, in Why
    for source_id in ("worldbank", "ucdp"):
        assert f'action="/admin/sources/{source_id}/ingest"' not in _row(page, source_id)
    disabled = client.post("/admin/sources/worldbank/ingest", data={"csrf_token": token})
    assert disabled.status_code == 400
    assert "worldbank is disabled in config/sources.yaml." in disabled.text
    unconfigured = client.post("/admin/sources/ucdp/ingest", data={"csrf_token": token})
    assert unconfigured.status_code == 400
    assert "set EARLYWARN_UCDP_TOKEN" in unconfigured.text
    unknown = client.post("/admin/sources/nosuch/ingest", data={"csrf_token": token})
    assert unknown.status_code == 400
    assert "nosuch is not in config/sources.yaml" in unknown.text
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0


def test_only_an_admin_with_the_form_token_starts_an_ingest(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    pts_server: PayloadServer,
) -> None:
    analyst = new_client()
    sign_in(analyst, users[Role.ANALYST])
    analyst_token = form_token(analyst.get("/account").text)
    refused = analyst.post("/admin/sources/pts/ingest", data={"csrf_token": analyst_token})
    assert refused.status_code == 403
    admin, _ = _admin(new_client, users)
    forged = admin.post("/admin/sources/pts/ingest", data={"csrf_token": analyst_token})
    assert forged.status_code == 403
    assert admin.post("/admin/sources/pts/ingest").status_code == 403
    anonymous = new_client().post("/admin/sources/pts/ingest", data={"csrf_token": "x"})
    assert anonymous.status_code in (303, 403)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(JobRun)) == 0
    assert pts_server.requests == []


def test_no_run_starts_while_the_sources_own_scheduled_job_runs(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    pts_server: PayloadServer,
) -> None:
    now = utc_now()
    repository.heartbeat(
        session_factory,
        "scheduler-1",
        role=NodeRole.LEADER,
        now=now,
        started_at=now,
        leader_since=now,
    )
    claim, _ = repository.claim_slot(
        session_factory,
        f"{SOURCE_JOB_PREFIX}pts",
        now,
        "scheduler-1",
        now=now,
        node_stale_after=timedelta(minutes=1),
    )
    assert claim is repository.Claim.CLAIMED
    client, token = _admin(new_client, users)
    refused = client.post("/admin/sources/pts/ingest", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "already running" in refused.text
    assert pts_server.requests == []
