"""Issue 6's "done when", end to end with real components on loopback.

A focal point subscribed to a region receives a signed webhook (real HTTP server) and an e-mail
(real SMTP server) for a new alert, with its recommended actions; it acknowledges the alert
through the API; the audit trail shows every step, and the deliveries show who was told what.
The CAP feed carries the alert. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import dataclasses
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.auth.service import create_key
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import DeliveryConfig
from earlywarn.ingest import service as ingest_service
from earlywarn.notify.channels import SmtpSettings
from earlywarn.notify.delivery import DeliveryWorker
from earlywarn.settings import Settings
from earlywarn.types import Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def configuration(configuration: Configuration) -> Configuration:
    """One indicator in each of nine factors (about 20% coverage): thin evidence, which
    min_coverage_for_level holds at 'concern' (tests/scoring/test_evidence_levels.py). The
    minimum is off here: the focal point's journey is under test."""
    scoring = configuration.scoring.model_copy(update={"min_coverage_for_level": 0.0})
    return dataclasses.replace(configuration, scoring=scoring)


CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
ATOM = "{http://www.w3.org/2005/Atom}"
AS_OF = date(2025, 6, 30)
# A country at emergency level: one indicator per risk factor near its risky bound.
RISKY = {
    "ewp.battledeaths.log2": 13,
    "ewp.pol_killing_approved": 1,
    "ewp.un_imr_sqrt": 7,
    "ewp.discrimpop": 0.3,
    "ewp.repress_civilsoc": 1,
    "ewp.partyban.new.1": 1,
    "ewp.coup.try.5yr": 1,
    "ewp.social_inequality": 1,
    "ewp.widetargeting": 1,
}


