"""A country brief's data: headline, history, factors, indicators, change, drivers, alerts.

Everything is read through the repositories and services of the stages that own it; this
module only puts it in the order a reader needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting import responses
from earlywarn.alerting.models import Alert, AlertState
from earlywarn.alerting.response_models import AlertAction
from earlywarn.countries.models import Country
from earlywarn.forecasting import repository as forecasting_repository
from earlywarn.forecasting.models import Forecast
from earlywarn.framework.config import Configuration
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring import service as scoring_service
from earlywarn.scoring import stored_scores
from earlywarn.scoring.models import CountryScore, ScoreRun

HISTORY_RUNS = 400  # enough for a daily run over a year and the yearly backfill


@dataclass(frozen=True)
class HistoryPoint:
    as_of: date
    composite: float | None
    level: str | None
    run_id: int


@dataclass(frozen=True)
class FactorChange:
    number: int
    name: str
    before: float | None
    after: float | None
    change: float  # change of the factor's term in the composite


@dataclass(frozen=True)
class Brief:
    country: Country
    run: ScoreRun | None
    score: CountryScore | None
    rank: int | None
    rated: int
    breakdown: dict[str, Any]
    forecast: Forecast | None
    drivers: list[dict[str, Any]]
    history: list[HistoryPoint]
    change: dict[str, Any] | None
    factor_changes: list[FactorChange]
    alerts: list[Alert]
    # What was done about each open alert (alert id -> its recorded actions, oldest first).
    recorded: dict[int, list[AlertAction]]

    def indicators(self) -> list[dict[str, Any]]:
        """Every indicator of the breakdown with its factor's number, in factor order."""
        return [
            {"factor": factor["number"], **indicator}
            for factor in self.breakdown.get("factors", [])
            for indicator in factor.get("indicators", [])
        ]


def history(session: Session, iso3: str) -> list[HistoryPoint]:
    """Oldest first, one point per date: several runs on one day read as the last one."""
    rows = scoring_service.last_run_per_day(
        scoring_repository.country_history(session, iso3, limit=HISTORY_RUNS)
    )
    return [
        HistoryPoint(run.as_of, score.composite, score.level.value if score.level else None, run.id)
        for score, run in reversed(rows)
    ]


def _labels(config: Configuration) -> dict[str, str]:
    return {i.variable: i.name for i in config.indicators.indicators}


def country_brief(session: Session, config: Configuration, country: Country) -> Brief:
    iso3 = country.iso3
    run = scoring_repository.latest_successful_run(session)
    score = scoring_repository.score_for_country(session, run.id, iso3) if run else None
    rank, rated, breakdown = None, 0, {}
    change, factor_changes = None, []
    forecast = None
    if run is not None and score is not None:
        ranked = scoring_repository.scores_for_run(session, run.id)
        rated = sum(1 for s in ranked if s.composite is not None)
        if score.composite is not None:
            rank = next(i + 1 for i, s in enumerate(ranked) if s.country_iso3 == iso3)
        breakdown = stored_scores.expand_stored_breakdown(session, config, run, score)
        explanation = stored_scores.explain_score(session, config, run, score)
        change = explanation.change_since_previous
        names = {f.number: f.name for f in config.framework.risk_factors}
        if change is not None:
            factor_changes = sorted(
                (
                    FactorChange(
                        number=row["number"],
                        name=names.get(row["number"], str(row["number"])),
                        before=row["score_before"],
                        after=row["score_after"],
                        change=row["change"],
                    )
                    for row in change.get("data_change_by_factor", [])
                    if row["change"]
                ),
                key=lambda fc: -abs(fc.change),
            )
        forecast = forecasting_repository.forecasts_for_run(session, run.id).get(iso3)
    labels = _labels(config)
    drivers = [
        {**d, "label": labels.get(d["variable"], d["variable"])}
        for d in (forecast.drivers if forecast is not None else [])
    ]
    alerts = alerting_repository.list_alerts(
        session,
        states=[s for s in AlertState if s is not AlertState.RESOLVED],
        country_iso3=iso3,
        level=None,
        rule_id=None,
        limit=50,
    )
    return Brief(
        country=country,
        run=run,
        score=score,
        rank=rank,
        rated=rated,
        breakdown=breakdown,
        forecast=forecast,
        drivers=drivers,
        history=history(session, iso3),
        change=change,
        factor_changes=factor_changes,
        alerts=alerts,
        recorded=responses.actions_for_alerts(session, [a.id for a in alerts]),
    )
