"""What an alert says: its evidence, recommended actions and summary, from one run's reading."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from earlywarn.alerting.rules import CountryInput, Reading, RunRef
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, RiskFactorRule, SourceHealthRule
from earlywarn.framework.service import recommend_actions
from earlywarn.scoring.models import CountryScore


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


@dataclass(frozen=True)
class Content:
    """What an alert says now: evidence, recommended actions, summary."""

    evidence: dict[str, Any]
    actions: dict[str, Any]
    summary: str


def country_content(
    config: Configuration,
    rule: AlertRule,
    run: RunRef,
    data: CountryInput,
    reading: Reading,
    country_name: str,
    baseline: Mapping[str, Any] | None,
) -> Content:
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
    return Content(evidence=evidence, actions=actions, summary=summary)


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


def source_content(rule: SourceHealthRule, run: RunRef, reading: Reading) -> Content:
    details = reading.details
    return Content(
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
