"""Rule evaluation with synthetic per-country inputs: hysteresis, for_runs, cooldown, the rise,
onset-probability, specific-factor and source-health rules, and escalation. On SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting import lifecycle
from earlywarn.alerting.evaluation import EvaluationOutcome, evaluate_alerts
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.alerting.rules import CountryInput, RunRef, SourceHealth, history_runs_needed
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, EscalationConfig
from earlywarn.notify.alert_events import AlertNotifier, hand_over
from earlywarn.notify.escalation import escalate_due
from earlywarn.notify.models import Channel, OutboxMessage, Subscription
from earlywarn.types import RiskLevel

START = date(2026, 1, 5)
_RULE = TypeAdapter(AlertRule)


def _config(base: Configuration, *rules: dict[str, Any], **alerting: Any) -> Configuration:
    parsed = [_RULE.validate_python(r) for r in rules]
    return dataclasses.replace(
        base, alerting=base.alerting.model_copy(update={"rules": parsed, **alerting})
    )


@pytest.fixture
def countries(session: Session) -> None:
    session.add_all(
        [
            Country(iso3="SDN", name="Sudan", region="Africa"),
            Country(iso3="TCD", name="Chad", region="Africa"),
            Country(iso3="MMR", name="Myanmar", region="Asia"),
        ]
    )
    session.flush()


@dataclasses.dataclass(frozen=True)
class Evaluated:
    """One run's evaluation, handed to notify as the pipeline does."""

    outcome: EvaluationOutcome
    outbox_messages: int


Run = Callable[..., Evaluated]
# What the alert routes hand people's actions to (the escalation policy only matters when an
# alert opens, which people's actions never do).
NOTIFIER = AlertNotifier(EscalationConfig())


@pytest.fixture
def run(session: Session, countries: None) -> Run:
    """``run(config, week, [inputs], [sources])``: evaluate one weekly run."""

    def evaluate(
        config: Configuration,
        week: int,
        inputs: Sequence[CountryInput] = (),
        sources: Sequence[SourceHealth] = (),
    ) -> Evaluated:
        ref = RunRef(None, START + timedelta(weeks=week))
        outcome = evaluate_alerts(session, config, ref, inputs, sources)
        messages = hand_over(session, config.alerting.escalation, outcome.updates)
        session.flush()
        return Evaluated(outcome, messages)

    return evaluate


def _sdn(level: RiskLevel, composite: float, **extra: Any) -> CountryInput:
    return CountryInput(iso3="SDN", level=level, composite=composite, **extra)


def _alerts(session: Session, rule_id: str | None = None) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    if rule_id:
        query = query.where(Alert.rule_id == rule_id)
    return list(session.scalars(query))


def _kinds(session: Session, alert: Alert) -> list[AlertEventKind]:
    return list(
        session.scalars(
            select(AlertEvent.kind).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
        )
    )


LEVEL_RULE = {
    "id": "elevated",
    "kind": "level_at_least",
    "enter_level": "warning",
    "exit_level": "concern",
}


def test_a_score_oscillating_around_the_threshold_opens_one_alert(
    session: Session, configuration: Configuration, run: Run
) -> None:
    config = _config(configuration, LEVEL_RULE)
    # warning threshold 0.55: the composite hovers just above and below it for 12 weeks.
    for week in range(12):
        composite = 0.56 if week % 2 == 0 else 0.54
        level = RiskLevel.WARNING if week % 2 == 0 else RiskLevel.CONCERN
        run(config, week, [_sdn(level, composite)])
    (alert,) = _alerts(session)
    assert alert.state is AlertState.FIRING
    assert _kinds(session, alert) == [AlertEventKind.OPENED]

    run(config, 12, [_sdn(RiskLevel.LOW, 0.2)])  # below the exit level: resolved
    assert alert.state is AlertState.RESOLVED
    assert alert.resolved_by == "system"


def test_without_hysteresis_the_same_scores_flap(
    session: Session, configuration: Configuration, run: Run
) -> None:
    """The control for the test above: enter == exit level makes every crossing an alert."""
    config = _config(configuration, {**LEVEL_RULE, "exit_level": "warning"})
    for week in range(6):
        level = RiskLevel.WARNING if week % 2 == 0 else RiskLevel.CONCERN
        run(config, week, [_sdn(level, 0.55)])
    assert len(_alerts(session)) == 3