def _csv(path: Path, countries: dict[str, dict[str, float]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iso3", "variable", "year", "value"])
        for iso3, values in countries.items():
            for variable, value in values.items():
                writer.writerow([iso3, variable, 2024, value])
    return path


def test_a_regional_focal_point_is_told_acknowledges_and_the_trail_shows_it(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    receiver: Any,
    smtp_server: Any,
    verify_signature: Callable[[str, dict[str, str], str], bool],
    tmp_path: Path,
) -> None:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        scheduler_enabled=False,
        bootstrap_admin_key=None,
        public_base_url="https://earlywarn.example.org",
        webhook_allow_hosts=["127.0.0.1"],  # the test receiver listens on loopback
    )
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    prepare_database(session_factory, configuration)
    with session_scope(session_factory) as session:
        _, admin_key = create_key(session, name="admin", role=Role.ADMIN)
    admin = {"X-API-Key": admin_key}

    with TestClient(app) as client:
        # The administrator registers the focal point and gives it its own key.
        created = client.post(
            "/focal-points",
            json={
                "name": "Africa desk",
                "email": "africa@example.org",
                "webhook_url": receiver.url,
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        fp_id = created.json()["id"]
        key = client.post(
            "/api-keys",
            json={"name": "africa-desk", "role": "focal_point", "focal_point_id": fp_id},
            headers=admin,
        )
        assert key.status_code == 201, key.text
        desk = {"X-API-Key": key.json()["key"]}

        # The focal point manages its own subscriptions and its webhook secret.
        for channel in ("webhook", "email"):
            sub = client.post(
                f"/focal-points/{fp_id}/subscriptions",
                json={"region": "Africa", "min_level": "warning", "channel": channel},
                headers=desk,
            )
            assert sub.status_code == 201, sub.text
        other = client.post(
            "/focal-points", json={"name": "Other", "email": "o@example.org"}, headers=admin
        ).json()
        refused = client.get(f"/focal-points/{other['id']}/subscriptions", headers=desk)
        assert refused.status_code == 404
        secret = client.post(f"/focal-points/{fp_id}/webhook/rotate-secret", headers=desk)
        assert secret.status_code == 200, secret.text
        webhook_secret = secret.json()["webhook_secret"]

        # Data arrive: Sudan (Africa) at emergency, Myanmar (Asia) too.
        path = _csv(tmp_path / "risky.csv", {"SDN": RISKY, "MMR": RISKY})
        ingest_service.import_file(session_factory, path, "csv")
        summary = score_and_alert(session_factory, configuration, as_of=AS_OF)
        assert summary.alerts_opened >= 2

        worker = DeliveryWorker(
            session_factory,
            DeliveryConfig(backoff_initial_seconds=0.01, backoff_max_seconds=0.05),
            SmtpSettings(host=smtp_server.host, port=smtp_server.port, sender="ew@example.org"),
            base_url=settings.public_base_url,
            allow_hosts=["127.0.0.1"],  # the test receivers listen on loopback
        )
        stats = worker.drain()
        assert stats.failed == 0
        assert stats.delivered == stats.claimed > 0

        # The webhook: signed, verifiable independently, only Africa, with actions by sphere.
        assert receiver.requests
        for request in receiver.requests:
            assert verify_signature(webhook_secret, request.headers, request.body)
        payloads = list(receiver.application.values())
        assert {p["alert"]["country"]["iso3"] for p in payloads} == {"SDN"}
        # Both rules firing for Sudan in the run come as one message per channel.
        assert len(payloads) == 1
        (message,) = payloads
        assert {a["rule_id"] for a in message["alerts"]} >= {"elevated_risk"}
        actions = message["alert"]["recommended_actions"]
        assert all(actions[s] for s in ("national", "bilateral", "regional", "multilateral"))
        assert all(h["recommended_because"] for s in actions.values() for h in s)
        alert_id = next(a["id"] for a in message["alerts"] if a["rule_id"] == "elevated_risk")

        # The e-mail: to the same focal point, text and HTML, actions and the link.
        mails = [m for m in smtp_server.inbox.messages if m["To"] == "africa@example.org"]
        assert len(mails) == len(payloads), "one e-mail per run, like the webhook"
        mail = next(
            m for m in mails if f"/alerts/{alert_id}" in m.get_body(("plain",)).get_content()
        )
        text = mail.get_body(preferencelist=("plain",)).get_content()
        assert f"https://earlywarn.example.org/alerts/{alert_id}" in text
        assert "All recommended actions" in text  # the combined message links each alert
        assert mail.get_body(preferencelist=("html",)) is not None

        # The focal point acknowledges through the API.
        acked = client.post(
            f"/alerts/{alert_id}/acknowledge", json={"note": "Desk convened"}, headers=desk
        )
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged"
        assert acked.json()["next_escalation_at"] is None
        worker.drain()
        worker.close()

        # The audit trail shows every step, with its actor.
        trail = client.get(f"/alerts/{alert_id}/events", headers=desk).json()
        assert [(e["kind"], e["actor"], e["note"]) for e in trail] == [
            ("opened", "system", None),
            ("acknowledged", f"key:{key.json()['id']}:africa-desk", "Desk convened"),
        ]
        # ... and the deliveries prove who was told what, and when.
        deliveries = client.get(f"/alerts/{alert_id}/deliveries", headers=admin).json()
        told = sorted(
            (d["payload"]["event"]["kind"], d["channel"], d["status"], len(d["attempts_log"]))
            for d in deliveries
        )
        # The focal point that acknowledged is not told about its own acknowledgement.
        assert told == [("opened", "email", "sent", 1), ("opened", "webhook", "sent", 1)]
        assert all(d["focal_point_id"] == fp_id for d in deliveries)
        assert client.get(f"/alerts/{alert_id}/deliveries", headers=desk).status_code == 403

        # The CAP 1.2 feed carries the active alerts, structurally valid.
        feed = client.get("/alerts/feed.cap", headers=desk)
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("application/atom+xml")
        root = ET.fromstring(feed.content)
        assert root.tag == f"{ATOM}feed"
        caps = [entry.find(f"{ATOM}content/{CAP}alert") for entry in root.findall(f"{ATOM}entry")]
        assert caps
        assert all(c is not None for c in caps)
        ours = next(
            c
            for c in caps
            if c is not None and c.findtext(f"{CAP}identifier") == f"earlywarn-alert-{alert_id}"
        )
        for required in ("identifier", "sender", "sent", "status", "msgType", "scope"):
            assert ours.findtext(f"{CAP}{required}"), required
        assert ours.findtext(f"{CAP}status") == "Actual"
        assert ours.findtext(f"{CAP}scope") == "Restricted"
        assert ours.findtext(f"{CAP}restriction")
        info = ours.find(f"{CAP}info")
        assert info is not None
        for required in ("category", "event", "urgency", "severity", "certainty"):
            assert info.findtext(f"{CAP}{required}"), required
        assert info.findtext(f"{CAP}severity") == "Extreme"
        assert info.findtext(f"{CAP}area/{CAP}areaDesc") == "Sudan"
        assert info.findtext(f"{CAP}area/{CAP}geocode/{CAP}value") == "SDN"
        assert "Recommended actions" in (info.findtext(f"{CAP}instruction") or "")
        sent = ours.findtext(f"{CAP}sent") or ""
        assert sent.endswith("+00:00")
        assert "." not in sent
        single = client.get(f"/alerts/{alert_id}/cap", headers=desk)
        assert single.headers["content-type"].startswith("application/cap+xml")
        assert ET.fromstring(single.content).tag == f"{CAP}alert"
