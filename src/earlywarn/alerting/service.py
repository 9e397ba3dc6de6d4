"""Alert evaluation after a scoring run, and acknowledgement.

Semantics (README "Alerts"): one open alert per rule and country (dedup key ``rule:ISO3``,
enforced by a partial unique index); an alert opens when its rule starts to hold, escalates or
de-escalates with the country's level, and resolves when the rule stops holding. A country
without a rating in the run (too little data) leaves its alerts as they are: missing data is
not evidence that risk fell. Every change is an ``AlertEvent`` and is handed to ``notify``,
which writes the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.countries.models import Country
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.schemas import AlertRule, LevelAtLeastRule, LevelRiseRule
from earlywarn.framework.service import recommend_actions
from earlywarn.notify import service as notify_service
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.types import RiskLevel


class AlertNotFoundError(LookupError):
    pass


class AlertStateError(ValueError):
    pass


@dataclass(frozen=True)
class EvaluationOutcome:
    events: list[AlertEvent]
    outbox_messages: int

    def count(self, kind: AlertEventKind) -> int:
        return sum(1 for e in self.events if e.kind == kind)


def dedup_key(rule_id: str, iso3: str) -> str:
    return f"{rule_id}:{iso3}"


def triggering_factors(config: Configuration, score: CountryScore) -> list[dict[str, Any]]:
    """The factors that drive the score, highest first, each with the values behind it.

    Factors at or above ``triggering_factor_min_score``; when none reaches it, the three
    highest, so that an alert always says what moved it.
    """
    rated = [f for f in score.factors["factors"] if f["score"] is not None]
    rated.sort(key=lambda f: (-f["score"], f["number"]))
    minimum = config.alerting.triggering_factor_min_score
    chosen = [f for f in rated if f["score"] >= minimum] or rated[:3]
    return [
        {
            "number": f["number"],
            "name": f["name"],
            "score": f["score"],
            "coverage": f["coverage"],
            "indicators": [
                {
                    "id": i["indicator_id"],
                    "name": i["name"],
                    "value": i["value"],
                    "period": i["period"],
                    "contribution": i["contribution"],
                    "source": i["source_id"],
                }
                for i in f["indicators"]
                if i["contribution"] is not None
            ],
        }
        for f in chosen[: config.alerting.max_triggering_factors]
    ]


def _evidence(
    config: Configuration,
    run: ScoreRun,
    score: CountryScore,
    previous_level: RiskLevel | None,
    rule: AlertRule,
    baseline_level: RiskLevel | None,
) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "rule": rule.model_dump(mode="json"),
        "score_run_id": run.id,
        "as_of": run.as_of.isoformat(),
        "composite": score.composite,
        "level": score.level.value if score.level else None,
        "previous_level": previous_level.value if previous_level else None,
        "coverage": score.coverage,
        "methodology_version": score.methodology_version,
        "weight_set_id": score.weight_set_id,
        "triggering_factors": triggering_factors(config, score),
    }
    if baseline_level is not None:
        evidence["baseline_level"] = baseline_level.value
    return evidence


def _summary(
    country_name: str, level: RiskLevel, score: CountryScore, factors: Sequence[dict[str, Any]]
) -> str:
    names = ", ".join(f"{f['name']} ({f['score']:.2f})" for f in factors[:3])
    return (
        f"{country_name}: atrocity risk at level '{level.value}' "
        f"(composite {score.composite:.2f}, data coverage {score.coverage:.0%}). "
        f"Main risk factors: {names}."
    )


def _wants_open(rule: AlertRule, level: RiskLevel, previous_level: RiskLevel | None) -> bool:
    if isinstance(rule, LevelAtLeastRule):
        return level >= rule.level
    return previous_level is not None and level > previous_level and level >= rule.min_level


def _should_resolve(rule: AlertRule, alert: Alert, level: RiskLevel) -> bool:
    if isinstance(rule, LevelAtLeastRule):
        return level < rule.level
    assert isinstance(rule, LevelRiseRule)
    baseline = RiskLevel(alert.evidence.get("baseline_level", RiskLevel.LOW.value))
    return level <= baseline


def evaluate_alerts(
    session: Session,
    config: Configuration,
    run: ScoreRun,
    scores: Sequence[CountryScore],
    previous_levels: Mapping[str, RiskLevel | None],
) -> EvaluationOutcome:
    """Open, escalate, de-escalate and resolve alerts for one scoring run; fill the outbox.

    ``previous_levels`` maps ISO3 to the level in the previous successful run.
    """
    open_alerts = repository.open_alerts_by_key(session)
    events: list[AlertEvent] = []
    messages = 0
    now = utc_now()
    for score in scores:
        if score.level is None:
            continue
        level = score.level
        previous = previous_levels.get(score.country_iso3)
        for rule in config.alerting.rules:
            key = dedup_key(rule.id, score.country_iso3)
            alert = open_alerts.get(key)
            change: tuple[Alert, AlertEvent] | None = None
            if alert is None:
                if _wants_open(rule, level, previous):
                    change = _open(session, config, rule, run, score, previous, now)
            elif _should_resolve(rule, alert, level):
                change = _transition(
                    session, config, rule, alert, AlertEventKind.RESOLVED, run, score, previous, now
                )
            elif level != alert.level:
                kind = (
                    AlertEventKind.ESCALATED if level > alert.level else AlertEventKind.DEESCALATED
                )
                change = _transition(session, config, rule, alert, kind, run, score, previous, now)
            else:
                alert.latest_score_id = score.id
            if change is not None:
                changed_alert, event = change
                events.append(event)
                messages += len(notify_service.enqueue_alert_event(session, changed_alert, event))
    return EvaluationOutcome(events=events, outbox_messages=messages)


@dataclass(frozen=True)
class _Content:
    """What an alert says at its current level: evidence, recommended actions, summary."""

    evidence: dict[str, Any]
    actions: dict[str, Any]
    summary: str


def _content(
    session: Session,
    config: Configuration,
    rule: AlertRule,
    run: ScoreRun,
    score: CountryScore,
    previous: RiskLevel | None,
    baseline: RiskLevel | None,
) -> _Content:
    assert score.level is not None
    evidence = _evidence(config, run, score, previous, rule, baseline)
    factors = evidence["triggering_factors"]
    country = session.get(Country, score.country_iso3)
    name = country.name if country else score.country_iso3
    return _Content(
        evidence=evidence,
        actions=recommend_actions(config, [f["number"] for f in factors], score.level),
        summary=_summary(name, score.level, score, factors),
    )


def _record(
    session: Session,
    alert: Alert,
    kind: AlertEventKind,
    from_level: RiskLevel | None,
    run: ScoreRun,
    score: CountryScore,
    now: datetime,
) -> AlertEvent:
    return repository.add_event(
        session,
        AlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=now,
            from_level=from_level,
            to_level=score.level,
            score_run_id=run.id,
            details={"composite": score.composite},
        ),
    )


def _open(
    session: Session,
    config: Configuration,
    rule: AlertRule,
    run: ScoreRun,
    score: CountryScore,
    previous: RiskLevel | None,
    now: datetime,
) -> tuple[Alert, AlertEvent]:
    assert score.level is not None
    baseline = previous if isinstance(rule, LevelRiseRule) else None
    content = _content(session, config, rule, run, score, previous, baseline)
    alert = repository.add_alert(
        session,
        Alert(
            rule_id=rule.id,
            country_iso3=score.country_iso3,
            dedup_key=dedup_key(rule.id, score.country_iso3),
            state=AlertState.FIRING,
            level=score.level,
            summary=content.summary,
            evidence=content.evidence,
            actions=content.actions,
            opened_at=now,
            updated_at=now,
            opened_score_run_id=run.id,
            latest_score_id=score.id,
        ),
    )
    return alert, _record(session, alert, AlertEventKind.OPENED, previous, run, score, now)


def _transition(
    session: Session,
    config: Configuration,
    rule: AlertRule,
    alert: Alert,
    kind: AlertEventKind,
    run: ScoreRun,
    score: CountryScore,
    previous: RiskLevel | None,
    now: datetime,
) -> tuple[Alert, AlertEvent]:
    assert score.level is not None
    from_level = alert.level
    alert.latest_score_id = score.id
    alert.updated_at = now
    if kind is AlertEventKind.RESOLVED:
        alert.state = AlertState.RESOLVED
        alert.resolved_at = now
    else:
        baseline_raw = alert.evidence.get("baseline_level")
        baseline = RiskLevel(baseline_raw) if baseline_raw else None
        content = _content(session, config, rule, run, score, previous, baseline)
        alert.level = score.level
        alert.evidence = content.evidence
        alert.actions = content.actions
        alert.summary = content.summary
        if kind is AlertEventKind.ESCALATED and alert.state is AlertState.ACKNOWLEDGED:
            # A higher level is new information: the acknowledgement covered the old one.
            alert.state = AlertState.FIRING
            alert.acknowledged_at = None
            alert.acknowledged_by = None
    return alert, _record(session, alert, kind, from_level, run, score, now)


def acknowledge(session: Session, alert_id: int, *, actor: str, note: str | None) -> Alert:
    alert = repository.get(session, alert_id, for_update=True)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    if alert.state is AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is resolved; there is nothing to acknowledge")
    if alert.state is AlertState.ACKNOWLEDGED:
        raise AlertStateError(
            f"alert {alert_id} was already acknowledged by {alert.acknowledged_by} "
            f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC"
        )
    now = utc_now()
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by = actor
    alert.updated_at = now
    repository.add_event(
        session,
        AlertEvent(
            alert_id=alert.id,
            kind=AlertEventKind.ACKNOWLEDGED,
            at=now,
            actor=actor,
            from_level=alert.level,
            to_level=alert.level,
            note=note,
        ),
    )
    return alert
