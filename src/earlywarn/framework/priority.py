"""Priority actions: the few Framework for Action rows an alert leads with.

An alert recommends every heading mapped to its risk factors and level (``recommend_actions``:
often 100+ rows). A focal point needs to know what to do first. This module ranks the lead
rows of those headings and keeps at most ``priority.max_actions`` (config/action_map.yaml);
the model is documented in docs/priority-actions.md:

1. A heading scores, for each triggering factor it is mapped to, the factor's share of the
   composite (weight x score over the weights of the rated factors) times the mapping's weight
   (``strong_mapping_weight`` for a heading listed under ``priority.strong``, else
   ``mapped_weight``), plus ``level_weight`` when ``by_level`` recommends it at the level.
2. Its candidates are the lead (first) rows of its tables in the alert; in an imminent
   situation only the imminent-risk tables of a heading that has them, and those rows rank
   before every other row. A heading's later tables score ``further_row_factor`` times less
   each, and at most ``rows_per_heading`` rows come from one heading.
3. Balance: the best row of each sphere that has a candidate is kept first, then the best
   remaining rows fill up to ``max_actions``; the result is in rank order.

Pure: no database, no I/O; the result is JSON-ready and stored on the alert.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from earlywarn.framework.config import Configuration
from earlywarn.types import RiskLevel, Sphere


@dataclass(frozen=True)
class _Candidate:
    imminent: bool
    score: float
    heading: dict[str, Any]
    group: str
    text: str
    code: str
    why: dict[str, Any]

    def rank_key(self, imminent_situation: bool) -> tuple[int, float, tuple[int, ...]]:
        first = 1 if imminent_situation and self.imminent else 0
        return (-first, -self.score, tuple(int(p) for p in self.code.split(".")))


def factor_shares(config: Configuration, factor_scores: Mapping[int, float]) -> dict[int, float]:
    """Each rated factor's share of the composite: weight x score over the rated weights."""
    weights = config.scoring.factor_weights
    total = sum(weights.get(n, 0.0) for n in factor_scores)
    if total <= 0:
        return {}
    return {n: weights.get(n, 0.0) * s / total for n, s in factor_scores.items()}


def row_code(config: Configuration, heading_code: str, group: str, text: str) -> str:
    """The catalogue code of a row: heading code and its 1-based position over the heading's
    rows in catalogue order (the position ``framework_recommended_actions`` stores, plus one)."""
    position = 0
    for table in config.heading(heading_code).groups:
        for row in table.actions:
            position += 1
            if table.title == group and row == text:
                return f"{heading_code}.{position}"
    raise KeyError(f"row not in heading {heading_code}: {text[:60]!r}")


def _heading_score(
    config: Configuration,
    code: str,
    factors: Sequence[int],
    scores: Mapping[int, float],
    shares: Mapping[int, float],
    level: RiskLevel,
) -> tuple[float, list[dict[str, Any]], bool]:
    action_map = config.action_map
    priority = action_map.priority
    score = 0.0
    reasons: list[dict[str, Any]] = []
    for number in factors:
        if code not in action_map.by_factor.get(number, []):
            continue
        strong = code in priority.strong.get(number, [])
        weight = priority.strong_mapping_weight if strong else priority.mapped_weight
        share = shares.get(number, 0.0)
        score += share * weight
        reasons.append(
            {
                "factor": number,
                "name": config.risk_factor(number).name,
                "score": None if number not in scores else round(scores[number], 4),
                "share_of_composite": round(share, 4),
                "mapping": "strong" if strong else "mapped",
            }
        )
    by_level = any(code in action_map.by_level.get(rung, []) for rung in RiskLevel if rung <= level)
    if by_level:
        score += priority.level_weight
    return score, reasons, by_level


def _candidates(
    config: Configuration,
    actions: Mapping[str, Sequence[Mapping[str, Any]]],
    factors: Sequence[int],
    factor_scores: Mapping[int, float],
    level: RiskLevel,
    imminent_situation: bool,
) -> list[_Candidate]:
    shares = factor_shares(config, factor_scores)
    priority = config.action_map.priority
    found: list[_Candidate] = []
    for sphere in Sphere:
        for heading in actions.get(sphere.value, []):
            code = str(heading["code"])
            score, reasons, by_level = _heading_score(
                config, code, factors, factor_scores, shares, level
            )
            tables: dict[str, tuple[bool, str]] = {}
            for row in heading.get("actions", []):
                tables.setdefault(row["group"], (bool(row["for_imminent_risk"]), row["text"]))
            has_imminent = any(imminent for imminent, _ in tables.values())
            lead_rows = [
                (group, imminent, text)
                for group, (imminent, text) in tables.items()
                if not (imminent_situation and has_imminent and not imminent)
            ]
            for index, (group, imminent, text) in enumerate(lead_rows):
                why: dict[str, Any] = {
                    "factors": reasons,
                    "recommended_at_level": level.value if by_level else None,
                    "imminent_risk_table": imminent,
                }
                found.append(
                    _Candidate(
                        imminent=imminent,
                        score=score * priority.further_row_factor**index,
                        heading=dict(heading),
                        group=group,
                        text=text,
                        code=row_code(config, code, group, text),
                        why=why,
                    )
                )
    return found


