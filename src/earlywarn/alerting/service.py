"""Alert evaluation after a scoring run, the alert lifecycle, and escalation.

Semantics (README "Alerts"):

* one open alert per rule and subject (dedup key ``rule:ISO3`` or ``rule:source``), enforced
  by a partial unique index;
* a rule reads each subject (``alerting.rules``); the enter condition must hold ``for_runs``
  consecutive runs before an alert opens, the exit condition ``exit_for_runs`` runs before it
  resolves, and the two thresholds differ (hysteresis), so a country hovering at a boundary
  keeps one alert; a re-entry within ``cooldown_days`` of resolving reopens the same alert;
* while open, a country alert escalates or de-escalates with the level;
* a subject the run says nothing about (no rating, no forecast) keeps its alerts as they are;
* every change is an ``AlertEvent`` with its actor, handed to ``notify``, which writes the
  outbox in the same transaction;
* the escalation chain (tiers and their focal points) is frozen onto the alert when it opens;
  unacknowledged alerts climb it (``escalate_due``), then get reminders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository
from earlywarn.alerting.models import (
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertRuleState,
    AlertState,
)
from earlywarn.alerting.rules import (
    CountryInput,
    Reading,
    SourceHealth,
    read_country,
    read_source,
)
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import (
    AlertRule,
    LevelRiseRule,
    RiskFactorRule,
    SourceHealthRule,
)
from earlywarn.framework.service import recommend_actions
from earlywarn.notify import service as notify_service
from earlywarn.notify.models import Purpose
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.scoring.summary import factor_summary
from earlywarn.types import RiskLevel

SYSTEM = "system"


class AlertNotFoundError(LookupError):
    pass


class AlertStateError(ValueError):
    pass


class AlertAccessError(PermissionError):
    """The caller may not act on this alert; the message says why."""


@dataclass(frozen=True)
class RunRef:
    """The run being evaluated: its score run (None for runs without one) and as-of date."""

    score_run_id: int | None
    as_of: date


@dataclass(frozen=True)
class EvaluationOutcome:
    events: list[AlertEvent]
    outbox_messages: int

    def count(self, kind: AlertEventKind) -> int:
        return sum(1 for e in self.events if e.kind == kind)


def dedup_key(rule_id: str, subject: str) -> str:
    return f"{rule_id}:{subject}"


def triggering_factors(config: Configuration, score: CountryScore) -> list[dict[str, Any]]:
    """The factors that drive the score, highest first, each with the values behind it.

    Factors at or above ``triggering_factor_min_score``; when none reaches it, the three
    highest, so that an alert always says what moved it.
    """
    rated = [f for f in score.factors.get("factors", []) if f["score"] is not None]
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


def _input_factors(config: Configuration, data: CountryInput) -> list[dict[str, Any]]:
    if data.score is not None and data.score.factors:
        return triggering_factors(config, data.score)
    minimum = config.alerting.triggering_factor_min_score
    rated = sorted(data.factor_scores.items(), key=lambda item: (-item[1], item[0]))
    chosen = [(n, s) for n, s in rated if s >= minimum] or rated[:3]
    return [
        {"number": n, "name": config.risk_factor(n).name, "score": s, "indicators": []}
        for n, s in chosen[: config.alerting.max_triggering_factors]
    ]


# --- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Content:
    """What an alert says now: evidence, recommended actions, summary."""

    evidence: dict[str, Any]
    actions: dict[str, Any]
    summary: str


def _country_content(
    config: Configuration,
    rule: AlertRule,
    run: RunRef,
    data: CountryInput,
    reading: Reading,
    country_name: str,
    baseline: Mapping[str, Any] | None,
) -> _Content:
    factors = _input_factors(config, data)
    evidence: dict[str, Any] = {
        "rule": rule.model_dump(mode="json"),
        "score_run_id": run.score_run_id,
        "as_of": run.as_of.isoformat(),
        "composite": data.composite,
        "level": data.level.value if data.level else None,
        "previous_level": data.history[-1][1].value if data.history else None,
        "reading": reading.details,
        "onset_probability_1y": data.onset_probability_1y,
        "onset_probability_2y": data.onset_probability_2y,
        "triggering_factors": factors,
    }
    if data.score is not None:
        evidence.update(
            coverage=data.score.coverage,
            methodology_version=data.score.methodology_version,
            weight_set_id=data.score.weight_set_id,
        )
    if baseline is not None:
        evidence["baseline"] = dict(baseline)
    factor_numbers = [f["number"] for f in factors]
    imminent_reason: str | None = None
    if isinstance(rule, RiskFactorRule):
        if rule.factor not in factor_numbers:
            factor_numbers.append(rule.factor)
        if rule.imminent_actions:
            imminent_reason = (
                f"rule {rule.id}: risk factor {rule.factor} at {reading.value:.2f} "
                f"(threshold {rule.enter:.2f})"
            )
    actions = recommend_actions(
        config, factor_numbers, reading.level, imminent_reason=imminent_reason
    )
    names = ", ".join(f"{f['name']} ({f['score']:.2f})" for f in factors[:3]) or "none rated"
    composite = f"composite {data.composite:.2f}" if data.composite is not None else "unscored"
    what = rule.description or _describe(rule, reading)
    summary = (
        f"{country_name}: {what}. Level '{reading.level.value}' ({composite}). "
        f"Main risk factors: {names}."
    )
    return _Content(evidence=evidence, actions=actions, summary=summary)


def _describe(rule: AlertRule, reading: Reading) -> str:
    details = reading.details
    if rule.kind == "level_at_least":
        return f"atrocity risk at or above '{rule.enter_level.value}'"
    if rule.kind == "level_rise":
        return (
            f"risk rose by {details['rise_levels']} level(s), "
            f"{details['rise_points']:+.2f} composite points"
        )
    if rule.kind == "onset_probability":
        return f"forecast onset probability {reading.value:.0%} (rule {rule.id})"
    if rule.kind == "risk_factor":
        return f"risk factor {details['factor']} at {reading.value:.2f} (rule {rule.id})"
    return f"rule {rule.id}"


def _source_content(rule: SourceHealthRule, run: RunRef, reading: Reading) -> _Content:
    details = reading.details
    return _Content(
        evidence={
            "rule": rule.model_dump(mode="json"),
            "as_of": run.as_of.isoformat(),
            "reading": details,
        },
        actions={},
        summary=(
            f"Data source '{details['source_id']}' is {details['state']}: {details['reason']}"
        ),
    )


def evaluate_alerts(
    session: Session,
    config: Configuration,
    run: RunRef,
    countries: Sequence[CountryInput],
    sources: Sequence[SourceHealth] = (),
    *,
    now: datetime | None = None,
) -> EvaluationOutcome:
    """Open, escalate, de-escalate, resolve and reopen alerts for one run; fill the outbox.

    ``countries``: one input per country rated (or forecast) in the run. ``sources``: the
    health of every data source, for ``source_health`` rules.
    """
    now = now or utc_now()
    open_alerts = repository.open_alerts_by_key(session)
    states = repository.rule_states(session)
    names = repository.country_names(session)
    evaluation = _Evaluation(session, config, run, now, open_alerts, states)
    for rule in config.alerting.rules:
        if isinstance(rule, SourceHealthRule):
            for health in sources:
                source_reading = read_source(rule, health)
                evaluation.apply(
                    rule,
                    health.source_id,
                    source_reading,
                    lambda r=rule, rd=source_reading: _source_content(r, run, rd),
                    country=None,
                    score_id=None,
                )
            continue
        for data in countries:
            key = dedup_key(rule.id, data.iso3)
            alert = open_alerts.get(key)
            baseline = alert.evidence.get("baseline") if alert is not None else None
            reading = read_country(rule, data, baseline)
            if reading is None:
                continue
            frozen = baseline
            if frozen is None and isinstance(rule, LevelRiseRule):
                frozen = reading.details["baseline"]

            def content(
                rule: AlertRule = rule,
                data: CountryInput = data,
                reading: Reading = reading,
                frozen: Mapping[str, Any] | None = frozen,
            ) -> _Content:
                name = names.get(data.iso3, data.iso3)
                return _country_content(config, rule, run, data, reading, name, frozen)

            evaluation.apply(
                rule,
                data.iso3,
                reading,
                content,
                country=data.iso3,
                score_id=data.score.id if data.score is not None else None,
            )
    return EvaluationOutcome(events=evaluation.events, outbox_messages=evaluation.messages)


class _Evaluation:
    """The state machine of one run: streaks, cooldown, and the transitions they cause."""

    def __init__(
        self,
        session: Session,
        config: Configuration,
        run: RunRef,
        now: datetime,
        open_alerts: dict[str, Alert],
        states: dict[str, AlertRuleState],
    ) -> None:
        self.session = session
        self.config = config
        self.run = run
        self.now = now
        self.open_alerts = open_alerts
        self.states = states
        self.events: list[AlertEvent] = []
        self.messages = 0

    def _state(self, rule: AlertRule, key: str) -> AlertRuleState:
        state = self.states.get(key)
        if state is None:
            state = AlertRuleState(
                dedup_key=key, rule_id=rule.id, enter_streak=0, exit_streak=0, updated_at=self.now
            )
            self.session.add(state)
            self.states[key] = state
        return state

    def apply(
        self,
        rule: AlertRule,
        subject: str,
        reading: Reading,
        content: Any,
        *,
        country: str | None,
        score_id: int | None,
    ) -> None:
        key = dedup_key(rule.id, subject)
        state = self._state(rule, key)
        state.enter_streak = state.enter_streak + 1 if reading.enter else 0
        state.exit_streak = state.exit_streak + 1 if reading.exit else 0
        state.last_value = reading.value
        state.updated_at = self.now
        alert = self.open_alerts.get(key)
        if alert is not None:
            if score_id is not None:
                alert.latest_score_id = score_id
            if state.exit_streak >= rule.exit_for_runs:
                self._resolve_automatically(alert, state, reading)
            elif country is not None and reading.level != alert.level:
                self._relevel(alert, reading, content())
            return
        if state.enter_streak < rule.for_runs:
            return
        last_alert = (
            repository.get(self.session, state.last_alert_id)
            if state.last_alert_id is not None and state.last_resolved_on is not None
            else None
        )
        if (
            last_alert is not None
            and last_alert.state is AlertState.RESOLVED
            and rule.cooldown_days > 0
            and (self.run.as_of - state.last_resolved_on).days < rule.cooldown_days  # type: ignore[operator]
        ):
            self._reopen(last_alert, reading, content(), score_id)
            return
        self._open(rule, subject, reading, content(), country=country, score_id=score_id)

    def _emit(self, alert: Alert, event: AlertEvent) -> None:
        self.events.append(event)
        self.messages += len(notify_service.enqueue_alert_event(self.session, alert, event))

    def _open(
        self,
        rule: AlertRule,
        subject: str,
        reading: Reading,
        content: _Content,
        *,
        country: str | None,
        score_id: int | None,
    ) -> None:
        alert = repository.add_alert(
            self.session,
            Alert(
                rule_id=rule.id,
                rule_kind=rule.kind,
                subject=subject,
                operational=isinstance(rule, SourceHealthRule),
                country_iso3=country,
                dedup_key=dedup_key(rule.id, subject),
                state=AlertState.FIRING,
                level=reading.level,
                summary=content.summary,
                evidence=content.evidence,
                actions=content.actions,
                opened_at=self.now,
                updated_at=self.now,
                opened_score_run_id=self.run.score_run_id,
                latest_score_id=score_id,
                escalation={},
                escalation_step=0,
                reminders_sent=0,
            ),
        )
        self.open_alerts[alert.dedup_key] = alert
        self._state(rule, alert.dedup_key).last_alert_id = alert.id
        event = _record(
            self.session, alert, AlertEventKind.OPENED, None, reading.level, self.run, self.now
        )
        self._emit(alert, event)
        _freeze_escalation(self.session, self.config, alert, event, self.now)

    def _relevel(self, alert: Alert, reading: Reading, content: _Content) -> None:
        from_level = alert.level
        rose = reading.level > from_level
        kind = AlertEventKind.ESCALATED if rose else AlertEventKind.DEESCALATED
        alert.level = reading.level
        alert.evidence = content.evidence
        alert.actions = content.actions
        alert.summary = content.summary
        alert.updated_at = self.now
        if kind is AlertEventKind.ESCALATED and alert.state is AlertState.ACKNOWLEDGED:
            # A higher level is new information: the acknowledgement covered the old one.
            alert.state = AlertState.FIRING
            alert.acknowledged_at = None
            alert.acknowledged_by = None
            _restart_escalation(alert=alert, now=self.now)
        event = _record(self.session, alert, kind, from_level, reading.level, self.run, self.now)
        self._emit(alert, event)

    def _resolve_automatically(self, alert: Alert, state: AlertRuleState, reading: Reading) -> None:
        alert.state = AlertState.RESOLVED
        alert.resolved_at = self.now
        alert.resolved_by = SYSTEM
        alert.resolution_note = "exit condition met"
        alert.updated_at = self.now
        alert.next_escalation_at = None
        state.last_resolved_on = self.run.as_of
        state.last_alert_id = alert.id
        del self.open_alerts[alert.dedup_key]
        event = _record(
            self.session,
            alert,
            AlertEventKind.RESOLVED,
            alert.level,
            alert.level,
            self.run,
            self.now,
            details={"reading": reading.details},
        )
        self._emit(alert, event)

    def _reopen(
        self, alert: Alert, reading: Reading, content: _Content, score_id: int | None
    ) -> None:
        from_level = alert.level
        alert.state = AlertState.FIRING
        alert.level = reading.level
        alert.evidence = content.evidence
        alert.actions = content.actions
        alert.summary = content.summary
        alert.resolved_at = None
        alert.resolved_by = None
        alert.resolution_note = None
        alert.acknowledged_at = None
        alert.acknowledged_by = None
        alert.updated_at = self.now
        if score_id is not None:
            alert.latest_score_id = score_id
        self.session.flush()  # the partial unique index sees the alert open again here
        self.open_alerts[alert.dedup_key] = alert
        _restart_escalation(alert=alert, now=self.now)
        event = _record(
            self.session,
            alert,
            AlertEventKind.REOPENED,
            from_level,
            reading.level,
            self.run,
            self.now,
            note="condition returned within the rule's cooldown",
        )
        self._emit(alert, event)


def _record(
    session: Session,
    alert: Alert,
    kind: AlertEventKind,
    from_level: RiskLevel | None,
    to_level: RiskLevel | None,
    run: RunRef | None,
    now: datetime,
    *,
    actor: str = SYSTEM,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> AlertEvent:
    return repository.add_event(
        session,
        AlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=now,
            actor=actor,
            from_level=from_level,
            to_level=to_level,
            score_run_id=run.score_run_id if run is not None else None,
            note=note,
            details=details or {},
        ),
    )


# --- escalation -----------------------------------------------------------------------------


def _freeze_escalation(
    session: Session, config: Configuration, alert: Alert, opened: AlertEvent, now: datetime
) -> None:
    """Copy the chain (tiers, their focal points, reminder policy) onto the alert."""
    policy = config.alerting.escalation
    region = repository.country_region(session, alert.country_iso3) if alert.country_iso3 else None
    tiers = (
        []
        if alert.operational
        else [
            {
                "name": tier.name,
                "after_minutes": tier.after_minutes,
                "focal_point_ids": notify_service.escalation_recipients(session, tier.name, region),
            }
            for tier in policy.tiers
        ]
    )
    alert.escalation = {
        # Tier delays count from here; a re-fire (reopen, escalated level) restarts the clock.
        "clock_started_at": now.isoformat(),
        "tiers": tiers,
        "reminder_interval_minutes": policy.reminder_interval_minutes,
        "max_reminders": policy.max_reminders,
        "notified_focal_point_ids": notify_service.focal_points_notified(session, opened.id),
    }
    alert.escalation_step = 0
    alert.reminders_sent = 0
    alert.next_escalation_at = _next_escalation(alert, now)


def _next_escalation(alert: Alert, now: datetime) -> datetime | None:
    chain = alert.escalation
    tiers = chain.get("tiers", [])
    if alert.escalation_step < len(tiers):
        started = chain.get("clock_started_at")
        clock = datetime.fromisoformat(started) if started else alert.opened_at
        due = clock + timedelta(minutes=tiers[alert.escalation_step]["after_minutes"])
        return max(due, now)
    if alert.reminders_sent < chain.get("max_reminders", 0):
        return now + timedelta(minutes=chain["reminder_interval_minutes"])
    return None


def _restart_escalation(*, alert: Alert, now: datetime) -> None:
    """After a re-fire (escalated level, reopened) the unacknowledged clock starts again."""
    if not alert.escalation:
        return
    alert.escalation = {**alert.escalation, "clock_started_at": now.isoformat()}
    alert.reminders_sent = 0
    tiers = alert.escalation.get("tiers", [])
    if alert.escalation_step < len(tiers):
        alert.next_escalation_at = _next_escalation(alert, now)
    else:
        alert.next_escalation_at = now + timedelta(
            minutes=alert.escalation.get("reminder_interval_minutes", 1440)
        )


def escalate_due(session: Session, now: datetime | None = None) -> list[AlertEvent]:
    """Run every due escalation step: notify the next tier, or remind everyone notified.

    Rows are locked (SKIP LOCKED on PostgreSQL), so two workers never run the same step.
    """
    now = now or utc_now()
    events: list[AlertEvent] = []
    for alert in repository.due_escalations(session, now):
        chain = dict(alert.escalation)
        tiers = chain.get("tiers", [])
        notified: list[int] = list(chain.get("notified_focal_point_ids", []))
        if alert.escalation_step < len(tiers):
            tier = tiers[alert.escalation_step]
            recipients = [fp for fp in tier["focal_point_ids"] if fp not in notified]
            event = _record(
                session,
                alert,
                AlertEventKind.TIER_ESCALATED,
                alert.level,
                alert.level,
                None,
                now,
                note=f"unacknowledged after {tier['after_minutes']} min: tier '{tier['name']}'",
                details={"tier": tier["name"], "focal_point_ids": recipients},
            )
            notify_service.enqueue_to_focal_points(
                session, alert, event, recipients, Purpose.ESCALATION
            )
            chain["notified_focal_point_ids"] = notified + recipients
            alert.escalation_step += 1
        else:
            event = _record(
                session,
                alert,
                AlertEventKind.REMINDED,
                alert.level,
                alert.level,
                None,
                now,
                note=f"still unacknowledged: reminder {alert.reminders_sent + 1}",
                details={"focal_point_ids": notified},
            )
            notify_service.enqueue_to_focal_points(
                session, alert, event, notified, Purpose.REMINDER
            )
            alert.reminders_sent += 1
        alert.escalation = chain
        alert.next_escalation_at = _next_escalation(alert, now)
        events.append(event)
    return events


# --- actions by people ----------------------------------------------------------------------


def _get_for_update(session: Session, alert_id: int) -> Alert:
    alert = repository.get(session, alert_id, for_update=True)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return alert


def acknowledge(
    session: Session,
    alert_id: int,
    *,
    actor: str,
    note: str | None,
    administrator: bool = True,
    focal_point_id: int | None = None,
) -> Alert:
    """Administrators may acknowledge any alert; anyone else acts for ``focal_point_id``,
    which must be concerned by the alert (``notify.service.refusal_to_act``)."""
    alert = _get_for_update(session, alert_id)
    if not administrator:
        if focal_point_id is None:
            raise AlertAccessError(
                "this key is not linked to a focal point, so it cannot acknowledge alerts"
            )
        refusal = notify_service.refusal_to_act(session, alert, focal_point_id)
        if refusal is not None:
            raise AlertAccessError(refusal)
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
    alert.next_escalation_at = None  # acknowledged: the escalation chain stops here
    event = _record(
        session, alert, AlertEventKind.ACKNOWLEDGED, alert.level, alert.level, None, now,
        actor=actor, note=note,
    )  # fmt: skip
    notify_service.enqueue_alert_event(session, alert, event)
    # The regional focal point or headquarters that was paged must learn that someone acted.
    notify_service.announce_acknowledgement(session, alert, event)
    return alert


def resolve(session: Session, alert_id: int, *, actor: str, reason: str) -> Alert:
    """An administrator closes an alert by hand; the reason is kept in the audit trail."""
    alert = _get_for_update(session, alert_id)
    if alert.state is AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is already resolved")
    now = utc_now()
    alert.state = AlertState.RESOLVED
    alert.resolved_at = now
    alert.resolved_by = actor
    alert.resolution_note = reason
    alert.updated_at = now
    alert.next_escalation_at = None
    state = repository.rule_state(session, alert.dedup_key)
    if state is not None:
        # A manual resolution restarts the streak: the rule must hold for_runs again.
        state.enter_streak = 0
        state.last_alert_id = alert.id
        state.last_resolved_on = now.date()
    event = _record(
        session, alert, AlertEventKind.RESOLVED, alert.level, alert.level, None, now,
        actor=actor, note=reason,
    )  # fmt: skip
    notify_service.enqueue_alert_event(session, alert, event)
    return alert


def reopen(session: Session, alert_id: int, *, actor: str, reason: str) -> Alert:
    """An administrator reopens a resolved alert (refused while another is open for its key)."""
    alert = _get_for_update(session, alert_id)
    if alert.state is not AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is {alert.state.value}, not resolved")
    other = repository.open_alert_for_key(session, alert.dedup_key)
    if other is not None:
        raise AlertStateError(
            f"alert {other.id} is already open for {alert.dedup_key}; acknowledge that one"
        )
    now = utc_now()
    alert.state = AlertState.FIRING
    alert.resolved_at = None
    alert.resolved_by = None
    alert.resolution_note = None
    alert.acknowledged_at = None
    alert.acknowledged_by = None
    alert.updated_at = now
    session.flush()
    _restart_escalation(alert=alert, now=now)
    event = _record(
        session, alert, AlertEventKind.REOPENED, alert.level, alert.level, None, now,
        actor=actor, note=reason,
    )  # fmt: skip
    notify_service.enqueue_alert_event(session, alert, event)
    return alert


# --- inputs from the database ---------------------------------------------------------------


def country_inputs(
    session: Session,
    run: ScoreRun,
    scores: Sequence[CountryScore],
    *,
    history_runs: int,
    onset_probabilities: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> list[CountryInput]:
    """One input per rated country of ``run``: its level, composite, factor scores, and its
    (composite, level) in up to ``history_runs`` earlier successful runs
    (``alerting.rules.history_runs_needed``).

    ``onset_probabilities`` maps ISO3 to (1-year, 2-year) forecast probabilities; forecasting
    fills it once wired (``earlywarn.forecasting.repository.forecasts_for_run``).
    """
    history = repository.score_history(session, before_run_id=run.id, runs=history_runs)
    regions = repository.country_regions(session)
    probabilities = onset_probabilities or {}
    inputs: list[CountryInput] = []
    for score in scores:
        if score.level is None:
            continue
        p1, p2 = probabilities.get(score.country_iso3, (None, None))
        inputs.append(
            CountryInput(
                iso3=score.country_iso3,
                level=score.level,
                composite=score.composite,
                factor_scores={
                    int(f["number"]): float(f["score"])
                    for f in factor_summary(score, run).get("factors", [])
                    if f.get("score") is not None
                },
                history=history.get(score.country_iso3, []),
                onset_probability_1y=p1,
                onset_probability_2y=p2,
                region=regions.get(score.country_iso3),
                score=score,
            )
        )
    return inputs
