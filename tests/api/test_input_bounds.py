"""Numbers no row can have are refused as bad input (422), not passed to the database driver.

Found by fuzzing the OpenAPI schema: an id or offset beyond 64 bits overflowed SQLite's driver
and answered 500.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from earlywarn.types import Role

TOO_BIG = str(2**63 + 1)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/alerts/{TOO_BIG}"),
        ("POST", f"/alerts/{TOO_BIG}/acknowledge"),
        ("GET", f"/score-runs/{TOO_BIG}"),
        ("GET", f"/ingest-runs/{TOO_BIG}"),
        ("GET", f"/focal-points/{TOO_BIG}"),
        ("DELETE", f"/subscriptions/{TOO_BIG}"),
        ("DELETE", f"/api-keys/{TOO_BIG}"),
        ("GET", f"/outbox?offset={TOO_BIG}"),
        ("GET", f"/outbox?alert_id={TOO_BIG}"),
        ("GET", "/alerts/0"),
    ],
)
def test_out_of_range_numbers_are_422(
    client: TestClient, keys: dict[Role, str], method: str, path: str
) -> None:
    response = client.request(method, path, headers={"X-API-Key": keys[Role.ADMIN]})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] in ("less_than_equal", "greater_than_equal")
