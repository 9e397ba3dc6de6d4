"""The framework API through a minimal app, with a real API key, on both backends."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import StarletteDeprecationWarning

from earlywarn.auth import service as auth_service
from earlywarn.auth.deps import require
from earlywarn.framework.config import Configuration
from earlywarn.framework.router import router
from earlywarn.framework.service import sync_configuration
from earlywarn.types import Role

# starlette asks for the httpx2 package, which the project does not depend on; the warning is
# about that preference only, and the suite turns warnings into errors.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.session_factory = session_factory
    app.state.configuration = configuration
    # As the app factory includes it: the read permission is added to this router there.
    app.include_router(router, dependencies=[Depends(require("read"))])
    with session_factory() as session:
        _, raw_key = auth_service.create_key(session, name="reader", role=Role.ANALYST)
        sync_configuration(session, configuration)
        session.commit()
    with TestClient(app, headers={"X-API-Key": raw_key}) as test_client:
        yield test_client


def test_a_key_is_required(client: TestClient) -> None:
    response = client.get("/risk-factors", headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    response = client.get("/actions", headers={"X-API-Key": "ew_" + "x" * 40})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked API key"


def test_risk_factors(client: TestClient) -> None:
    response = client.get("/risk-factors")
    assert response.status_code == 200
    factors = response.json()
    assert [f["number"] for f in factors] == list(range(1, 15))
    assert factors[8]["crime"] == "genocide"
    assert factors[0]["crime"] is None


def test_risk_factor_detail(client: TestClient, configuration: Configuration) -> None:
    response = client.get("/risk-factors/9")
    assert response.status_code == 200
    body = response.json()
    assert body["name"].startswith("Intergroup tensions")
    assert {"1.1", "1.12", "1.13"} <= set(body["action_codes"])
    assert [i["id"] for i in body["indicators"]] == [i.id for i in configuration.indicators_for(9)]


@pytest.mark.parametrize("number", [0, 15])
def test_unknown_risk_factor_is_404_with_reason(client: TestClient, number: int) -> None:
    response = client.get(f"/risk-factors/{number}")
    assert response.status_code == 404
    assert f"no risk factor {number}" in response.json()["detail"]


def test_non_numeric_risk_factor_is_422(client: TestClient) -> None:
    assert client.get("/risk-factors/nine").status_code == 422


def test_actions_catalogue_and_filters(client: TestClient) -> None:
    everything = client.get("/actions").json()
    assert len(everything) == 25
    assert everything[9]["code"] == "1.10"

    regional = client.get("/actions", params={"sphere": "regional"}).json()
    assert [h["code"] for h in regional] == ["3.1", "3.2", "3.3"]

    imminent = client.get("/actions", params={"imminent": "true"}).json()
    assert [h["code"] for h in imminent] == ["2.3", "3.2", "4.3"]
    assert all(g["for_imminent_risk"] for h in imminent for g in h["groups"])

    standing = client.get("/actions", params={"imminent": "false", "sphere": "bilateral"}).json()
    assert [h["code"] for h in standing] == ["2.1", "2.2", "2.3"]
    assert [len(g["actions"]) for g in standing[2]["groups"]] == [4]


def test_bad_filter_is_422(client: TestClient) -> None:
    response = client.get("/actions", params={"sphere": "global"})
    assert response.status_code == 422
    assert "sphere" in str(response.json()["detail"])


def test_one_action_heading(client: TestClient) -> None:
    response = client.get("/actions/1.13")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Combat hate speech and incitement to violence"
    assert body["sphere"] == "national"
    assert 9 in body["addresses_factors"]
    assert len(body["groups"][0]["actions"]) == 9


def test_unknown_action_is_404_with_reason(client: TestClient) -> None:
    response = client.get("/actions/9.9")
    assert response.status_code == 404
    assert "no action '9.9'" in response.json()["detail"]


def test_weight_sets(client: TestClient, configuration: Configuration) -> None:
    response = client.get("/weight-sets")
    assert response.status_code == 200
    (weight_set,) = response.json()
    assert weight_set["version"] == 1
    assert len(weight_set["content_digest"]) == 64
    assert weight_set["factor_weights"]["1"] == configuration.scoring.factor_weights[1]