def test_for_runs_needs_consecutive_runs(
    session: Session, configuration: Configuration, run: Run
) -> None:
    config = _config(configuration, {**LEVEL_RULE, "for_runs": 3})
    levels = [RiskLevel.WARNING, RiskLevel.WARNING, RiskLevel.CONCERN, RiskLevel.WARNING]
    for week, level in enumerate(levels):
        run(config, week, [_sdn(level, 0.55)])
    assert _alerts(session) == [], "the streak was broken before it reached 3"
    run(config, 4, [_sdn(RiskLevel.WARNING, 0.56)])
    assert _alerts(session) == []
    run(config, 5, [_sdn(RiskLevel.EMERGENCY, 0.8)])
    (alert,) = _alerts(session)
    assert alert.level is RiskLevel.EMERGENCY


def test_exit_for_runs_keeps_firing(
    session: Session, configuration: Configuration, run: Run
) -> None:
    config = _config(configuration, {**LEVEL_RULE, "exit_for_runs": 2})
    run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])
    run(config, 1, [_sdn(RiskLevel.LOW, 0.1)])
    (alert,) = _alerts(session)
    assert alert.state is AlertState.FIRING
    run(config, 2, [_sdn(RiskLevel.LOW, 0.1)])
    assert alert.state is AlertState.RESOLVED


def test_cooldown_reopens_the_same_alert_then_a_new_one_after_it(
    session: Session, configuration: Configuration, run: Run
) -> None:
    config = _config(configuration, {**LEVEL_RULE, "cooldown_days": 14})
    run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])
    run(config, 1, [_sdn(RiskLevel.LOW, 0.1)])
    run(config, 2, [_sdn(RiskLevel.WARNING, 0.6)])  # 7 days after resolving: reopened
    (alert,) = _alerts(session)
    assert alert.state is AlertState.FIRING
    assert _kinds(session, alert)[-1] is AlertEventKind.REOPENED
    run(config, 3, [_sdn(RiskLevel.LOW, 0.1)])
    run(config, 6, [_sdn(RiskLevel.WARNING, 0.6)])  # 21 days later: a new alert
    assert len(_alerts(session)) == 2


def test_unrated_countries_keep_their_alerts(
    session: Session, configuration: Configuration, run: Run
) -> None:
    config = _config(configuration, LEVEL_RULE)
    run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])
    run(config, 1, [CountryInput(iso3="SDN", level=None, composite=None)])
    run(config, 2, [])
    (alert,) = _alerts(session)
    assert alert.state is AlertState.FIRING


def test_rise_by_points_over_a_window(
    session: Session, configuration: Configuration, run: Run
) -> None:
    rule = {
        "id": "sharp",
        "kind": "level_rise",
        "window_runs": 3,
        "enter_levels": None,
        "enter_points": 0.15,
        "exit_points": 0.05,
    }
    config = _config(configuration, rule)
    history: list[tuple[float, RiskLevel]] = []

    def week(n: int, composite: float) -> None:
        level = RiskLevel.CONCERN if composite < 0.55 else RiskLevel.WARNING
        run(config, n, [_sdn(level, composite, history=list(history))])
        history.append((composite, level))

    week(0, 0.30)
    week(1, 0.38)
    week(2, 0.44)  # +0.14 over the window minimum: not yet
    assert _alerts(session) == []
    week(3, 0.46)  # +0.16 over 0.30
    (alert,) = _alerts(session)
    assert alert.evidence["baseline"] == {"composite": 0.30, "level": "concern"}
    week(4, 0.40)  # still 0.10 above the frozen baseline: open (hysteresis)
    assert alert.state is AlertState.FIRING
    week(5, 0.34)  # within 0.05 of the baseline: resolved
    assert alert.state is AlertState.RESOLVED


