"""The framework's logic: mirror the configuration into the database, and choose the Framework
for Action recommendations for a risk level and a set of elevated risk factors.

Nothing here commits: the job or request that owns the session does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.framework import repository
from earlywarn.framework.assessment_schema import assessment_weight_key
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import ActionHeadingConfig
from earlywarn.framework.models import (
    ActionHeading,
    Indicator,
    RecommendedAction,
    RiskFactor,
    WeightSet,
)
from earlywarn.framework.schemas import (
    ActionGroupOut,
    ActionHeadingOut,
    IndicatorSummaryOut,
    RecommendedHeading,
    RecommendedRow,
    RiskFactorDetailOut,
    RiskFactorOut,
    WeightSetOut,
)
from earlywarn.types import RiskLevel, Sphere

logger = logging.getLogger(__name__)

RISK_FACTOR_NUMBERS = range(1, 15)


class FrameworkSyncError(RuntimeError):
    """The configuration cannot be mirrored without breaking rows that point at the old one."""


# --- codes ----------------------------------------------------------------------------------


def code_sort_key(code: str) -> tuple[int, int]:
    """Numeric order of action codes: 1.9 before 1.10."""
    part, number = code.split(".")
    return int(part), int(number)


def factors_for_heading(config: Configuration, code: str) -> list[int]:
    return sorted(n for n, codes in config.action_map.by_factor.items() if code in codes)


def headings_for_factor(config: Configuration, number: int) -> list[str]:
    return sorted(set(config.action_map.by_factor.get(number, [])), key=code_sort_key)


# --- weights --------------------------------------------------------------------------------


def config_weights(config: Configuration) -> tuple[dict[str, float], dict[str, float]]:
    """Indicator weights ``{indicator_id: weight}`` and factor weights ``{"n": weight}``.

    Factor numbers become strings because that is what a JSON object key is; using them here
    too means the digest and the stored columns describe exactly the same document.
    """
    indicator_weights = {i.id: float(i.weight) for i in config.indicators.indicators}
    # Assessment blend weights of 0 are left out (absent means 0), so a configuration without
    # any keeps the weight set, and its digest, it had before assessments existed.
    indicator_weights |= {
        assessment_weight_key(n): float(w)
        for n, w in sorted(config.assessments.blend_weights.items())
        if w > 0
    }
    factor_weights = {str(n): float(w) for n, w in config.scoring.factor_weights.items()}
    return indicator_weights, factor_weights


def weights_digest(indicator_weights: dict[str, float], factor_weights: dict[str, float]) -> str:
    """SHA-256 of canonical JSON (sorted keys, no whitespace) of both weight maps."""
    canonical = json.dumps(
        {"factor_weights": factor_weights, "indicator_weights": indicator_weights},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# --- sync -----------------------------------------------------------------------------------


def _assign(obj: object, **values: Any) -> None:
    """Set only the attributes that differ, so an unchanged config writes nothing."""
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)


def _sync_risk_factors(session: Session, config: Configuration) -> None:
    existing = repository.risk_factors_by_number(session)
    for factor in config.framework.risk_factors:
        values = {
            "name": factor.name,
            "kind": factor.kind,
            "crime": factor.crime,
            "description": factor.description,
        }
        row = existing.get(factor.number)
        if row is None:
            repository.add(session, RiskFactor(number=factor.number, **values))
        else:
            _assign(row, **values)
    # Risk factors are the Framework of Analysis itself, referenced by scores and alerts:
    # they are never deleted, even if a (necessarily invalid) config lacked one.


def _sync_indicators(session: Session, config: Configuration) -> None:
    existing = repository.indicators_by_id(session)
    for ind in config.indicators.indicators:
        values = {
            "risk_factor_number": ind.risk_factor,
            "name": ind.name,
            "variable": ind.variable,
            "direction": ind.direction.value,
            "transform": ind.transform.value,
            "normalisation": ind.normalisation.model_dump(mode="json"),
            "weight": float(ind.weight),
            "max_age_days": ind.max_age_days,
            "definition": ind.model_dump(mode="json"),
        }
        row = existing.get(ind.id)
        if row is None:
            repository.add(session, Indicator(id=ind.id, **values))
        else:
            _assign(row, **values)
    configured = {i.id for i in config.indicators.indicators}
    for indicator_id, row in existing.items():
        if indicator_id in configured:
            continue
        if repository.indicator_is_referenced(session, indicator_id):
            # Scores computed with it must keep pointing at its definition.
            logger.warning("indicator %r left the config but is referenced; kept", indicator_id)
        else:
            repository.delete_indicator(session, row)


def _desired_rows(heading: ActionHeadingConfig) -> list[tuple[int, str, str, bool]]:
    rows: list[tuple[int, str, str, bool]] = []
    for group in heading.groups:
        for text in group.actions:
            rows.append((len(rows), group.title, text, group.for_imminent_risk))
    return rows


def _sync_actions(session: Session, config: Configuration) -> None:
    existing = repository.headings_by_code(session)
    existing_rows = repository.rows_by_heading(session)
    for heading in config.actions.headings:
        row = existing.get(heading.code)
        if row is None:
            repository.add(
                session,
                ActionHeading(code=heading.code, sphere=heading.sphere, title=heading.title),
            )
        else:
            _assign(row, sphere=heading.sphere, title=heading.title)
        desired = _desired_rows(heading)
        current = [
            (r.position, r.group_title, r.text, r.for_imminent_risk)
            for r in existing_rows.get(heading.code, [])
        ]
        if desired == current:
            continue
        if current:
            if repository.any_row_of_heading_is_referenced(session, heading.code):
                raise FrameworkSyncError(
                    f"the recommended actions of {heading.code} changed in actions.yaml, but "
                    "stored rows point at the old ones; they cannot be replaced"
                )
            repository.delete_rows_of_heading(session, heading.code)
            # The old rows must be gone before the new ones reuse their positions.
            session.flush()
        for position, group_title, text, imminent in desired:
            repository.add(
                session,
                RecommendedAction(
                    heading_code=heading.code,
                    position=position,
                    group_title=group_title,
                    text=text,
                    for_imminent_risk=imminent,
                ),
            )
    configured = {h.code for h in config.actions.headings}
    for code, row in existing.items():
        if code in configured:
            continue
        if repository.heading_is_referenced(
            session, code
        ) or repository.any_row_of_heading_is_referenced(session, code):
            logger.warning("action heading %s left the catalogue but is referenced; kept", code)
        else:
            repository.delete_heading(session, row)


def _weight_set(session: Session, config: Configuration, created_by: str) -> WeightSet:
    indicator_weights, factor_weights = config_weights(config)
    digest = weights_digest(indicator_weights, factor_weights)
    found = repository.weight_set_by_digest(session, digest)
    if found is not None:
        return found
    # Two syncs racing for the same version collide on the unique constraint and one fails
    # without writing anything; rerunning it then finds the other's weight set.
    weight_set = WeightSet(
        version=repository.max_weight_set_version(session) + 1,
        content_digest=digest,
        indicator_weights=indicator_weights,
        factor_weights=factor_weights,
        created_by=created_by,
        note=f"methodology {config.scoring.methodology_version}",
    )
    repository.add(session, weight_set)
    return weight_set


def sync_configuration(
    session: Session, config: Configuration, *, created_by: str = "config"
) -> WeightSet:
    """Mirror the configuration into the database and return the weight set it defines.

    Idempotent: a second call with the same configuration changes nothing and returns the same
    weight set. Changed weights make a new weight set with the next version; earlier versions
    stay, since scores point at them.
    """
    _sync_risk_factors(session, config)
    session.flush()  # indicators reference risk factors
    _sync_indicators(session, config)
    _sync_actions(session, config)
    weight_set = _weight_set(session, config, created_by)
    session.flush()
    return weight_set


# --- recommendations ------------------------------------------------------------------------


@dataclass
class _Selected:
    factors: set[int] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)


def recommend_actions(
    config: Configuration,
    factor_numbers: Sequence[int],
    level: RiskLevel,
    *,
    imminent_reason: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The Framework for Action headings and rows recommended for a country.

    Headings come from ``by_factor`` for each of ``factor_numbers`` and from ``by_level`` for
    every level up to and including ``level``. Rows of imminent-risk tables are kept only from
    ``imminent_rows_from_level`` on, and a heading left without rows is dropped. The result is
    JSON-ready (it is stored in an alert's ``actions``): one key per sphere, all four always
    present, national first; headings in code order.

    ``imminent_reason`` (a specific-factor rule fired) includes the imminent-risk rows below
    ``imminent_rows_from_level`` too, and is added to the reasons of headings that have them.
    """
    unknown = sorted({n for n in factor_numbers if n not in RISK_FACTOR_NUMBERS})
    if unknown:
        raise ValueError(f"unknown risk factor numbers {unknown}: risk factors are 1 to 14")
    action_map = config.action_map
    selected: dict[str, _Selected] = {}
    for number in sorted(set(factor_numbers)):
        reason = f"risk factor {number}: {config.risk_factor(number).name}"
        for code in action_map.by_factor.get(number, []):
            entry = selected.setdefault(code, _Selected())
            entry.factors.add(number)
            if reason not in entry.reasons:
                entry.reasons.append(reason)
    for rung in RiskLevel:
        if rung > level:
            break
        for code in action_map.by_level.get(rung, []):
            entry = selected.setdefault(code, _Selected())
            reason = f"level {rung.value}"
            if reason not in entry.reasons:
                entry.reasons.append(reason)

    include_imminent = level >= action_map.imminent_rows_from_level or imminent_reason is not None
    result: dict[str, list[dict[str, Any]]] = {sphere.value: [] for sphere in Sphere}
    for code in sorted(selected, key=code_sort_key):
        heading = config.heading(code)
        rows = [
            RecommendedRow(text=text, group=group.title, for_imminent_risk=group.for_imminent_risk)
            for group in heading.groups
            if include_imminent or not group.for_imminent_risk
            for text in group.actions
        ]
        if not rows:
            continue
        reasons = list(selected[code].reasons)
        if (
            imminent_reason is not None
            and level < action_map.imminent_rows_from_level
            and any(row.for_imminent_risk for row in rows)
        ):
            reasons.append(f"imminent-risk actions: {imminent_reason}")
        recommended = RecommendedHeading(
            code=code,
            title=heading.title,
            sphere=heading.sphere,
            addresses_factors=sorted(selected[code].factors),
            recommended_because="; ".join(reasons),
            actions=rows,
        )
        result[heading.sphere.value].append(recommended.model_dump(mode="json"))
    return result


