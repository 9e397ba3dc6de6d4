"""Alert lifecycle and subscriptions over HTTP: filters, resolve/reopen with reasons, the audit
trail, and subscriptions a focal point manages itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.notify.models import Channel, OutboxMessage, OutboxStatus, Subscription
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
    # The focal point has no subscription for Sudan: refused before the state is looked at.
    assert client.post(f"{url}/acknowledge", headers=focal).status_code == 403
    assert client.post(f"{url}/acknowledge", headers=admin).status_code == 409

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
    # Sudan's alert (Africa, emergency) is already open: it is sent to the new subscriber.
    assert created.json()["open_alerts_queued"] == [alerts["SDN"]]
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


def _subscribe(
    session_factory: sessionmaker[Session], focal_point_id: int, **criteria: Any
) -> None:
    with session_scope(session_factory) as session:
        session.add(
            Subscription(
                focal_point_id=focal_point_id,
                channel=Channel.EMAIL,
                min_level=criteria.pop("min_level", RiskLevel.WARNING),
                **criteria,
            )
        )


def test_a_focal_point_acknowledges_only_alerts_that_concern_it(
    client: Any,
    keys: dict[Role, str],
    alerts: dict[str, int],
    focal_point_id: int,
    session_factory: sessionmaker[Session],
) -> None:
    focal = {"X-API-Key": keys[Role.FOCAL_POINT]}
    _subscribe(session_factory, focal_point_id, region="Africa")

    refused = client.post(
        f"/alerts/{alerts['MMR']}/acknowledge", json={"note": "mine?"}, headers=focal
    )
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert f"focal point {focal_point_id}" in detail
    assert "none of its subscriptions match" in detail
    with session_factory() as session:
        events = session.scalars(
            select(AlertEvent.kind).where(AlertEvent.alert_id == alerts["MMR"])
        ).all()
        assert events == [AlertEventKind.OPENED], "a refused acknowledgement leaves no trace"
        assert session.get_one(Alert, alerts["MMR"]).state is AlertState.FIRING

    accepted = client.post(
        f"/alerts/{alerts['SDN']}/acknowledge", json={"note": "desk convened"}, headers=focal
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "acknowledged"

    # A subscription that matches the country but not the level does not count.
    _subscribe(session_factory, focal_point_id, country_iso3="MMR", min_level=RiskLevel.EMERGENCY)
    assert client.post(f"/alerts/{alerts['MMR']}/acknowledge", headers=focal).status_code == 403

    # Administrators may acknowledge any alert.
    admin = {"X-API-Key": keys[Role.ADMIN]}
    by_admin = client.post(f"/alerts/{alerts['MMR']}/acknowledge", headers=admin)
    assert by_admin.status_code == 200, by_admin.text


@pytest.mark.parametrize("how", ["told", "escalation_chain"])
def test_a_focal_point_told_or_on_the_chain_may_acknowledge(
    how: str,
    client: Any,
    keys: dict[Role, str],
    alerts: dict[str, int],
    focal_point_id: int,
    session_factory: sessionmaker[Session],
) -> None:
    """No subscription matches, but the focal point was told (an outbox message of the
    alert), or the alert's frozen escalation chain names it."""
    focal = {"X-API-Key": keys[Role.FOCAL_POINT]}
    alert_id = alerts["MMR"]
    assert client.post(f"/alerts/{alert_id}/acknowledge", headers=focal).status_code == 403
    with session_scope(session_factory) as session:
        alert = session.get_one(Alert, alert_id)
        if how == "told":
            session.add(
                OutboxMessage(
                    dedup_key=f"test:{alert_id}",
                    alert_id=alert_id,
                    focal_point_id=focal_point_id,
                    channel=Channel.EMAIL,
                    target="desk@example.org",
                    purpose="reminder",
                    payload={},
                    status=OutboxStatus.SENT,
                )
            )
        else:
            alert.escalation = {
                "tiers": [
                    {"name": "regional", "after_minutes": 60, "focal_point_ids": []},
                    {"name": "hq", "after_minutes": 240, "focal_point_ids": [focal_point_id]},
                ],
                "notified_focal_point_ids": [],
            }
    accepted = client.post(f"/alerts/{alert_id}/acknowledge", headers=focal)
    assert accepted.status_code == 200, accepted.text


def test_a_focal_point_key_of_an_inactive_focal_point_cannot_acknowledge(
    client: Any,
    keys: dict[Role, str],
    alerts: dict[str, int],
    focal_point_id: int,
    session_factory: sessionmaker[Session],
) -> None:
    _subscribe(session_factory, focal_point_id)
    with session_scope(session_factory) as session:
        # Deactivation through the API also revokes keys; a direct edit must still not let
        # the key act.
        session.get_one(FocalPoint, focal_point_id).active = False
    refused = client.post(
        f"/alerts/{alerts['SDN']}/acknowledge", headers={"X-API-Key": keys[Role.FOCAL_POINT]}
    )
    assert refused.status_code == 403
    assert "not an active focal point" in refused.json()["detail"]
