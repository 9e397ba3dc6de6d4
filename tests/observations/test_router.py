from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.auth import service as auth_service
from earlywarn.db import session_scope
from earlywarn.ingest.schemas import ObservationRecord
from earlywarn.observations.models import IngestRun
from earlywarn.observations.router import router
from earlywarn.types import Role

Loader = Callable[[Sequence[ObservationRecord]], IngestRun]
year = ObservationRecord.for_year


@pytest.fixture
def client(session_factory: sessionmaker[Session], countries: None) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.session_factory = session_factory
    app.include_router(router)
    with session_scope(session_factory) as session:
        _, raw_key = auth_service.create_key(session, name="reader", role=Role.ANALYST)
    with TestClient(app, headers={"X-API-Key": raw_key}) as test_client:
        yield test_client


def test_country_observations_are_the_current_vintage_per_period(
    client: TestClient, load: Loader
) -> None:
    load(
        [
            year("AFG", "t.x", 2021, 1.0),
            year("AFG", "t.x", 2022, 2.0),
            year("AFG", "t.y", 2022, 9.0),
        ]
    )
    second = load([year("AFG", "t.x", 2022, 2.5)])

    response = client.get("/countries/afg/observations")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["iso3"], body["name"]) == ("AFG", "Afghanistan")
    assert [(o["variable"], o["period"], o["value"]) for o in body["observations"]] == [
        ("t.x", "2021", 1.0),
        ("t.x", "2022", 2.5),
        ("t.y", "2022", 9.0),
    ]
    assert body["observations"][1]["ingest_run_id"] == second.id
    assert body["observations"][0]["period_start"] == "2021-01-01"
    assert body["observations"][0]["source_id"] == "csv"


def test_variable_filter(client: TestClient, load: Loader) -> None:
    load([year("AFG", "t.x", 2021, 1.0), year("AFG", "t.y", 2022, 9.0)])
    response = client.get("/countries/AFG/observations", params={"variable": "t.y"})
    assert response.status_code == 200
    assert [o["variable"] for o in response.json()["observations"]] == ["t.y"]


def test_unknown_country_is_404_with_reason(client: TestClient) -> None:
    response = client.get("/countries/XYZ/observations")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "unknown country 'XYZ': not an ISO3 code in the countries table"
    )


def test_malformed_code_is_422(client: TestClient) -> None:
    assert client.get("/countries/AFGH/observations").status_code == 422


def test_missing_key_is_401(client: TestClient) -> None:
    response = client.get("/countries/AFG/observations", headers={"X-API-Key": ""})
    assert response.status_code == 401
