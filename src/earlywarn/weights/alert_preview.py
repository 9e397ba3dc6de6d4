"""The weight preview's alert simulation: the next run's evaluation under a weight set,
decided by the live evaluation's transition function (``alerting.transitions.decide``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting.rules import CountryInput, history_runs_needed, read_country
from earlywarn.alerting.transitions import Streaks, Transition, decide
from earlywarn.db import utc_now
from earlywarn.forecasting import repository as forecasting_repository
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, SourceHealthRule
from earlywarn.scoring.engine import FACTOR_NUMBERS
from earlywarn.scoring.evidence import insufficient_data_reason
from earlywarn.scoring.explain import Rescored
from earlywarn.scoring.models import ScoreRun
from earlywarn.types import RiskLevel
from earlywarn.weights.schemas import AlertChange


@dataclass(frozen=True)
class OpenAlert:
    """An alert open now, as the next run's evaluation starts from it."""

    level: RiskLevel
    baseline: Mapping[str, Any] | None = None


AlertKey = tuple[str, str]  # (rule id, ISO3)


@dataclass(frozen=True)
class NextRun:
    """The alerts open after one more run, with their level; ``reopened``: those among them
    that reopen an alert resolved within its rule's cooldown."""

    held: dict[AlertKey, RiskLevel]
    reopened: set[AlertKey]


def simulate_next_run(
    rules: Sequence[AlertRule],
    inputs: Sequence[CountryInput],
    open_alerts: Mapping[AlertKey, OpenAlert],
    streaks: Mapping[AlertKey, tuple[int, int]],
    *,
    as_of: date | None = None,
    resolved_on: Mapping[AlertKey, date] | None = None,
) -> NextRun:
    """One more run on ``inputs``, decided as the live evaluation decides it.

    The same readers (``alerting.rules.read_country``: hysteresis, factor scores, rises against
    a frozen baseline, probabilities) and the same transitions (``alerting.transitions.decide``:
    ``for_runs``, ``exit_for_runs``, cooldown); ``streaks`` holds the stored (enter, exit)
    streaks and ``resolved_on`` the date each closed alert resolved, for a run dated
    ``as_of``. A country the run does not rate keeps its alerts: missing data is not evidence
    that risk fell. Operational rules do not depend on scores and are left out.
    """
    held = {key: alert.level for key, alert in open_alerts.items()}
    reopened: set[AlertKey] = set()
    resolved = resolved_on or {}
    for rule in rules:
        if isinstance(rule, SourceHealthRule):
            continue
        for data in inputs:
            key = (rule.id, data.iso3)
            alert = open_alerts.get(key)
            reading = read_country(rule, data, None if alert is None else alert.baseline)
            if reading is None:
                continue
            transition = decide(
                rule,
                reading,
                Streaks(*streaks.get(key, (0, 0))),
                open_level=None if alert is None else alert.level,
                follows_level=True,
                as_of=as_of,
                resolved_on=resolved.get(key),
            ).transition
            if transition is Transition.RESOLVE:
                held.pop(key, None)
            elif transition is not Transition.NONE:
                held[key] = reading.level
            if transition is Transition.REOPEN:
                reopened.add(key)
    return NextRun(held, reopened)


def next_run_alerts(
    rules: Sequence[AlertRule],
    inputs: Sequence[CountryInput],
    open_alerts: Mapping[AlertKey, OpenAlert],
    streaks: Mapping[AlertKey, tuple[int, int]],
) -> dict[AlertKey, RiskLevel]:
    """The (rule id, country) alerts open after one more run on ``inputs``, with their level
    (``simulate_next_run`` without cooldown dates)."""
    return simulate_next_run(rules, inputs, open_alerts, streaks).held


@dataclass(frozen=True)
class AlertsNow:
    """What the next run's evaluation starts from: the country alerts open now, the stored
    streaks, and when each subject's last alert resolved (for the cooldown)."""

    open_alerts: dict[AlertKey, OpenAlert]
    streaks: dict[AlertKey, tuple[int, int]]
    resolved_on: dict[AlertKey, date]


def alerts_now(session: Session) -> AlertsNow:
    open_alerts: dict[AlertKey, OpenAlert] = {}
    for alert in alerting_repository.open_alerts_by_key(session).values():
        if alert.country_iso3 is not None and not alert.operational:
            baseline = alert.evidence.get("baseline") if alert.evidence else None
            open_alerts[(alert.rule_id, alert.country_iso3)] = OpenAlert(alert.level, baseline)
    streaks: dict[AlertKey, tuple[int, int]] = {}
    resolved_on: dict[AlertKey, date] = {}
    for state in alerting_repository.rule_states(session).values():
        key = (state.rule_id, state.dedup_key.removeprefix(f"{state.rule_id}:"))
        streaks[key] = (state.enter_streak, state.exit_streak)
        if (
            key not in open_alerts
            and state.last_alert_id is not None
            and state.last_resolved_on is not None
        ):
            resolved_on[key] = state.last_resolved_on
    return AlertsNow(open_alerts, streaks, resolved_on)