def test_onset_probability_rule_with_synthetic_forecasts(
    session: Session, configuration: Configuration, run: Run
) -> None:
    rule = {
        "id": "onset",
        "kind": "onset_probability",
        "horizon_years": 2,
        "enter": 0.30,
        "exit": 0.20,
        "for_runs": 2,
    }
    config = _config(configuration, rule)

    def week(n: int, p2: float | None, p1: float | None = None) -> None:
        run(
            config,
            n,
            [_sdn(RiskLevel.CONCERN, 0.4, onset_probability_1y=p1, onset_probability_2y=p2)],
        )

    week(0, None)  # no forecast yet (forecasting not wired): nothing happens
    week(1, 0.35, p1=0.9)  # the 1-year figure is not this rule's horizon
    assert _alerts(session) == []
    week(2, 0.40)  # second run in a row at or above 0.30
    (alert,) = _alerts(session)
    assert alert.rule_kind == "onset_probability"
    assert alert.evidence["onset_probability_2y"] == 0.40
    assert "40%" in alert.summary
    week(3, 0.25)  # between exit and enter: stays open
    week(4, None)  # a run without a forecast changes nothing
    assert alert.state is AlertState.FIRING
    week(5, 0.15)
    assert alert.state is AlertState.RESOLVED


def test_a_specific_factor_rule_brings_imminent_actions_with_reasons(
    session: Session, configuration: Configuration, run: Run
) -> None:
    rule = {
        "id": "attack",
        "kind": "risk_factor",
        "factor": 11,
        "enter": 0.7,
        "exit": 0.55,
        "level": "warning",
    }
    config = _config(configuration, rule, LEVEL_RULE)
    run(config, 0, [_sdn(RiskLevel.CONCERN, 0.45, factor_scores={11: 0.6, 1: 0.8})])
    assert _alerts(session) == []
    run(config, 1, [_sdn(RiskLevel.CONCERN, 0.45, factor_scores={11: 0.75, 1: 0.8})])
    (alert,) = _alerts(session, "attack")
    assert alert.level is RiskLevel.WARNING
    rows = [
        (heading, row)
        for headings in alert.actions.values()
        for heading in headings
        for row in heading["actions"]
    ]
    imminent = [(h, r) for h, r in rows if r["for_imminent_risk"]]
    assert imminent, "the specific-factor rule recommends the imminent-risk actions"
    assert all(
        "imminent-risk actions: rule attack" in h["recommended_because"] for h, _ in imminent
    )
    assert {h["code"] for h, _ in rows} >= {"2.3", "3.2", "4.3"}

    # The level rule at 'warning' without the factor rule: no imminent-risk rows.
    run(config, 2, [_sdn(RiskLevel.WARNING, 0.6, factor_scores={11: 0.6, 1: 0.8})])
    (level_alert,) = _alerts(session, "elevated")
    assert not [
        r
        for headings in level_alert.actions.values()
        for h in headings
        for r in h["actions"]
        if r["for_imminent_risk"]
    ]
    assert alert.state is AlertState.FIRING, "0.6 is above the exit threshold"


def test_source_health_alerts_go_to_administrators_only(
    session: Session, configuration: Configuration, run: Run
) -> None:
    admin = FocalPoint(name="Ops", email="ops@example.org", is_administrator=True, active=True)
    desk = FocalPoint(name="Desk", email="desk@example.org", active=True)
    session.add_all([admin, desk])
    session.flush()
    session.add(
        Subscription(
            focal_point_id=desk.id, country_iso3=None, min_level=RiskLevel.LOW, channel="email"
        )
    )
    session.flush()
    config = _config(configuration, {"id": "sources", "kind": "source_health"})

    run(config, 0, sources=[SourceHealth("worldbank", "healthy", "ok")])
    run(config, 1, sources=[SourceHealth("worldbank", "failing", "run 7 failed: HTTP 503")])
    (alert,) = _alerts(session)
    assert alert.operational
    assert alert.country_iso3 is None
    assert alert.dedup_key == "sources:worldbank"
    assert "HTTP 503" in alert.summary
    outbox = session.scalars(select(OutboxMessage)).all()
    assert [(m.focal_point_id, m.purpose) for m in outbox] == [(admin.id, "operational")]
    run(config, 2, sources=[SourceHealth("worldbank", "never_run", "")])
    assert alert.state is AlertState.FIRING
    run(config, 3, sources=[SourceHealth("worldbank", "healthy", "ok")])
    assert alert.state is AlertState.RESOLVED


