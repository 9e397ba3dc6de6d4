"""Alerts with everything their foreign keys need, focal points and subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.countries.models import Country
from earlywarn.framework.models import WeightSet
from earlywarn.notify.models import Channel, FocalPoint, Subscription
from earlywarn.scoring.models import CountryScore, ScoreRun, ScoreRunStatus
from earlywarn.types import RiskLevel

OPENED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
COUNTRIES = {"SDN": "Sudan", "TCD": "Chad", "MMR": "Myanmar"}


@pytest.fixture
def score_run(session: Session) -> ScoreRun:
    """Countries, a weight set, a finished score run and one score per country."""
    for iso3, name in COUNTRIES.items():
        session.add(Country(iso3=iso3, name=name))
    weights = WeightSet(version=1, content_digest="0" * 64, indicator_weights={}, factor_weights={})
    session.add(weights)
    session.flush()
    run = ScoreRun(
        status=ScoreRunStatus.SUCCEEDED,
        as_of=date(2026, 11, 20),
        weight_set_id=weights.id,
        methodology_version="test",
        finished_at=OPENED_AT,
        countries_scored=len(COUNTRIES),
    )
    session.add(run)
    session.flush()
    for iso3 in COUNTRIES:
        session.add(
            CountryScore(
                score_run_id=run.id,
                country_iso3=iso3,
                composite=0.7,
                level=RiskLevel.WARNING,
                coverage=0.9,
                factors={},
                factor_summary={},
                weight_set_id=weights.id,
                methodology_version="test",
            )
        )
    session.flush()
    return run


AlertFactory = Callable[..., tuple[Alert, AlertEvent]]


@pytest.fixture
def make_alert(session: Session, score_run: ScoreRun) -> AlertFactory:
    """``make_alert(iso3, level)``: a firing alert and its ``opened`` event, flushed."""

    def build(iso3: str, level: RiskLevel) -> tuple[Alert, AlertEvent]:
        score = session.scalars(
            select(CountryScore).where(
                CountryScore.score_run_id == score_run.id, CountryScore.country_iso3 == iso3
            )
        ).one()
        alert = Alert(
            rule_id="level-rise",
            country_iso3=iso3,
            dedup_key=f"level-rise:{iso3}",
            state=AlertState.FIRING,
            level=level,
            summary=f"{COUNTRIES[iso3]} rose to {level.value}",
            evidence={"composite": 0.7, "factors": [{"number": 1, "score": 0.8}]},
            actions={"headings": [{"code": "1.13", "title": "Combat hate speech"}]},
            opened_at=OPENED_AT,
            updated_at=OPENED_AT,
            opened_score_run_id=score_run.id,
            latest_score_id=score.id,
        )
        session.add(alert)
        session.flush()
        event = AlertEvent(
            alert_id=alert.id,
            kind=AlertEventKind.OPENED,
            at=OPENED_AT,
            to_level=level,
            score_run_id=score_run.id,
        )
        session.add(event)
        session.flush()
        return alert, event

    return build


@pytest.fixture
def add_event(session: Session) -> Callable[..., AlertEvent]:
    """``add_event(alert, kind, to_level=None)``: records a change and applies it to the alert."""

    def build(alert: Alert, kind: AlertEventKind, to_level: RiskLevel | None = None) -> AlertEvent:
        from_level = alert.level
        if to_level is not None:
            alert.level = to_level
        if kind is AlertEventKind.RESOLVED:
            alert.state = AlertState.RESOLVED
            alert.resolved_at = OPENED_AT
        elif kind is AlertEventKind.ACKNOWLEDGED:
            alert.state = AlertState.ACKNOWLEDGED
        event = AlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=datetime(2026, 11, 21, 3, 0, tzinfo=UTC),
            from_level=from_level,
            to_level=to_level if to_level is not None else from_level,
        )
        session.add(event)
        session.flush()
        return event

    return build


SubscribeFactory = Callable[..., Subscription]


@pytest.fixture
def subscribe(session: Session) -> SubscribeFactory:
    """``subscribe(country, min_level, channel=email, active=True, name=...)``: a new focal point
    with both targets and one subscription."""

    def build(
        country_iso3: str | None,
        min_level: RiskLevel,
        channel: Channel = Channel.EMAIL,
        *,
        active: bool = True,
        name: str = "Focal point",
    ) -> Subscription:
        focal_point = FocalPoint(
            name=name,
            email=f"{name.lower().replace(' ', '.')}@example.org",
            webhook_url="https://hooks.example.org/earlywarn",
            active=active,
        )
        session.add(focal_point)
        session.flush()
        subscription = Subscription(
            focal_point_id=focal_point.id,
            country_iso3=country_iso3,
            min_level=min_level,
            channel=channel,
        )
        session.add(subscription)
        session.flush()
        return subscription

    return build