def preview_inputs(
    config: Configuration,
    rescored: Rescored,
    history: Mapping[str, Sequence[tuple[float, RiskLevel]]],
    probabilities: Mapping[str, tuple[float | None, float | None]],
) -> list[CountryInput]:
    """What the next run's rules would read, with ``rescored``'s levels and factor scores,
    and its thin-evidence flag decided as a scoring run decides it (``insufficient_data_reason``
    with ``scoring.min_coverage_for_level``): ``read_country`` then opens nothing on thin
    evidence, risk_factor rules included, as the live evaluation does."""
    inputs = []
    for u, iso3 in enumerate(rescored.units):
        level, composite = rescored.level(u), rescored.composite(u)
        if level is None or composite is None:
            continue
        p1, p2 = probabilities.get(iso3, (None, None))
        factor_scores = {
            number: float(rescored.agg.factor_score[0, u, f])
            for f, number in enumerate(FACTOR_NUMBERS)
            if not math.isnan(rescored.agg.factor_score[0, u, f])
        }
        inputs.append(
            CountryInput(
                iso3=iso3,
                level=level,
                composite=composite,
                factor_scores=factor_scores,
                history=history.get(iso3, []),
                onset_probability_1y=p1,
                onset_probability_2y=p2,
                insufficient_data=insufficient_data_reason(
                    composite,
                    float(rescored.agg.coverage[0, u]),
                    config.scoring.min_coverage_for_level,
                    config.scoring.levels,
                ),
            )
        )
    return inputs


def alert_changes(
    held: NextRun, other: NextRun, now: AlertsNow, *, reopening: bool | None = None
) -> list[AlertChange]:
    """The alerts ``held`` keeps open and ``other`` does not; ``reopening`` keeps only those
    that reopen (True) or only those that do not (False) under ``held``."""
    return [
        AlertChange(rule_id=rule, iso3=iso3, level=level, open_now=(rule, iso3) in now.open_alerts)
        for (rule, iso3), level in sorted(held.held.items())
        if (rule, iso3) not in other.held
        and (reopening is None or ((rule, iso3) in held.reopened) is reopening)
    ]


@dataclass(frozen=True)
class AlertPreview:
    opening: list[AlertChange]
    reopening: list[AlertChange]
    closing: list[AlertChange]


def preview_alerts(
    session: Session,
    config: Configuration,
    run: ScoreRun,
    before: Rescored,
    after: Rescored,
    *,
    as_of: date | None = None,
) -> AlertPreview:
    """The next run's evaluation simulated on ``run``'s data re-scored ``before`` and
    ``after`` (``simulate_next_run``: every country rule of config/alerting.yaml with its
    hysteresis, streaks, cooldown and the alerts open now). An alert "opens" (or "reopens",
    when it resolved within its rule's cooldown) when it would be open after that run under
    ``after`` and not under ``before``, and "closes" the other way round.
    """
    # The next run's evaluation starts from the alerts open now and the stored streaks, and
    # compares with the latest run and those before it (as the pipeline's country_inputs).
    now = alerts_now(session)
    # The simulated next run comes after the latest one, so the latest is in its history.
    rules = config.alerting.rules
    history = alerting_repository.score_history(
        session, before_run_id=run.id, runs=history_runs_needed(rules), inclusive=True
    )
    probabilities = {
        iso3: (f.probability_1y, f.probability_2y)
        for iso3, f in forecasting_repository.forecasts_for_run(session, run.id).items()
    }
    # A run started now is dated today, and never before the latest run.
    next_as_of = max(as_of or utc_now().date(), run.as_of)

    def simulate(rescored: Rescored) -> NextRun:
        return simulate_next_run(
            rules,
            preview_inputs(config, rescored, history, probabilities),
            now.open_alerts,
            now.streaks,
            as_of=next_as_of,
            resolved_on=now.resolved_on,
        )

    held_now, held_after = simulate(before), simulate(after)
    return AlertPreview(
        opening=alert_changes(held_after, held_now, now, reopening=False),
        reopening=alert_changes(held_after, held_now, now, reopening=True),
        closing=alert_changes(held_now, held_after, now),
    )
