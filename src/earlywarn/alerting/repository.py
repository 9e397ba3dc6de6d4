"""Every query the alerting stage makes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertRuleState, AlertState
from earlywarn.countries.models import Country
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.types import RiskLevel


def open_alerts_by_key(session: Session) -> dict[str, Alert]:
    alerts = session.scalars(select(Alert).where(Alert.state != AlertState.RESOLVED))
    return {a.dedup_key: a for a in alerts}


def open_alert_for_key(session: Session, key: str) -> Alert | None:
    return session.scalars(
        select(Alert).where(Alert.dedup_key == key, Alert.state != AlertState.RESOLVED)
    ).one_or_none()


def rule_states(session: Session) -> dict[str, AlertRuleState]:
    return {s.dedup_key: s for s in session.scalars(select(AlertRuleState))}


def rule_state(session: Session, key: str) -> AlertRuleState | None:
    return session.get(AlertRuleState, key)


def country_names(session: Session) -> dict[str, str]:
    rows = session.execute(select(Country.iso3, Country.name))
    return {row[0]: row[1] for row in rows}


def country_regions(session: Session) -> dict[str, str]:
    return {
        iso3: region
        for iso3, region in session.execute(select(Country.iso3, Country.region))
        if region
    }


def score_history(
    session: Session, *, before_run_id: int, runs: int, inclusive: bool = False
) -> dict[str, list[tuple[float, RiskLevel]]]:
    """(composite, level) per country in the ``runs`` successful runs before ``before_run_id``
    in time (by date, then id; ``inclusive``: up to and including it), oldest first; unrated
    countries are left out of a run.

    Only runs alerts were evaluated on count: a backfilled history (or a run scored for a
    past date) was never news, and must not move a live rule's baseline."""
    run_ids = list(
        session.scalars(
            select(ScoreRun.id)
            .where(
                ScoreRun.status == ScoreRunStatus.SUCCEEDED,
                ScoreRun.alerts_evaluated.is_(True),
                scoring_repository.runs_before(before_run_id, inclusive=inclusive),
            )
            .order_by(*scoring_repository.NEWEST_FIRST)
            .limit(runs)
        )
    )
    history: dict[str, list[tuple[float, RiskLevel]]] = defaultdict(list)
    if not run_ids:
        return history
    rows = session.execute(
        select(CountryScore.country_iso3, CountryScore.composite, CountryScore.level)
        .join(ScoreRun, ScoreRun.id == CountryScore.score_run_id)
        .where(CountryScore.score_run_id.in_(run_ids), CountryScore.level.is_not(None))
        .order_by(ScoreRun.as_of, ScoreRun.id)
    )
    for iso3, composite, level in rows:
        if composite is not None and level is not None:
            history[iso3].append((composite, level))
    return history


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


def due_escalations(session: Session, now: datetime) -> list[Alert]:
    query = (
        select(Alert)
        .where(Alert.state == AlertState.FIRING, Alert.next_escalation_at <= now)
        .order_by(Alert.next_escalation_at, Alert.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def list_alerts(
    session: Session,
    *,
    states: list[AlertState] | None,
    country_iso3: str | None,
    level: RiskLevel | None,
    rule_id: str | None,
    limit: int,
    region: str | None = None,
    offset: int = 0,
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
    if region:
        query = query.join(Country, Country.iso3 == Alert.country_iso3).where(
            Country.region == region
        )
    return list(
        session.scalars(
            query.order_by(Alert.updated_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
        )
    )


def active_alerts(session: Session) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.state != AlertState.RESOLVED, Alert.operational.is_(False))
            .order_by(Alert.id)
        )
    )


def events_for(session: Session, alert_id: int) -> list[AlertEvent]:
    return list(
        session.scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
        )
    )
