"""``GET /outbox`` and subscription deletion once deliveries exist, over HTTP."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.exceptions import StarletteDeprecationWarning

from earlywarn.app.factory import create_app
from earlywarn.auth.service import create_key
from earlywarn.framework.config import Configuration
from earlywarn.notify import outbox
from earlywarn.notify.models import OutboxStatus
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel, Role

with warnings.catch_warnings():
    # starlette prefers the httpx2 package; the warning concerns the test transport only.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def client(engine: Engine, configuration: Configuration, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, data_dir=tmp_path, scheduler_enabled=False)
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    _, raw = create_key(session, name="admin", role=Role.ADMIN)
    session.commit()
    return {"X-API-Key": raw}


def test_outbox_lists_and_filters_messages(
    session: Session, make_alert: Any, subscribe: Any, client: TestClient, admin: dict[str, str]
) -> None:
    everywhere = subscribe(None, RiskLevel.WARNING, name="Global desk")
    sudan, sudan_opened = make_alert("SDN", RiskLevel.WARNING)
    chad, chad_opened = make_alert("TCD", RiskLevel.WARNING)
    outbox.enqueue_alert_event(session, sudan, sudan_opened)
    (chad_message,) = outbox.enqueue_alert_event(session, chad, chad_opened)
    chad_message.status = OutboxStatus.FAILED
    chad_message.last_error = "HTTP 500 from receiver"
    session.commit()

    everything = client.get("/outbox", headers=admin)
    assert everything.status_code == 200
    assert [m["alert_id"] for m in everything.json()] == [sudan.id, chad.id]
    first = everything.json()[0]
    assert first["status"] == "pending"
    assert first["target"] == "global.desk@example.org"
    assert first["subscription_id"] == everywhere.id
    assert first["payload"]["alert"]["country"] == {"iso3": "SDN", "name": "Sudan"}

    failed = client.get("/outbox", params={"status": "failed"}, headers=admin).json()
    assert [(m["id"], m["last_error"]) for m in failed] == [
        (chad_message.id, "HTTP 500 from receiver")
    ]
    for_sudan = client.get("/outbox", params={"alert_id": sudan.id}, headers=admin).json()
    assert {m["alert_id"] for m in for_sudan} == {sudan.id}
    page = client.get("/outbox", params={"limit": 1, "offset": 1}, headers=admin).json()
    assert [m["alert_id"] for m in page] == [chad.id]


def test_subscription_with_deliveries_is_kept(
    session: Session, make_alert: Any, subscribe: Any, client: TestClient, admin: dict[str, str]
) -> None:
    subscription = subscribe("SDN", RiskLevel.WARNING, name="Sudan desk")
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    outbox.enqueue_alert_event(session, alert, opened)
    session.commit()

    response = client.delete(f"/subscriptions/{subscription.id}", headers=admin)

    assert response.status_code == 409
    assert "1 outbox message(s)" in response.json()["detail"]
    assert len(client.get("/outbox", headers=admin).json()) == 1
