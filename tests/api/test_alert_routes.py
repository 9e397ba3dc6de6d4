"""Alert lifecycle and subscriptions over HTTP: filters, resolve/reopen with reasons, the audit
trail, and subscriptions a focal point manages itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.types import RiskLevel, Role

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def alerts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """A firing alert for Sudan (Africa) and one for Myanmar (Asia)."""
    ids: dict[str, int] = {}
    with session_scope(session_factory) as session:
        session.add_all(
            [
                Country(iso3="SDN", name="Sudan", region="Africa"),
                Country(iso3="MMR", name="Myanmar", region="Asia"),
            ]
        )
        session.flush()
        for iso3, level in (("SDN", RiskLevel.EMERGENCY), ("MMR", RiskLevel.WARNING)):
            alert = Alert(
                rule_id="elevated_risk",
                rule_kind="level_at_least",
                subject=iso3,
                country_iso3=iso3,
                dedup_key=f"elevated_risk:{iso3}",
                state=AlertState.FIRING,
                level=level,
                summary=f"{iso3} at {level.value}",
                evidence={},
                actions={},
                opened_at=NOW,
                updated_at=NOW,
            )
            session.add(alert)
            session.flush()
            session.add(AlertEvent(alert_id=alert.id, kind=AlertEventKind.OPENED, at=NOW))
            ids[iso3] = alert.id
    return ids


def test_filters_combine(client: Any, keys: dict[Role, str], alerts: dict[str, int]) -> None:
    reader = {"X-API-Key": keys[Role.ANALYST]}

    def iso3s(query: str) -> list[str]:
        response = client.get(f"/alerts?{query}", headers=reader)
        assert response.status_code == 200, response.text
        return sorted(a["country_iso3"] for a in response.json())

    assert iso3s("region=Africa") == ["SDN"]
    assert iso3s("region=Asia&level=warning") == ["MMR"]
    assert iso3s("region=Asia&level=emergency") == []
    assert iso3s("rule=elevated_risk&state=firing") == ["MMR", "SDN"]
    assert iso3s("country=sdn") == ["SDN"]


def test_resolve_and_reopen_need_an_admin_and_a_reason(
    client: Any, keys: dict[Role, str], alerts: dict[str, int]
) -> None:
    admin = {"X-API-Key": keys[Role.ADMIN]}
    focal = {"X-API-Key": keys[Role.FOCAL_POINT]}
    url = f"/alerts/{alerts['SDN']}"

    assert client.post(f"{url}/resolve", json={"reason": "x"}, headers=focal).status_code == 403
    missing = client.post(f"{url}/resolve", json={}, headers=admin)
    assert missing.status_code == 422
    resolved = client.post(f"{url}/resolve", json={"reason": "duplicate report"}, headers=admin)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolution_note"] == "duplicate report"
    again = client.post(f"{url}/resolve", json={"reason": "x"}, headers=admin)
    assert again.status_code == 409
    assert "already resolved" in again.json()["detail"]
    assert client.post(f"{url}/acknowledge", headers=focal).status_code == 409

    reopened = client.post(f"{url}/reopen", json={"reason": "new reports"}, headers=admin)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["state"] == "firing"
    trail = client.get(f"{url}/events", headers=focal).json()
    assert [(e["kind"], e["note"]) for e in trail] == [
        ("opened", None),
        ("resolved", "duplicate report"),
        ("reopened", "new reports"),
    ]
    assert all(e["actor"].startswith("key:") for e in trail[1:])
    assert client.get("/alerts/999999/events", headers=focal).status_code == 404


def test_a_focal_point_manages_only_its_own_subscriptions(
    client: Any, keys: dict[Role, str], focal_point_id: int, alerts: dict[str, int]
) -> None:
    admin = {"X-API-Key": keys[Role.ADMIN]}
    focal = {"X-API-Key": keys[Role.FOCAL_POINT]}
    other = client.post(
        "/focal-points", json={"name": "Other", "email": "o@example.org"}, headers=admin
    ).json()
    url = f"/focal-points/{focal_point_id}/subscriptions"

    created = client.post(
        url,
        json={
            "region": "Africa",
            "min_level": "warning",
            "rule_kinds": ["level_at_least", "risk_factor"],
            "channel": "email",
        },
        headers=focal,
    )
    assert created.status_code == 201, created.text
    assert created.json()["rule_kinds"] == ["level_at_least", "risk_factor"]
    assert [s["id"] for s in client.get(url, headers=focal).json()] == [created.json()["id"]]

    bad_region = client.post(url, json={"region": "Atlantis", "channel": "email"}, headers=focal)
    assert bad_region.status_code == 422
    assert "unknown region 'Atlantis'" in bad_region.json()["detail"]
    bad_kind = client.post(
        url, json={"rule_kinds": ["astrology"], "channel": "email"}, headers=focal
    )
    assert bad_kind.status_code == 422

    theirs = f"/focal-points/{other['id']}/subscriptions"
    assert client.post(theirs, json={"channel": "email"}, headers=focal).status_code == 404
    made_by_admin = client.post(theirs, json={"channel": "email"}, headers=admin)
    assert made_by_admin.status_code == 201
    gone = client.delete(f"/subscriptions/{made_by_admin.json()['id']}", headers=focal)
    assert gone.status_code == 404
    assert client.delete(f"/subscriptions/{created.json()['id']}", headers=focal).status_code == 204
    assert client.get(url, headers=focal).json() == []
