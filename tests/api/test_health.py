"""``/healthz`` answers without a key, and says 503 (never 500) when the database is gone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine

from earlywarn import __version__
from earlywarn.app.factory import create_app
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings

UNREACHABLE_URL = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def test_healthz_reports_ok_without_a_key(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}


def test_healthz_is_503_when_the_database_is_unreachable(
    configuration: Configuration, settings: Settings, testclient_class: Any
) -> None:
    engine = create_engine(UNREACHABLE_URL, connect_args={"connect_timeout": 2})
    try:
        app = create_app(settings=settings, engine=engine, configuration=configuration)
        with testclient_class(app) as client:
            response = client.get("/healthz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "unreachable (OperationalError)"
    # Host and port of the database are for the log, not for an unauthenticated caller.
    assert "127.0.0.1" not in response.text


def test_openapi_describes_the_service_and_its_roles(client: Any) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "earlywarn"
    assert schema["info"]["version"] == __version__
    for role in ("analyst", "focal_point", "admin"):
        assert f"`{role}`" in schema["info"]["description"]
    assert "/healthz" in schema["paths"]
    assert client.get("/docs").status_code == 200
