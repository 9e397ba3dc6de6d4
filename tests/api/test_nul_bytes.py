"""A NUL byte in a path, a query or a body is the caller's error on both backends (PostgreSQL
cannot store or compare text holding one; psycopg refuses to send it): 4xx with a reason,
never 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from earlywarn.api.errors import NUL_REASON
from earlywarn.types import Role


@pytest.mark.parametrize(
    "url",
    [
        "/countries/K%00N/scores",
        "/countries/K%00N/scores/latest",
        "/countries/K%00N/score-history?weight_set_id=1",
        "/countries/K%00N/forecasts",
        "/score-runs/1/countries/K%00N",
        "/score-runs/1/countries/K%00N/explanation",
        "/countries/KENYA/scores",
    ],
)
def test_country_codes_are_three_letters(client: Any, keys: dict[Role, str], url: str) -> None:
    response = client.get(url, headers={"X-API-Key": keys[Role.ANALYST]})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "iso3"]


@pytest.mark.parametrize(
    "url",
    ["/countries/K%00N", "/alerts?rule=a%00b", "/alerts?region=a%00b", "/alerts?country=a%00b"],
)
def test_nul_in_text_that_reaches_a_query(
    client: Any, keys: dict[Role, str], engine: Engine, url: str
) -> None:
    response = client.get(url, headers={"X-API-Key": keys[Role.ANALYST]})
    assert response.status_code < 500, response.text
    if engine.dialect.name == "postgresql":
        assert response.status_code == 422
        assert response.json()["detail"] == NUL_REASON


def test_nul_in_weight_set_text_is_refused(client: Any, keys: dict[Role, str]) -> None:
    admin = {"X-API-Key": keys[Role.ADMIN]}
    response = client.post(
        "/weight-sets", json={"factor_weights": {"2": 2.0}, "note": "a\x00b"}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "note"]
    response = client.post(
        "/weight-sets/1/apply", json={"reason": "board\x00decision"}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "reason"]
