"""The /countries routes through a minimal app, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.auth import service as auth_service
from earlywarn.auth.deps import require
from earlywarn.countries.reference import load_reference
from earlywarn.countries.router import router
from earlywarn.countries.service import seed_countries
from earlywarn.types import Role


@pytest.fixture
def client(session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.session_factory = session_factory
    # As the app factory includes it: the read permission is added to this router there.
    app.include_router(router, dependencies=[Depends(require("read"))])
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def reader_key(session_factory: sessionmaker[Session]) -> dict[str, str]:
    with session_factory() as session:
        seed_countries(session)
        _, raw_key = auth_service.create_key(session, name="analyst", role=Role.ANALYST)
        session.commit()
    return {"X-API-Key": raw_key}


@pytest.mark.parametrize("path", ["/countries", "/countries/DEU"])
def test_a_key_is_required(client: TestClient, reader_key: dict[str, str], path: str) -> None:
    missing = client.get(path)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    wrong = client.get(path, headers={"X-API-Key": "ew_" + "x" * 40})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "unknown or revoked API key"


def test_list_leaves_out_former_states_unless_asked(
    client: TestClient, reader_key: dict[str, str]
) -> None:
    reference = load_reference()
    response = client.get("/countries", headers=reader_key)
    assert response.status_code == 200
    current = {row["iso3"] for row in response.json()}
    assert current == {r.iso3 for r in reference if not r.is_historical}

    response = client.get("/countries?include_historical=true", headers=reader_key)
    assert response.status_code == 200
    assert {row["iso3"] for row in response.json()} == {r.iso3 for r in reference}


def test_list_by_region(client: TestClient, reader_key: dict[str, str]) -> None:
    response = client.get("/countries?region=Oceania", headers=reader_key)
    assert response.status_code == 200
    rows = response.json()
    assert {"AUS", "FJI", "PNG"} <= {row["iso3"] for row in rows}
    assert {row["region"] for row in rows} == {"Oceania"}

    unknown = client.get("/countries?region=Atlantis", headers=reader_key)
    assert unknown.status_code == 422


def test_get_one_country(client: TestClient, reader_key: dict[str, str]) -> None:
    response = client.get("/countries/deu", headers=reader_key)
    assert response.status_code == 200
    assert response.json() == {
        "iso3": "DEU",
        "iso2": "DE",
        "m49": 276,
        "cow_code": 255,
        "gw_code": 260,
        "name": "Germany",
        "region": "Europe",
        "is_historical": False,
    }


def test_unknown_country_is_404(client: TestClient, reader_key: dict[str, str]) -> None:
    response = client.get("/countries/XYZ", headers=reader_key)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown country 'XYZ'"}
