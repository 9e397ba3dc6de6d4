"""Queries of early action and the warning-response report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.alerting.response_models import ActionStatus, AlertAction
from earlywarn.countries.models import Country


def country_alerts(
    session: Session, opened_from: datetime | None, opened_to: datetime | None
) -> list[Alert]:
    query = select(Alert).where(Alert.operational.is_(False)).order_by(Alert.opened_at, Alert.id)
    if opened_from is not None:
        query = query.where(Alert.opened_at >= opened_from)
    if opened_to is not None:
        query = query.where(Alert.opened_at < opened_to)
    return list(session.scalars(query))


def first_acknowledgements(session: Session) -> dict[int, datetime]:
    """When each alert was first acknowledged (an escalation may clear a later state)."""
    rows = session.execute(
        select(AlertEvent.alert_id, func.min(AlertEvent.at))
        .where(AlertEvent.kind == AlertEventKind.ACKNOWLEDGED)
        .group_by(AlertEvent.alert_id)
    )
    return {alert_id: at for alert_id, at in rows.all()}  # noqa: C416


def action_counts(session: Session) -> dict[int, tuple[datetime, int, int]]:
    """Per alert: the first action's time, the number of actions, and how many are done."""
    rows = session.execute(
        select(
            AlertAction.alert_id,
            func.min(AlertAction.created_at),
            func.count(AlertAction.id),
            func.sum(case((AlertAction.status == ActionStatus.DONE, 1), else_=0)),
        ).group_by(AlertAction.alert_id)
    )
    return {alert_id: (first, int(n), int(done or 0)) for alert_id, first, n, done in rows}


def actions_of(session: Session, alert_ids: list[int]) -> list[AlertAction]:
    if not alert_ids:
        return []
    return list(
        session.scalars(
            select(AlertAction)
            .where(AlertAction.alert_id.in_(alert_ids))
            .order_by(AlertAction.alert_id, AlertAction.id)
        )
    )


def regions(session: Session) -> dict[str, str | None]:
    return {iso3: region for iso3, region in session.execute(select(Country.iso3, Country.region))}  # noqa: C416