def rank_priority_actions(
    config: Configuration,
    actions: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    factors: Sequence[int],
    factor_scores: Mapping[int, float],
    level: RiskLevel,
    imminent_situation: bool,
) -> list[dict[str, Any]]:
    """At most ``priority.max_actions`` rows to take first, best first (see the module doc).

    ``actions``: the alert's recommended headings by sphere (``recommend_actions``);
    ``factors``: the triggering factors (and a risk_factor rule's factor); ``factor_scores``:
    every rated factor of the country, for the shares of the composite.
    """
    priority = config.action_map.priority
    ranked = sorted(
        _candidates(config, actions, factors, factor_scores, level, imminent_situation),
        key=lambda c: c.rank_key(imminent_situation),
    )
    chosen: list[_Candidate] = []
    per_heading: dict[str, int] = {}

    def take(candidate: _Candidate) -> None:
        chosen.append(candidate)
        code = str(candidate.heading["code"])
        per_heading[code] = per_heading.get(code, 0) + 1

    # Balance first: the best fit of every sphere the catalogue has one for.
    for sphere in Sphere:
        best = next((c for c in ranked if c.heading["sphere"] == sphere.value), None)
        if best is not None and len(chosen) < priority.max_actions:
            take(best)
    for candidate in ranked:
        if len(chosen) >= priority.max_actions:
            break
        code = str(candidate.heading["code"])
        if candidate in chosen or per_heading.get(code, 0) >= priority.rows_per_heading:
            continue
        take(candidate)
    chosen.sort(key=lambda c: c.rank_key(imminent_situation))
    return [
        {
            "rank": rank,
            "sphere": c.heading["sphere"],
            "code": c.code,
            "heading_code": c.heading["code"],
            "heading_title": c.heading["title"],
            "group": c.group,
            "text": c.text,
            "imminent": c.imminent,
            "score": round(c.score, 4),
            "why": c.why,
        }
        for rank, c in enumerate(chosen, start=1)
    ]


def combine_priority_actions(
    lists: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], max_actions: int
) -> list[dict[str, Any]]:
    """One list for a message that carries several alerts of a country (``(rule id, the
    alert's priority_actions)``, most severe alert first): each catalogue row once, with the
    rules that ranked it (``rules``) and the factors behind it merged. Each alert's own ranking
    is kept: rows by their best rank in any alert, then imminent first, then score (so the
    lead row of an emergency alert, imminent, stays first); one row per sphere first, as the
    single-alert ranking does; at most ``max_actions``."""
    merged: dict[str, dict[str, Any]] = {}
    best: dict[str, int] = {}
    for rule_id, items in lists:
        for item in items:
            code = str(item["code"])
            if code not in merged:
                merged[code] = {**copy.deepcopy(dict(item)), "rules": [rule_id]}
                best[code] = int(item["rank"])
                continue
            kept = merged[code]
            best[code] = min(best[code], int(item["rank"]))
            if rule_id not in kept["rules"]:
                kept["rules"].append(rule_id)
            kept["imminent"] = bool(kept["imminent"] or item["imminent"])
            kept["score"] = max(float(kept["score"]), float(item["score"]))
            factors = kept.setdefault("why", {}).setdefault("factors", [])
            seen = {f.get("factor") for f in factors}
            for factor in (item.get("why") or {}).get("factors", []):
                if factor.get("factor") not in seen:
                    factors.append(copy.deepcopy(factor))
                    seen.add(factor.get("factor"))

    def key(item: dict[str, Any]) -> tuple[int, bool, float]:
        return (best[str(item["code"])], not item["imminent"], -float(item["score"]))

    ranked = sorted(merged.values(), key=key)
    chosen: list[dict[str, Any]] = []
    for sphere in Sphere:
        top = next((i for i in ranked if i["sphere"] == sphere.value), None)
        if top is not None and len(chosen) < max_actions:
            chosen.append(top)
    for item in ranked:
        if len(chosen) >= max_actions:
            break
        if item not in chosen:
            chosen.append(item)
    chosen.sort(key=key)
    return [{**item, "rank": rank} for rank, item in enumerate(chosen, start=1)]
