"""The overview's data: the ranked watch list of the latest run and the freshness of sources.

Everything is read through the repositories and services of the stages that own it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting import repository as alerting_repository
from earlywarn.db import utc_now
from earlywarn.forecasting import repository as forecasting_repository
from earlywarn.framework.config import Configuration
from earlywarn.ingest import health as ingest_health
from earlywarn.ingest.health import SourceHealth
from earlywarn.scoring import repository as scoring_repository
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel


@dataclass(frozen=True)
class WatchRow:
    rank: int | None
    iso3: str
    name: str
    region: str | None
    composite: float | None
    level: RiskLevel | None
    coverage: float
    probability_2y: float | None
    change: float | None  # composite minus the previous run's; None when either is missing
    previous_level: RiskLevel | None
    open_alerts: int


@dataclass(frozen=True)
class WatchList:
    run_id: int | None
    as_of: date | None
    previous_as_of: date | None
    rows: list[WatchRow]
    regions: list[str]


def watch_list(session: Session) -> WatchList:
    """Every country of the latest successful run, ranked (unrated ones last)."""
    run = scoring_repository.latest_successful_run(session)
    if run is None:
        return WatchList(None, None, None, [], [])
    scores = scoring_repository.scores_for_run(session, run.id)
    previous_run = scoring_repository.latest_successful_run(session, before_run_id=run.id)
    previous = (
        {s.country_iso3: s for s in scoring_repository.scores_for_run(session, previous_run.id)}
        if previous_run is not None
        else {}
    )
    names = scoring_repository.country_names(session, [s.country_iso3 for s in scores])
    regions = alerting_repository.country_regions(session)
    forecasts = forecasting_repository.forecasts_for_run(session, run.id)
    alerts = Counter(
        a.country_iso3 for a in alerting_repository.active_alerts(session) if a.country_iso3
    )
    rows = []
    for index, score in enumerate(scores):
        before = previous.get(score.country_iso3)
        change = (
            score.composite - before.composite
            if before is not None and before.composite is not None and score.composite is not None
            else None
        )
        forecast = forecasts.get(score.country_iso3)
        rows.append(
            WatchRow(
                rank=index + 1 if score.composite is not None else None,
                iso3=score.country_iso3,
                name=names.get(score.country_iso3, score.country_iso3),
                region=regions.get(score.country_iso3),
                composite=score.composite,
                level=score.level,
                coverage=score.coverage,
                probability_2y=forecast.probability_2y if forecast is not None else None,
                change=change,
                previous_level=before.level if before is not None else None,
                open_alerts=alerts.get(score.country_iso3, 0),
            )
        )
    return WatchList(
        run_id=run.id,
        as_of=run.as_of,
        previous_as_of=previous_run.as_of if previous_run is not None else None,
        rows=rows,
        regions=sorted({r.region for r in rows if r.region}),
    )


# Source health counts every source's observations (over a second on the EWP data); the strip
# on the overview may be this old. Ingest runs take minutes, so a minute hides nothing.
FRESHNESS_MAX_AGE_SECONDS = 60.0


def freshness(
    session: Session, settings: Settings, config: Configuration, state: Any = None
) -> list[SourceHealth]:
    """The health of every source, as ``GET /sources`` reports it (kept for a minute on
    ``state``, the application's state, when given)."""
    cached = getattr(state, "web_freshness", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < FRESHNESS_MAX_AGE_SECONDS:
        return list(cached[1])
    health = ingest_health.source_health(session, config.sources, utc_now(), settings=settings)
    if state is not None:
        state.web_freshness = (now, tuple(health))
    return health
