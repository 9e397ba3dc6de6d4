"""Approved analyst assessments as the engine's (T, U, F) input, and each one's term.

The assessments of one (date, country, factor) are one term of the factor's weighted mean (at
the weight-set entry ``assessment.<factor>``, see ``engine.assessment_weight``); inside it each
counts with its confidence weight (config/assessments.yaml). So each assessment's own term is
that term x its share x its score / their mean, and the terms of indicators and assessments
still add up to the composite.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from earlywarn.assessments.service import CountedAssessment
from earlywarn.scoring.engine import FACTOR_NUMBERS, FloatArray

Key = tuple[int, int, int]  # (date, unit, factor) positions


@dataclass(frozen=True)
class AssessmentPanel:
    scores: FloatArray  # (T, U, F) confidence-weighted mean score, NaN without assessments
    members: Mapping[Key, list[tuple[CountedAssessment, float]]]  # with each one's share


def assessment_panel(
    units: Sequence[str], dates: Sequence[date], counted: Sequence[CountedAssessment]
) -> AssessmentPanel | None:
    """None when no assessment is valid on any date for any unit: the engine then runs
    exactly as without assessments."""
    position = {iso3: u for u, iso3 in enumerate(units)}
    groups: dict[Key, list[CountedAssessment]] = defaultdict(list)
    for t, day in enumerate(dates):
        for a in counted:
            u = position.get(a.iso3)
            if u is not None and a.valid_from <= day <= a.valid_until:
                groups[(t, u, a.risk_factor - 1)].append(a)
    if not groups:
        return None
    scores = np.full((len(dates), len(units), len(FACTOR_NUMBERS)), np.nan)
    members: dict[Key, list[tuple[CountedAssessment, float]]] = {}
    for key, items in groups.items():
        total = math.fsum(a.confidence_weight for a in items)
        shares = [(a, a.confidence_weight / total) for a in items]
        scores[key] = math.fsum(share * a.score for a, share in shares)
        members[key] = shares
    return AssessmentPanel(scores=scores, members=members)


def split_term(term: float, items: Sequence[tuple[float, float]]) -> list[float]:
    """A factor's assessments' term split among them by share x score (``items``)."""
    mean = math.fsum(share * score for share, score in items)
    if mean <= 0:
        return [0.0 for _ in items]
    return [term * share * score / mean for share, score in items]


def stored_terms(
    members: Sequence[tuple[CountedAssessment, float]], term: float, weight: float
) -> dict[str, Any]:
    """What a stored breakdown keeps of a factor's assessments: their weight in the factor
    and each one with its term, author, reviewer, dates and evidence."""
    terms = split_term(term, [(share, a.score) for a, share in members])
    return {
        "assessment_weight": weight,
        "assessments": [
            {
                "assessment_id": a.id,
                "score": a.score,
                "confidence": a.confidence,
                "share": share,
                "author": a.author,
                "reviewer": a.reviewer,
                "approved_at": a.approved_at.isoformat(),
                "valid_from": a.valid_from.isoformat(),
                "valid_until": a.valid_until.isoformat(),
                "evidence": a.evidence,
                "links": a.links,
                "composite_term": t,
            }
            for (a, share), t in zip(members, terms, strict=True)
        ],
    }


def stored_scores(breakdown: Mapping[str, Any]) -> FloatArray | None:
    """A stored breakdown's assessment means (F,), None when it has no assessments."""
    scores = np.full(len(FACTOR_NUMBERS), np.nan)
    found = False
    for factor in breakdown.get("factors", []):
        items = factor.get("assessments") if isinstance(factor, Mapping) else None
        if items:
            found = True
            scores[factor["number"] - 1] = math.fsum(i["share"] * i["score"] for i in items)
    return scores if found else None


def stored_items(breakdown: Mapping[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """A stored breakdown's assessments by factor number."""
    return {
        factor["number"]: list(factor["assessments"])
        for factor in breakdown.get("factors", [])
        if isinstance(factor, Mapping) and factor.get("assessments")
    }