def test_subscriptions_combine_criteria_with_and_and_notify_a_recipient_once(
    session: Session, configuration: Configuration, run: Run
) -> None:
    desk = FocalPoint(name="Africa desk", email="africa@example.org", active=True)
    other = FocalPoint(name="Asia desk", email="asia@example.org", active=True)
    session.add_all([desk, other])
    session.flush()

    def sub(fp: FocalPoint, **criteria: Any) -> None:
        session.add(Subscription(focal_point_id=fp.id, channel=Channel.EMAIL, **criteria))

    # Two subscriptions of one desk both match Sudan: one message.
    sub(desk, region="Africa", min_level=RiskLevel.WARNING)
    sub(desk, country_iso3="SDN", min_level=RiskLevel.CONCERN, rule_kinds=["level_at_least"])
    # Region matches but the rule kind does not; country matches but not the level.
    sub(other, region="Africa", min_level=RiskLevel.LOW, rule_kinds=["onset_probability"])
    sub(other, country_iso3="SDN", min_level=RiskLevel.EMERGENCY)
    # Asia region does not match Sudan.
    sub(other, region="Asia", min_level=RiskLevel.LOW)
    session.flush()
    config = _config(configuration, LEVEL_RULE)

    outcome = run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])

    assert outcome.outbox_messages == 1
    (message,) = session.scalars(select(OutboxMessage)).all()
    assert message.focal_point_id == desk.id


def test_escalation_climbs_the_frozen_chain_then_reminds_until_acknowledged(
    session: Session, configuration: Configuration, run: Run
) -> None:
    def fp(name: str, **extra: Any) -> FocalPoint:
        point = FocalPoint(name=name, email=f"{name.lower()}@example.org", active=True, **extra)
        session.add(point)
        session.flush()
        return point

    desk = fp("Desk")
    africa = fp("Africa", escalation_tier="regional", region="Africa")
    fp("Asia", escalation_tier="regional", region="Asia")
    hq = fp("HQ", escalation_tier="headquarters")
    session.add(
        Subscription(
            focal_point_id=desk.id, country_iso3="SDN", min_level=RiskLevel.LOW, channel="email"
        )
    )
    session.flush()
    escalation = EscalationConfig.model_validate(
        {
            "tiers": [
                {"name": "regional", "after_minutes": 60},
                {"name": "headquarters", "after_minutes": 180},
            ],
            "reminder_interval_minutes": 120,
            "max_reminders": 2,
        }
    )
    config = _config(configuration, LEVEL_RULE, escalation=escalation)
    run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])
    (alert,) = _alerts(session)
    assert [t["focal_point_ids"] for t in alert.escalation["tiers"]] == [[africa.id], [hq.id]]
    assert alert.escalation["notified_focal_point_ids"] == [desk.id]

    # A focal point added to the tier after the alert opened is not in its frozen chain.
    fp("Late", escalation_tier="headquarters")
    opened = alert.opened_at
    assert escalate_due(session, opened + timedelta(minutes=30)) == []
    (first,) = escalate_due(session, opened + timedelta(minutes=61))
    assert first.kind is AlertEventKind.TIER_ESCALATED
    assert first.details == {"tier": "regional", "focal_point_ids": [africa.id]}
    (second,) = escalate_due(session, opened + timedelta(minutes=181))
    assert second.details == {"tier": "headquarters", "focal_point_ids": [hq.id]}
    (reminder,) = escalate_due(session, opened + timedelta(minutes=302))
    assert reminder.kind is AlertEventKind.REMINDED
    assert sorted(reminder.details["focal_point_ids"]) == sorted([desk.id, africa.id, hq.id])
    reminded = session.scalars(
        select(OutboxMessage.focal_point_id).where(OutboxMessage.alert_event_id == reminder.id)
    ).all()
    assert sorted(reminded) == sorted([desk.id, africa.id, hq.id])

    NOTIFIER.hand_over(
        session, [lifecycle.acknowledge(session, alert.id, actor="key:9:desk", note="on it")]
    )
    assert escalate_due(session, opened + timedelta(days=30)) == []
    assert _kinds(session, alert) == [
        AlertEventKind.OPENED,
        AlertEventKind.TIER_ESCALATED,
        AlertEventKind.TIER_ESCALATED,
        AlertEventKind.REMINDED,
        AlertEventKind.ACKNOWLEDGED,
    ]


