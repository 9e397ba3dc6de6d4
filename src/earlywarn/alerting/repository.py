from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertState
from earlywarn.types import RiskLevel


def open_alerts_by_key(session: Session) -> dict[str, Alert]:
    alerts = session.scalars(select(Alert).where(Alert.state != AlertState.RESOLVED))
    return {a.dedup_key: a for a in alerts}


def add_alert(session: Session, alert: Alert) -> Alert:
    session.add(alert)
    session.flush()
    return alert


def add_event(session: Session, event: AlertEvent) -> AlertEvent:
    session.add(event)
    session.flush()
    return event


def get(session: Session, alert_id: int, *, for_update: bool = False) -> Alert | None:
    query = select(Alert).where(Alert.id == alert_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def list_alerts(
    session: Session,
    *,
    states: list[AlertState] | None,
    country_iso3: str | None,
    level: RiskLevel | None,
    rule_id: str | None,
    limit: int,
) -> list[Alert]:
    query = select(Alert)
    if states:
        query = query.where(Alert.state.in_(states))
    if country_iso3:
        query = query.where(Alert.country_iso3 == country_iso3)
    if level is not None:
        query = query.where(Alert.level == level)
    if rule_id:
        query = query.where(Alert.rule_id == rule_id)
    return list(
        session.scalars(query.order_by(Alert.updated_at.desc(), Alert.id.desc()).limit(limit))
    )


def events_for(session: Session, alert_id: int) -> list[AlertEvent]:
    return list(
        session.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
        )
    )
