"""Alert evaluation after a scoring run: open, escalate, de-escalate, resolve and reopen.

Semantics (docs: "Alerts"):

* one open alert per rule and subject (dedup key ``rule:ISO3`` or ``rule:source``), enforced
  by a partial unique index;
* a rule reads each subject (``alerting.rules``), and ``alerting.transitions.decide`` turns the
  reading and the stored streaks into a transition (``for_runs``, hysteresis, cooldown);
* while open, a country alert escalates or de-escalates with the level;
* a subject the run says nothing about (no rating, no forecast) keeps its alerts as they are;
* every change is an ``AlertEvent`` with its actor, returned as an ``AlertUpdate`` for the
  caller to hand to notify in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository
from earlywarn.alerting.content import Content, country_content, source_content
from earlywarn.alerting.events import SYSTEM, AlertUpdate, record_event
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
    RunRef,
    SourceHealth,
    read_country,
    read_source,
)
from earlywarn.alerting.transitions import Streaks, Transition, decide
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, LevelRiseRule, SourceHealthRule
from earlywarn.scoring.models import CountryScore, ScoreRun
from earlywarn.scoring.summary import factor_summary
from earlywarn.types import RiskLevel


@dataclass(frozen=True)
class EvaluationOutcome:
    updates: list[AlertUpdate]

    @property
    def events(self) -> list[AlertEvent]:
        return [update.event for update in self.updates]

    def count(self, kind: AlertEventKind) -> int:
        return sum(1 for e in self.events if e.kind == kind)


def dedup_key(rule_id: str, subject: str) -> str:
    return f"{rule_id}:{subject}"


def evaluate_alerts(
    session: Session,
    config: Configuration,
    run: RunRef,
    countries: Sequence[CountryInput],
    sources: Sequence[SourceHealth] = (),
    *,
    now: datetime | None = None,
) -> EvaluationOutcome:
    """Open, escalate, de-escalate, resolve and reopen alerts for one run.

    ``countries``: one input per country rated (or forecast) in the run. ``sources``: the
    health of every data source, for ``source_health`` rules. The outcome's updates go to
    notify in the caller's transaction.
    """
    evaluation = _Evaluation(
        session,
        run,
        now or utc_now(),
        repository.open_alerts_by_key(session),
        repository.rule_states(session),
    )
    names = repository.country_names(session)
    for rule in config.alerting.rules:
        if isinstance(rule, SourceHealthRule):
            for health in sources:
                reading = read_source(rule, health)
                content = partial(source_content, rule, run, reading)
                evaluation.apply(rule, health.source_id, reading, content, country=None)
        else:
            for data in countries:
                _evaluate_country(evaluation, config, rule, data, names)
    return EvaluationOutcome(updates=evaluation.updates)


def _evaluate_country(
    evaluation: _Evaluation,
    config: Configuration,
    rule: AlertRule,
    data: CountryInput,
    names: Mapping[str, str],
) -> None:
    alert = evaluation.open_alerts.get(dedup_key(rule.id, data.iso3))
    baseline = alert.evidence.get("baseline") if alert is not None else None
    reading = read_country(rule, data, baseline)
    if reading is None:
        return
    # A rise keeps measuring against the baseline it was raised from, frozen at opening.
    frozen = baseline
    if frozen is None and isinstance(rule, LevelRiseRule):
        frozen = reading.details["baseline"]
    name = names.get(data.iso3, data.iso3)
    content = partial(country_content, config, rule, evaluation.run, data, reading, name, frozen)
    score_id = data.score.id if data.score is not None else None
    evaluation.apply(rule, data.iso3, reading, content, country=data.iso3, score_id=score_id)


class _Evaluation:
    """One run: the stored streaks and open alerts, and the transitions ``decide`` picks."""

    def __init__(
        self,
        session: Session,
        run: RunRef,
        now: datetime,
        open_alerts: dict[str, Alert],
        states: dict[str, AlertRuleState],
    ) -> None:
        self.session = session
        self.run = run
        self.now = now
        self.open_alerts = open_alerts
        self.states = states
        self.updates: list[AlertUpdate] = []

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
        content: Callable[[], Content],
        *,
        country: str | None,
        score_id: int | None = None,
    ) -> None:
        key = dedup_key(rule.id, subject)
        state = self._state(rule, key)
        alert = self.open_alerts.get(key)
        decision = decide(
            rule,
            reading,
            Streaks(state.enter_streak, state.exit_streak),
            open_level=alert.level if alert is not None else None,
            follows_level=country is not None,
            as_of=self.run.as_of,
            resolved_on=state.last_resolved_on if state.last_alert_id is not None else None,
        )
        state.enter_streak = decision.streaks.enter
        state.exit_streak = decision.streaks.exit
        state.last_value = reading.value
        state.updated_at = self.now
        if alert is not None and score_id is not None:
            alert.latest_score_id = score_id
        transition = decision.transition
        if alert is not None and transition is Transition.RESOLVE:
            self._resolve_automatically(alert, state, reading)
        elif alert is not None and transition is Transition.RELEVEL:
            self._relevel(alert, reading, content())
        elif transition is Transition.REOPEN:
            last = repository.get(self.session, state.last_alert_id)  # type: ignore[arg-type]
            if last is not None and last.state is AlertState.RESOLVED:
                self._reopen(last, reading, content(), score_id)
            else:
                # The alert the state remembers is gone or was reopened by hand: a new one.
                self._open(rule, subject, reading, content(), country=country, score_id=score_id)
        elif transition is Transition.OPEN:
            self._open(rule, subject, reading, content(), country=country, score_id=score_id)

    def _record(
        self,
        alert: Alert,
        kind: AlertEventKind,
        from_level: RiskLevel | None,
        to_level: RiskLevel,
        *,
        note: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AlertEvent:
        return record_event(
            self.session, alert, kind, from_level, to_level, self.run.score_run_id, self.now,
            note=note, details=details,
        )  # fmt: skip

    def _open(
        self,
        rule: AlertRule,
        subject: str,
        reading: Reading,
        content: Content,
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
        event = self._record(alert, AlertEventKind.OPENED, None, reading.level)
        self.updates.append(AlertUpdate(alert, event))

    def _relevel(self, alert: Alert, reading: Reading, content: Content) -> None:
        from_level = alert.level
        rose = reading.level > from_level
        kind = AlertEventKind.ESCALATED if rose else AlertEventKind.DEESCALATED
        alert.level = reading.level
        alert.evidence = content.evidence
        alert.actions = content.actions
        alert.summary = content.summary
        alert.updated_at = self.now
        refired = kind is AlertEventKind.ESCALATED and alert.state is AlertState.ACKNOWLEDGED
        if refired:
            # A higher level is new information: the acknowledgement covered the old one.
            alert.state = AlertState.FIRING
            alert.acknowledged_at = None
            alert.acknowledged_by = None
        event = self._record(alert, kind, from_level, reading.level)
        self.updates.append(AlertUpdate(alert, event, refired=refired))

    def _resolve_automatically(self, alert: Alert, state: AlertRuleState, reading: Reading) -> None:
        alert.state = AlertState.RESOLVED
        alert.resolved_at = self.now
        alert.resolved_by = SYSTEM
        alert.resolution_note = "exit condition met"
        alert.updated_at = self.now
        state.last_resolved_on = self.run.as_of
        state.last_alert_id = alert.id
        del self.open_alerts[alert.dedup_key]
        event = self._record(
            alert,
            AlertEventKind.RESOLVED,
            alert.level,
            alert.level,
            details={"reading": reading.details},
        )
        self.updates.append(AlertUpdate(alert, event))

    def _reopen(
        self, alert: Alert, reading: Reading, content: Content, score_id: int | None
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
        event = self._record(
            alert,
            AlertEventKind.REOPENED,
            from_level,
            reading.level,
            note="condition returned within the rule's cooldown",
        )
        self.updates.append(AlertUpdate(alert, event, refired=True))


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

    ``onset_probabilities`` maps ISO3 to (1-year, 2-year) forecast probabilities: the pipeline
    passes the forecasts stored for the run (``earlywarn.forecasting.repository``).
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