def test_manual_resolve_and_reopen_are_audited_with_their_actor(
    session: Session, configuration: Configuration, run: Run
) -> None:
    config = _config(configuration, LEVEL_RULE)
    run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])
    (alert,) = _alerts(session)
    NOTIFIER.hand_over(
        session,
        [
            lifecycle.resolve(
                session, alert.id, actor="key:1:admin", reason="false positive: data error"
            )
        ],
    )
    assert alert.resolved_by == "key:1:admin"
    with pytest.raises(lifecycle.AlertStateError, match="already resolved"):
        lifecycle.resolve(session, alert.id, actor="key:1:admin", reason="again")
    NOTIFIER.hand_over(
        session, [lifecycle.reopen(session, alert.id, actor="key:1:admin", reason="data confirmed")]
    )
    assert alert.state is AlertState.FIRING
    events = session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
    ).all()
    assert [(e.kind, e.actor, e.note) for e in events] == [
        (AlertEventKind.OPENED, "system", None),
        (AlertEventKind.RESOLVED, "key:1:admin", "false positive: data error"),
        (AlertEventKind.REOPENED, "key:1:admin", "data confirmed"),
    ]


def test_a_reopened_alert_restarts_the_escalation_clock(
    session: Session, configuration: Configuration, run: Run
) -> None:
    for name, tier in (("Africa", "regional"), ("HQ", "headquarters")):
        session.add(
            FocalPoint(
                name=name, email=f"{name.lower()}@example.org", active=True, escalation_tier=tier
            )
        )
    session.flush()
    escalation = EscalationConfig.model_validate(
        {
            "tiers": [
                {"name": "regional", "after_minutes": 60},
                {"name": "headquarters", "after_minutes": 180},
            ],
            "max_reminders": 0,
        }
    )
    config = _config(configuration, LEVEL_RULE, escalation=escalation)
    run(config, 0, [_sdn(RiskLevel.WARNING, 0.6)])
    (alert,) = _alerts(session)
    opened = alert.opened_at
    assert len(escalate_due(session, opened + timedelta(minutes=61))) == 1
    NOTIFIER.hand_over(
        session, [lifecycle.resolve(session, alert.id, actor="key:1:admin", reason="test")]
    )
    NOTIFIER.hand_over(
        session, [lifecycle.reopen(session, alert.id, actor="key:1:admin", reason="test")]
    )
    reopened_at = alert.updated_at
    assert alert.next_escalation_at is not None
    # Headquarters is due 180 minutes after the reopen, not 180 after the first opening.
    assert alert.next_escalation_at >= reopened_at + timedelta(minutes=179)
    assert escalate_due(session, reopened_at + timedelta(minutes=170)) == []
    (tier,) = escalate_due(session, reopened_at + timedelta(minutes=181))
    assert tier.details["tier"] == "headquarters"
    assert alert.next_escalation_at is None  # no reminders configured


def test_history_read_covers_the_longest_rise_window(configuration: Configuration) -> None:
    """The pipeline and the weight preview read as many earlier runs as the longest rise
    window in config/alerting.yaml (a fixed number cut a 10-run window short)."""
    rise = {"kind": "level_rise", "enter_levels": None, "enter_points": 0.1, "exit_points": 0.05}
    assert history_runs_needed(_config(configuration, LEVEL_RULE).alerting.rules) == 1
    rules = _config(
        configuration,
        LEVEL_RULE,
        {**rise, "id": "short", "window_runs": 3},
        {**rise, "id": "long", "window_runs": 10},
    ).alerting.rules
    assert history_runs_needed(rules) == 10
    assert history_runs_needed(configuration.alerting.rules) == max(
        r.window_runs for r in configuration.alerting.rules if r.kind == "level_rise"
    )
