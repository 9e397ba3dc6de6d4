"""Pages through the test client: the brief shares its path with the API's JSON route."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from earlywarn.auth.service import create_key
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.types import Role

from .conftest import TestClient, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_the_brief_and_an_api_client_the_json(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        _, key = create_key(session, name="machine", role=Role.ANALYST)
    client = new_client()
    anonymous = client.get("/countries/KEN", headers=HTML)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/countries/KEN"
    api = client.get("/countries/KEN", headers={"X-API-Key": key})
    assert api.status_code == 200
    assert api.json()["iso3"] == "KEN"
    # A browser with an API key, or a client that does not ask for HTML, reaches the API.
    assert client.get("/countries/KEN", headers={**HTML, "X-API-Key": key}).json()["iso3"] == "KEN"
    assert client.get("/countries/KEN").status_code == 401

    sign_in(client, users[Role.ANALYST])
    page = client.get("/countries/ken", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Kenya" in page.text
    assert "no score in the latest run" in page.text  # nothing scored yet
    missing = client.get("/countries/QQQ", headers=HTML)
    assert missing.status_code == 404
    assert "No country has the code" in missing.text
    csv_file = client.get("/countries/KEN/brief.csv")
    assert csv_file.status_code == 200
    assert csv_file.headers["content-type"].startswith("text/csv")
