from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.auth import service as auth_service
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration, load_sources_config
from earlywarn.ingest.router import router
from earlywarn.ingest.service import import_file
from earlywarn.observations.models import IngestRun
from earlywarn.settings import Settings
from earlywarn.types import Role


@pytest.fixture
def client(
    session_factory: sessionmaker[Session], configuration: Configuration, tmp_path: Path
) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.session_factory = session_factory
    (tmp_path / "sources.yaml").write_text(
        "files:\n  a:\n    path: a.csv\n    format: csv\n    max_age_days: 10\n"
        "ucdp:\n  years_back: 2\n",
        encoding="utf-8",
    )
    app.state.settings = Settings(config_dir=tmp_path, ucdp_token=None)
    app.state.configuration = dataclasses.replace(
        configuration, sources=load_sources_config(tmp_path / "sources.yaml")
    )
    app.include_router(router)
    with session_scope(session_factory) as session:
        _, raw_key = auth_service.create_key(session, name="reader", role=Role.ANALYST)
    with TestClient(app, headers={"X-API-Key": raw_key}) as test_client:
        yield test_client


@pytest.fixture
def runs(
    session_factory: sessionmaker[Session], countries: set[str], data_dir: Path
) -> list[IngestRun]:
    """succeeded, failed, unchanged — in that order, all of the csv source."""
    return [
        import_file(session_factory, data_dir / "good.csv", "csv"),
        import_file(session_factory, data_dir / "non_numeric.csv", "csv"),
        import_file(session_factory, data_dir / "good.csv", "csv"),
    ]


def test_sources_show_last_run_success_and_failure(
    client: TestClient, runs: list[IngestRun]
) -> None:
    succeeded, failed, unchanged = runs
    response = client.get("/sources")

    assert response.status_code == 200, response.text
    source, ucdp = response.json()
    assert (ucdp["id"], ucdp["state"], ucdp["kind"]) == ("ucdp", "not_configured", "api")
    assert ucdp["missing_settings"] == ["EARLYWARN_UCDP_TOKEN"]
    assert (source["id"], source["kind"]) == ("csv", "file")
    # The last success (unchanged) is newer than the failure: fresh again.
    assert (source["state"], source["max_age_days"]) == ("healthy", 10)
    assert source["vintage_run_id"] == succeeded.id
    assert source["rows"] == 5
    assert source["observations"] == 5
    assert source["last_run"]["id"] == unchanged.id
    assert source["last_run"]["status"] == "unchanged"
    assert source["last_success"]["id"] == unchanged.id
    assert source["last_failure"]["id"] == failed.id
    assert source["last_error"] == failed.error
    assert "'about 15' is not a number" in source["last_error"]
    assert succeeded.id < failed.id < unchanged.id


def test_sources_before_any_run_are_never_run_or_not_configured(client: TestClient) -> None:
    states = {s["id"]: (s["state"], s["last_run"]) for s in client.get("/sources").json()}
    assert states == {"csv": ("never_run", None), "ucdp": ("not_configured", None)}


def test_run_payloads_show_provenance(client: TestClient, runs: list[IngestRun]) -> None:
    first = client.get(f"/ingest-runs/{runs[0].id}/payloads").json()
    again = client.get(f"/ingest-runs/{runs[2].id}/payloads").json()
    assert [p["sha256"] for p in first] == [runs[0].content_digest]
    assert first[0]["compressed_bytes"] > 0
    assert first[0]["stored_in_id"] is None
    assert again[0]["stored_in_id"] == first[0]["id"]  # the same bytes are not stored twice
    assert client.get("/ingest-runs/999999/payloads").status_code == 404


def test_runs_are_listed_newest_first_with_filters(
    client: TestClient, runs: list[IngestRun]
) -> None:
    all_runs = client.get("/ingest-runs").json()
    assert [r["id"] for r in all_runs] == [r.id for r in reversed(runs)]
    failed = client.get("/ingest-runs", params={"status": "failed"}).json()
    assert [(r["id"], r["status"]) for r in failed] == [(runs[1].id, "failed")]
    limited = client.get("/ingest-runs", params={"source": "csv", "limit": 1}).json()
    assert [r["id"] for r in limited] == [runs[2].id]


def test_run_filters_are_validated(client: TestClient, runs: list[IngestRun]) -> None:
    unknown = client.get("/ingest-runs", params={"source": "acled"})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "unknown source 'acled'"
    assert client.get("/ingest-runs", params={"status": "exploded"}).status_code == 422
    assert client.get("/ingest-runs", params={"limit": 0}).status_code == 422


def test_one_run_by_id(client: TestClient, runs: list[IngestRun]) -> None:
    succeeded = runs[0]
    body = client.get(f"/ingest-runs/{succeeded.id}").json()
    assert (body["status"], body["rows_loaded"], body["rows_skipped"]) == ("succeeded", 5, 1)
    assert body["details"]["format"] == "csv"
    assert body["details"]["skipped"] == {"empty_value": 1}
    assert body["details"]["raw_payloads"] == 1
    assert body["details"]["raw_bytes_archived"] > 0
    assert body["content_digest"] == succeeded.content_digest


def test_missing_run_is_404_with_reason(client: TestClient) -> None:
    response = client.get("/ingest-runs/4242")
    assert response.status_code == 404
    assert response.json()["detail"] == "ingest run 4242 not found"
    assert client.get("/ingest-runs/99999999999").status_code == 422


def test_reading_needs_a_key(client: TestClient) -> None:
    response = client.get("/ingest-runs", headers={"X-API-Key": "ew_not-a-real-key-at-all-000"})
    assert response.status_code == 401
