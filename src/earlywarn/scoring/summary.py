"""How a score's factor summary is stored, and the one accessor that reads it.

Ranked lists and alerting read a summary per country: factor scores and coverages. Stored as
one object per factor with the factor's name, a summary was ~1,860 characters, over half of
them the same 14 names in every row, and writing a history's 13,000 of them was most of its
write time. A stored summary now holds the factors' numbers, scores and coverages as three
arrays; the names are stored once per run (``ScoreRun.factor_names``, in the same order).
``factor_summary`` gives back exactly the form every caller used before (the API responses
are unchanged); a row in the earlier form (or an empty one) is returned as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from earlywarn.scoring.models import CountryScore, ScoreRun

SUMMARY_FORMAT = "factor-arrays"


def compact(
    *,
    factors_with_data: int,
    armed_conflict: bool | None,
    points_to: Sequence[str],
    numbers: Sequence[int],
    scores: Sequence[float | None],
    coverage: Sequence[float],
) -> dict[str, Any]:
    """A summary in its stored form (the factors in the order of the run's names).

    The sequences are kept, not copied: a history shares one ``numbers`` list among its
    13,000 rows, which are encoded and never changed."""
    return {
        "format": SUMMARY_FORMAT,
        "factors_with_data": factors_with_data,
        "armed_conflict": armed_conflict,
        "points_to": points_to,
        "numbers": numbers,
        "scores": scores,
        "coverage": coverage,
    }


def from_full(summary: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A summary in the full form (``CountryResult.summary``) as its stored form and the
    factor names it leaves out."""
    factors = summary["factors"]
    return (
        compact(
            factors_with_data=summary["factors_with_data"],
            armed_conflict=summary["armed_conflict"],
            points_to=summary["points_to"],
            numbers=[f["number"] for f in factors],
            scores=[f["score"] for f in factors],
            coverage=[f["coverage"] for f in factors],
        ),
        [f["name"] for f in factors],
    )


def to_full(stored: dict[str, Any], names: Sequence[str] | None) -> dict[str, Any]:
    """The full form of a stored summary, given its run's factor names."""
    if stored.get("format") != SUMMARY_FORMAT:
        return stored
    numbers = stored["numbers"]
    if names is None or len(names) != len(numbers):
        raise LookupError("a compact factor summary without its run's factor names")
    return {
        "factors_with_data": stored["factors_with_data"],
        "armed_conflict": stored["armed_conflict"],
        "points_to": stored["points_to"],
        "factors": [
            {"number": number, "name": name, "score": score, "coverage": coverage}
            for number, name, score, coverage in zip(
                numbers, names, stored["scores"], stored["coverage"], strict=True
            )
        ],
    }


def factor_summary(score: CountryScore, run: ScoreRun) -> dict[str, Any]:
    """The score's factor summary in its full form: factors_with_data, armed_conflict,
    points_to, and per factor its number, name, score and coverage."""
    if score.score_run_id != run.id:
        raise ValueError(f"score of run {score.score_run_id} read with run {run.id}")
    return to_full(score.factor_summary, run.factor_names)
