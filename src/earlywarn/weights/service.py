"""Weight sets as administrators change them: propose (validated), preview, apply, roll back.

Weight sets are immutable (a score points at the one it used); a change is a new set, and
which set is active is the latest 'applied', 'rolled_back' or 'config' event of the append-only
audit log. Nothing here commits: the request or job that owns the session does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.framework import repository as framework_repository
from earlywarn.framework.assessment_schema import assessment_weight_factor
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.schemas import WeightSetOut
from earlywarn.framework.service import weights_digest
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring import stored_scores
from earlywarn.scoring.engine import EngineSpec
from earlywarn.scoring.explain import Rescored, rescore
from earlywarn.scoring.service import weights_of
from earlywarn.weights import alert_preview, repository
from earlywarn.weights.models import WeightSetEvent, WeightSetEventKind
from earlywarn.weights.schemas import (
    MAX_WEIGHT,
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
    unknown = sorted(
        k
        for k in proposal.indicator_weights
        if k not in known_indicators and assessment_weight_factor(k) is None
    )
    if unknown:
        problems.append(
            f"unknown indicator ids {unknown} (see GET /risk-factors/{{n}}; analyst "
            "assessments of a factor are 'assessment.1' to 'assessment.14')"
        )
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
    indicators |= _assessment_weights(base_indicators, proposal.indicator_weights)
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


def _assessment_weights(base: Mapping[str, Any], proposed: Mapping[str, float]) -> dict[str, float]:
    """The 'assessment.<n>' entries: the proposal's over the base's; a 0 is left out (absent
    means 0), so the same weights always have the same digest."""
    merged = {k: float(v) for k, v in base.items() if assessment_weight_factor(k) is not None}
    merged |= {k: float(v) for k, v in proposed.items() if assessment_weight_factor(k) is not None}
    return {k: merged[k] for k in sorted(merged) if merged[k] > 0}


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


def preview(
    session: Session,
    config: Configuration,
    proposed: WeightSet,
    current: WeightSet,
    *,
    as_of: date | None = None,
) -> WeightPreview | None:
    """What would change if ``proposed`` replaced ``current``, on the latest run's data.

    Both sets re-score the latest successful run's stored contributions; the alerts are the
    next run's evaluation simulated under each set (``alert_preview.preview_alerts``, for a
    run dated ``as_of``, by default today). None when no run has succeeded yet.
    """
    run = scoring_repository.latest_successful_run(session)
    if run is None:
        return None
    scores = scoring_repository.scores_with_breakdown(session, run.id)
    spec = EngineSpec.from_config(config)
    units = [s.country_iso3 for s in scores]
    breakdowns = stored_scores.stored_breakdowns(session, config, scores)
    before = rescore(spec, units, breakdowns, weights_of(spec, current))
    after = rescore(spec, units, breakdowns, weights_of(spec, proposed))
    levels_before, levels_after = before.levels(), after.levels()

    alerts = alert_preview.preview_alerts(session, config, run, before, after, as_of=as_of)
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
    return WeightPreview(
        weight_set_id=proposed.id,
        compared_with_weight_set_id=current.id,
        score_run_id=run.id,
        countries=len(units),
        level_changes=level_changes,
        rank_moves=_rank_moves(units, before, after),
        alerts_opening=alerts.opening,
        alerts_reopening=alerts.reopening,
        alerts_closing=alerts.closing,
    )


def _rank_moves(units: list[str], before: Rescored, after: Rescored) -> list[RankMove]:
    """Every country whose rank changes, the largest moves first."""
    ranks_before, ranks_after = before.ranks(), after.ranks()
    moves = []
    for iso3 in units:
        rb, ra = ranks_before.get(iso3), ranks_after.get(iso3)
        if rb != ra:
            move = None if rb is None or ra is None else rb - ra
            moves.append(RankMove(iso3=iso3, rank_before=rb, rank_after=ra, move=move))
    moves.sort(key=lambda m: (-(abs(m.move) if m.move is not None else 10**6), m.iso3))
    return moves