# --- read views for the API -----------------------------------------------------------------


def list_risk_factors(config: Configuration) -> list[RiskFactorOut]:
    factors = sorted(config.framework.risk_factors, key=lambda f: f.number)
    return [RiskFactorOut.model_validate(f.model_dump()) for f in factors]


def risk_factor_detail(config: Configuration, number: int) -> RiskFactorDetailOut | None:
    factor = next((f for f in config.framework.risk_factors if f.number == number), None)
    if factor is None:
        return None
    return RiskFactorDetailOut(
        **factor.model_dump(),
        indicators=[
            IndicatorSummaryOut.model_validate(i.model_dump())
            for i in config.indicators_for(number)
        ],
        action_codes=headings_for_factor(config, number),
    )


def _heading_out(config: Configuration, heading: ActionHeadingConfig) -> ActionHeadingOut:
    return ActionHeadingOut(
        code=heading.code,
        sphere=heading.sphere,
        title=heading.title,
        addresses_factors=factors_for_heading(config, heading.code),
        groups=[ActionGroupOut.model_validate(g.model_dump()) for g in heading.groups],
    )


def list_action_headings(
    config: Configuration, *, sphere: Sphere | None = None, imminent: bool | None = None
) -> list[ActionHeadingOut]:
    """The catalogue, optionally one sphere's; ``imminent`` keeps only the tables for (True)
    or not for (False) an imminent risk, and drops headings left without a table."""
    headings: list[ActionHeadingOut] = []
    for heading in sorted(config.actions.headings, key=lambda h: code_sort_key(h.code)):
        if sphere is not None and heading.sphere != sphere:
            continue
        out = _heading_out(config, heading)
        if imminent is not None:
            out.groups = [g for g in out.groups if g.for_imminent_risk == imminent]
            if not out.groups:
                continue
        headings.append(out)
    return headings


def action_heading(config: Configuration, code: str) -> ActionHeadingOut | None:
    heading = next((h for h in config.actions.headings if h.code == code), None)
    return None if heading is None else _heading_out(config, heading)


def list_weight_sets(session: Session) -> list[WeightSetOut]:
    return [WeightSetOut.model_validate(w) for w in repository.list_weight_sets(session)]
