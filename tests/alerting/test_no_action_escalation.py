"""An acknowledged alert with no recorded action after early_action.escalate_without_action_days
escalates like an unacknowledged one; a recorded action, or a shorter wait, keeps it quiet.
On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting import lifecycle
from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.alerting.response_models import ActionStatus, AlertAction
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.countries.models import Country
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule
from earlywarn.notify.alert_events import hand_over
from earlywarn.notify.escalation import escalate_due
from earlywarn.types import RiskLevel, Sphere


@pytest.fixture
def alert(configuration: Configuration, session: Session) -> Alert:
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
    config = dataclasses.replace(
        configuration, alerting=configuration.alerting.model_copy(update={"rules": [rule]})
    )
    data = CountryInput(iso3="SDN", level=RiskLevel.WARNING, composite=0.45)
    hand_over(
        session,
        config.alerting.escalation,
        evaluate_alerts(session, config, RunRef(None, date(2026, 1, 5)), [data]).updates,
    )
    session.flush()
    opened = session.scalars(select(Alert)).one()
    assert opened.escalation["escalate_without_action_days"] == 7
    hand_over(
        session,
        configuration.alerting.escalation,
        [lifecycle.acknowledge(session, opened.id, actor="desk", note="seen")],
    )
    session.flush()
    return opened


def _kinds(session: Session, alert: Alert) -> list[str]:
    query = select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
    return [k.value for k in session.scalars(query)]


def test_no_action_after_the_limit_escalates_again(session: Session, alert: Alert) -> None:
    assert alert.acknowledged_at is not None
    escalate_due(session, alert.acknowledged_at + timedelta(days=6))
    assert alert.state is AlertState.ACKNOWLEDGED, "six days: still within the limit"

    events = escalate_due(session, alert.acknowledged_at + timedelta(days=7, hours=1))
    session.flush()
    assert alert.state is AlertState.FIRING
    assert alert.acknowledged_by is None
    kinds = _kinds(session, alert)
    assert kinds[:3] == ["opened", "acknowledged", "action_overdue"]
    assert "tier_escalated" in kinds[3:], "the chain's next tier is paged in the same pass"
    overdue = next(e for e in events if e.kind is AlertEventKind.ACTION_OVERDUE)
    assert overdue.details["acknowledged_by"] == "desk"
    assert "no action recorded within 7 days" in (overdue.note or "")


def test_a_recorded_action_keeps_the_acknowledgement(session: Session, alert: Alert) -> None:
    now = utc_now()
    session.add(
        AlertAction(
            alert_id=alert.id, text="Convene the desk", sphere=Sphere.NATIONAL, who_acts="Desk",
            status=ActionStatus.PLANNED, created_at=now, created_by="desk", updated_at=now,
            updated_by="desk",
        )
    )  # fmt: skip
    session.flush()
    assert alert.acknowledged_at is not None
    escalate_due(session, alert.acknowledged_at + timedelta(days=30))
    assert alert.state is AlertState.ACKNOWLEDGED
    assert _kinds(session, alert) == ["opened", "acknowledged"]
