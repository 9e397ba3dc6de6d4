"""Weight sets as administrators change them: propose (validated), preview, apply, roll back.

Weight sets are immutable (a score points at the one it used); a change is a new set, and
which set is active is the latest 'applied', 'rolled_back' or 'config' event of the append-only
audit log. Nothing here commits: the request or job that owns the session does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting.rules import CountryInput, history_runs_needed, read_country
from earlywarn.forecasting import repository as forecasting_repository
from earlywarn.framework import repository as framework_repository
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, SourceHealthRule
from earlywarn.framework.models import WeightSet
from earlywarn.framework.schemas import WeightSetOut
from earlywarn.framework.service import weights_digest
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring import service as scoring_service
from earlywarn.scoring.engine import FACTOR_NUMBERS, EngineSpec
from earlywarn.scoring.explain import Rescored, rescore
from earlywarn.scoring.service import weights_of
from earlywarn.types import RiskLevel
from earlywarn.weights import repository
from earlywarn.weights.models import WeightSetEvent, WeightSetEventKind
from earlywarn.weights.schemas import (
    MAX_WEIGHT,
    AlertChange,
    LevelChange,
    RankMove,
    WeightPreview,
    WeightProposal,
    WeightSetDetail,
    WeightSetEventOut,
)


class WeightSetError(ValueError):
    """A proposal or a change that cannot be accepted; the message says why."""


class WeightSetConflict(WeightSetError):
    """The change does not fit the current state (already active, never active, ...)."""


# --- the active set -------------------------------------------------------------------------


def active_weight_set(session: Session) -> WeightSet | None:
    event = repository.latest_activation(session)
    return None if event is None else repository.get(session, event.weight_set_id)


def active_for_scoring(session: Session, synced: WeightSet) -> WeightSet:
    """The set the next scoring run uses, given the one the configuration defines.

    New weights in ``config/*.yaml`` (a set never active before) become active, logged as a
    'config' event; otherwise the set an administrator applied or rolled back to stays.
    """
    active = active_weight_set(session)
    if active is not None and repository.was_active(session, synced.id):
        return active
    if active is not None and active.id == synced.id:
        return active
    repository.add_event(
        session,
        WeightSetEvent(
            weight_set_id=synced.id,
            kind=WeightSetEventKind.CONFIG,
            previous_weight_set_id=None if active is None else active.id,
            actor="config",
            reason="new weights in config/indicators.yaml and config/scoring.yaml",
            diff=weight_diff(active, synced),
        ),
    )
    return synced


# --- validation -----------------------------------------------------------------------------


def weight_diff(before: WeightSet | None, after: WeightSet) -> dict[str, Any]:
    """Only what changed: ``{"indicator_weights": {id: {"from", "to"}}, "factor_weights": ...}``."""
    diff: dict[str, Any] = {}
    for name in ("indicator_weights", "factor_weights"):
        old: Mapping[str, Any] = {} if before is None else getattr(before, name)
        new: Mapping[str, Any] = getattr(after, name)
        changed = {
            key: {"from": old.get(key), "to": new.get(key)}
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        }
        diff[name] = changed
    return diff


def validate_proposal(
    config: Configuration, base: WeightSet | None, proposal: WeightProposal
) -> tuple[dict[str, float], dict[str, float]]:
    """The complete weights of the proposal (the base set filled in), or a WeightSetError
    naming every problem."""
    known_indicators = {i.id: i for i in config.indicators.indicators}
    problems: list[str] = []
    unknown = sorted(set(proposal.indicator_weights) - set(known_indicators))
    if unknown:
        problems.append(f"unknown indicator ids {unknown} (see GET /risk-factors/{{n}})")
    unknown_factors = sorted(
        k for k in proposal.factor_weights if k not in {str(n) for n in range(1, 15)}
    )
    if unknown_factors:
        problems.append(f"unknown risk factors {unknown_factors}: use '1' to '14'")
    for name, given in (
        ("indicator_weights", proposal.indicator_weights),
        ("factor_weights", proposal.factor_weights),
    ):
        for key, value in sorted(given.items()):
            if not math.isfinite(value):
                problems.append(f"{name}['{key}']: {value} is not a finite number")
            elif not 0 <= value <= MAX_WEIGHT:
                problems.append(f"{name}['{key}']: {value} is outside 0 to {MAX_WEIGHT:g}")
    if problems:
        raise WeightSetError("; ".join(problems))

    base_indicators = {} if base is None else dict(base.indicator_weights)
    base_factors = {} if base is None else dict(base.factor_weights)
    indicators = {
        i: float(proposal.indicator_weights.get(i, base_indicators.get(i, ind.weight)))
        for i, ind in known_indicators.items()
    }
    factors = {
        str(n): float(
            proposal.factor_weights.get(
                str(n), base_factors.get(str(n), config.scoring.factor_weights.get(n, 1.0))
            )
        )
        for n in range(1, 15)
    }
    if not any(w > 0 for w in factors.values()):
        problems.append("every factor weight is 0: at least one factor must count")
    for n in range(1, 15):
        members = [i.id for i in config.indicators_for(n)]
        if factors[str(n)] > 0 and members and not any(indicators[i] > 0 for i in members):
            problems.append(
                f"risk factor {n} has weight {factors[str(n)]} but all its indicators "
                f"{members} have weight 0; set factor_weights['{n}'] to 0 to drop the factor"
            )
    if problems:
        raise WeightSetError("; ".join(problems))
    return indicators, factors


def propose(
    session: Session, config: Configuration, proposal: WeightProposal, *, actor: str
) -> tuple[WeightSet, bool]:
    """A new weight set (not active) from the proposal; identical weights return the set that
    already has them (``created`` False)."""
    base = active_weight_set(session)
    indicators, factors = validate_proposal(config, base, proposal)
    digest = weights_digest(indicators, factors)
    existing = framework_repository.weight_set_by_digest(session, digest)
    if existing is not None:
        return existing, False
    weight_set = WeightSet(
        version=framework_repository.max_weight_set_version(session) + 1,
        content_digest=digest,
        indicator_weights=indicators,
        factor_weights=factors,
        created_by=actor,
        note=proposal.note,
    )
    session.add(weight_set)
    session.flush()
    repository.add_event(
        session,
        WeightSetEvent(
            weight_set_id=weight_set.id,
            kind=WeightSetEventKind.PROPOSED,
            previous_weight_set_id=None if base is None else base.id,
            actor=actor,
            reason=proposal.note or "proposed",
            diff=weight_diff(base, weight_set),
        ),
    )
    return weight_set, True


def apply(session: Session, weight_set: WeightSet, *, actor: str, reason: str) -> WeightSetEvent:
    """Make ``weight_set`` the active set from the next scoring run on."""
    active = active_weight_set(session)
    if active is not None and active.id == weight_set.id:
        raise WeightSetConflict(f"weight set {weight_set.id} is already the active set")
    return repository.add_event(
        session,
        WeightSetEvent(
            weight_set_id=weight_set.id,
            kind=WeightSetEventKind.APPLIED,
            previous_weight_set_id=None if active is None else active.id,
            actor=actor,
            reason=reason,
            diff=weight_diff(active, weight_set),
        ),
    )


def rollback(session: Session, target: WeightSet, *, actor: str, reason: str) -> WeightSetEvent:
    """Make an earlier active set active again."""
    active = active_weight_set(session)
    if active is not None and active.id == target.id:
        raise WeightSetConflict(f"weight set {target.id} is already the active set")
    if not repository.was_active(session, target.id):
        raise WeightSetConflict(
            f"weight set {target.id} was never active; apply it instead of rolling back to it"
        )
    return repository.add_event(
        session,
        WeightSetEvent(
            weight_set_id=target.id,
            kind=WeightSetEventKind.ROLLED_BACK,
            previous_weight_set_id=None if active is None else active.id,
            actor=actor,
            reason=reason,
            diff=weight_diff(active, target),
        ),
    )


def detail(session: Session, weight_set: WeightSet) -> WeightSetDetail:
    active = active_weight_set(session)
    return WeightSetDetail(
        **WeightSetOut.model_validate(weight_set).model_dump(),
        active=active is not None and active.id == weight_set.id,
        ever_active=repository.was_active(session, weight_set.id),
        score_runs=repository.runs_using(session, weight_set.id),
        events=[
            WeightSetEventOut.model_validate(e) for e in repository.events(session, weight_set.id)
        ],
    )


# --- preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenAlert:
    """An alert open now, as the next run's evaluation starts from it."""

    level: RiskLevel
    baseline: Mapping[str, Any] | None = None


def next_run_alerts(
    rules: Sequence[AlertRule],
    inputs: Sequence[CountryInput],
    open_alerts: Mapping[tuple[str, str], OpenAlert],
    streaks: Mapping[tuple[str, str], tuple[int, int]],
) -> dict[tuple[str, str], RiskLevel]:
    """The (rule id, country) alerts open after one more run on ``inputs``, with their level.

    The same readers (``alerting.rules.read_country``: hysteresis, factor scores, rises against
    a frozen baseline, probabilities) and the same guards as the evaluation: an open alert
    resolves once its exit streak reaches ``exit_for_runs``, a closed one opens (or reopens)
    once its enter streak reaches ``for_runs``; ``streaks`` holds the stored (enter, exit)
    streaks. A country the run does not rate keeps its alerts: missing data is not evidence
    that risk fell. Operational rules do not depend on scores and are left out.
    """
    held = {key: alert.level for key, alert in open_alerts.items()}
    for rule in rules:
        if isinstance(rule, SourceHealthRule):
            continue
        for data in inputs:
            key = (rule.id, data.iso3)
            alert = open_alerts.get(key)
            reading = read_country(rule, data, None if alert is None else alert.baseline)
            if reading is None:
                continue
            enter_streak, exit_streak = streaks.get(key, (0, 0))
            if alert is not None:
                if reading.exit and exit_streak + 1 >= rule.exit_for_runs:
                    held.pop(key, None)
                else:
                    held[key] = reading.level
            elif reading.enter and enter_streak + 1 >= rule.for_runs:
                held[key] = reading.level
    return held


def _preview_inputs(
    rescored: Rescored,
    history: Mapping[str, Sequence[tuple[float, RiskLevel]]],
    probabilities: Mapping[str, tuple[float | None, float | None]],
) -> list[CountryInput]:
    """What the next run's rules would read, with ``rescored``'s levels and factor scores."""
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
            )
        )
    return inputs


def preview(
    session: Session, config: Configuration, proposed: WeightSet, current: WeightSet
) -> WeightPreview | None:
    """What would change if ``proposed`` replaced ``current``, on the latest run's data.

    Both sets re-score the latest successful run's stored contributions. Alerts: the next
    run's evaluation is simulated under each set (``next_run_alerts``: every country rule of
    config/alerting.yaml with its hysteresis, streaks and the alerts open now); an alert
    "opens" when it would be open after that run under ``proposed`` and not under ``current``,
    and "closes" the other way round. None when no run has succeeded yet.
    """
    run = scoring_repository.latest_successful_run(session)
    if run is None:
        return None
    scores = scoring_repository.scores_with_breakdown(session, run.id)
    spec = EngineSpec.from_config(config)
    units = [s.country_iso3 for s in scores]
    breakdowns = scoring_service.stored_breakdowns(session, config, scores)
    before = rescore(spec, units, breakdowns, weights_of(spec, current))
    after = rescore(spec, units, breakdowns, weights_of(spec, proposed))
    levels_before, levels_after = before.levels(), after.levels()
    ranks_before, ranks_after = before.ranks(), after.ranks()

    # The next run's evaluation starts from the alerts open now and the stored streaks, and
    # compares with the latest run and those before it (as the pipeline's country_inputs).
    open_alerts: dict[tuple[str, str], OpenAlert] = {}
    for alert in alerting_repository.open_alerts_by_key(session).values():
        if alert.country_iso3 is not None and not alert.operational:
            baseline = alert.evidence.get("baseline") if alert.evidence else None
            open_alerts[(alert.rule_id, alert.country_iso3)] = OpenAlert(alert.level, baseline)
    streaks = {
        (state.rule_id, state.dedup_key.removeprefix(f"{state.rule_id}:")): (
            state.enter_streak,
            state.exit_streak,
        )
        for state in alerting_repository.rule_states(session).values()
    }
    # The simulated next run comes after the latest one, so the latest is in its history.
    rules = config.alerting.rules
    history = alerting_repository.score_history(
        session, before_run_id=run.id, runs=history_runs_needed(rules), inclusive=True
    )
    probabilities = {
        iso3: (f.probability_1y, f.probability_2y)
        for iso3, f in forecasting_repository.forecasts_for_run(session, run.id).items()
    }
    held_now = next_run_alerts(
        rules, _preview_inputs(before, history, probabilities), open_alerts, streaks
    )
    held_after = next_run_alerts(
        rules, _preview_inputs(after, history, probabilities), open_alerts, streaks
    )

    level_changes = [
        LevelChange(
            iso3=iso3,
            composite_before=before.composite(u),
            composite_after=after.composite(u),
            level_before=levels_before[iso3],
            level_after=levels_after[iso3],
        )
        for u, iso3 in enumerate(units)
        if levels_before[iso3] != levels_after[iso3]
    ]
    moves = []
    for iso3 in units:
        rb, ra = ranks_before.get(iso3), ranks_after.get(iso3)
        if rb != ra:
            move = None if rb is None or ra is None else rb - ra
            moves.append(RankMove(iso3=iso3, rank_before=rb, rank_after=ra, move=move))
    moves.sort(key=lambda m: (-(abs(m.move) if m.move is not None else 10**6), m.iso3))
    return WeightPreview(
        weight_set_id=proposed.id,
        compared_with_weight_set_id=current.id,
        score_run_id=run.id,
        countries=len(units),
        level_changes=level_changes,
        rank_moves=moves,
        alerts_opening=[
            AlertChange(rule_id=rule, iso3=iso3, level=level, open_now=(rule, iso3) in open_alerts)
            for (rule, iso3), level in sorted(held_after.items())
            if (rule, iso3) not in held_now
        ],
        alerts_closing=[
            AlertChange(rule_id=rule, iso3=iso3, level=level, open_now=(rule, iso3) in open_alerts)
            for (rule, iso3), level in sorted(held_now.items())
            if (rule, iso3) not in held_after
        ],
    )
