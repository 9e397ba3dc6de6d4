"""The whole flow, as one job: ingest -> observations -> scoring -> alerting -> notify (outbox).

This module owns the transactions: each ingest run commits on its own (so one broken source
cannot undo another), and scoring, alert evaluation and the outbox commit together, so an
alert is never visible without its outbox rows or the score that raised it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.evaluation import country_inputs, evaluate_alerts
from earlywarn.alerting.models import AlertEventKind
from earlywarn.alerting.rules import RunRef, SourceHealth, history_runs_needed
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.forecasting.lifecycle import database_registry, ensure_model
from earlywarn.forecasting.repository import forecasts_for_run
from earlywarn.forecasting.service import ForecastOutcome, store_forecasts
from earlywarn.framework import repository as framework_repository
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import SourceHealthRule
from earlywarn.framework.models import WeightSet
from earlywarn.framework.service import sync_configuration
from earlywarn.ingest import health as ingest_health
from earlywarn.ingest.service import ingest_configured_sources
from earlywarn.notify.alert_events import hand_over
from earlywarn.observations.models import IngestRun
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring.history_run import score_history
from earlywarn.scoring.models import ScoreRun
from earlywarn.scoring.service import record_failed_run, run_scoring
from earlywarn.settings import Settings, get_settings
from earlywarn.weights.service import active_for_scoring

log = logging.getLogger(__name__)

# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that keeps two scoring
# runs (the scheduler and a command line, or two replicas) from interleaving.
_SCORING_LOCK_KEY = 0x6561726C7977726E  # "earlywrn"

Progress = Callable[[str], None]


class PipelineBusyError(RuntimeError):
    """Another scoring run holds the lock; this one did nothing."""


@dataclass
class ScoringSummary:
    score_run_id: int
    as_of: date
    countries_rated: int
    countries_with_data: int
    alerts_opened: int
    alerts_escalated: int
    alerts_deescalated: int
    alerts_resolved: int
    outbox_messages: int
    forecasts_stored: int = 0
    forecast_model_version: str | None = None
    forecast_skipped_reason: str | None = None
    alerts_skipped_reason: str | None = None


@dataclass
class PipelineResult:
    ingest_runs: list[IngestRun] = field(default_factory=list)
    scoring: ScoringSummary | None = None


def prepare_database(factory: sessionmaker[Session], config: Configuration) -> int:
    """Seed the country crosswalk and mirror the configuration; returns the id of the active
    weight set (new weights in the configuration become active; otherwise the set an
    administrator applied through the API stays)."""
    with session_scope(factory) as session:
        seed_countries(session)
        return active_for_scoring(session, sync_configuration(session, config)).id


def _take_scoring_lock(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite serialises writers itself
    acquired = session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _SCORING_LOCK_KEY}
    ).scalar_one()
    if not acquired:
        raise PipelineBusyError("another scoring run is in progress; try again when it ends")


def _forecast(
    session: Session, score_run_id: int, models_dir: Path | None, as_of: date
) -> ForecastOutcome:
    """Store onset probabilities beside the scores, in a savepoint: a missing or broken model
    is logged and skipped, and never costs the run its scores and alerts."""
    if models_dir is None:
        reason = "no models directory configured"
        log.info("forecasting skipped: %s", reason)
        return ForecastOutcome(stored=0, data_year=None, model_version="", skipped_reason=reason)
    try:
        registry = database_registry(session, models_dir)
        with session.begin_nested():
            # First run with training data: trains and promotes a model (logged as it goes).
            bundle = ensure_model(session, registry)
            outcome = store_forecasts(session, score_run_id, bundle, as_of=as_of)
    except Exception as exc:  # a model is data from disk: any failure means "no forecast"
        reason = f"forecasting failed: {type(exc).__name__}: {exc}"
        log.warning("forecasting skipped: %s", reason)
        return ForecastOutcome(stored=0, data_year=None, model_version="", skipped_reason=reason)
    if outcome.skipped_reason:
        log.info("forecasting skipped: %s", outcome.skipped_reason)
    return outcome


def _newer_run(session: Session, run: ScoreRun) -> ScoreRun | None:
    """The newest successful run dated after ``run``, if any."""
    newest = scoring_repository.latest_successful_run(session)
    return newest if newest is not None and newest.as_of > run.as_of else None


def score_and_alert(
    factory: sessionmaker[Session],
    config: Configuration,
    *,
    as_of: date | None = None,
    max_ingest_run_id: int | None = None,
    weight_set_id: int | None = None,
    vintage_as_of: datetime | None = None,
    models_dir: Path | None = None,
    settings: Settings | None = None,
) -> ScoringSummary:
    """Score every country, forecast, evaluate alerts and fill the outbox, in one transaction.

    Alerts and forecasts are made only when ``as_of`` is not older than the newest
    successful run's date; an older date is scored and stored, flagged as not evaluated.

    On failure nothing of it is kept except a failed ``ScoreRun`` naming the error. A caller
    that has just run ``prepare_database`` passes the weight set it returned. ``settings``
    locates ``sources.yaml`` and the source credentials for the operational source-health
    rule (the environment's settings when omitted).
    """
    as_of = as_of or datetime.now(UTC).date()
    settings = settings or get_settings()
    if weight_set_id is None:
        weight_set_id = prepare_database(factory, config)
    try:
        with session_scope(factory) as session:
            _take_scoring_lock(session)
            weight_set = session.get_one(WeightSet, weight_set_id)
            outcome = run_scoring(
                session,
                config,
                weight_set,
                as_of=as_of,
                max_ingest_run_id=max_ingest_run_id,
                vintage_as_of=vintage_as_of,
            )
            newer = _newer_run(session, outcome.run)
            if newer is not None:
                # A past date scored after a newer one is a backfill, not news: evaluating
                # it would open or resolve live alerts on old data, and a model trained on
                # later data would "forecast" a past it has seen.
                outcome.run.alerts_evaluated = False
                session.flush()
                skipped = (
                    f"run {outcome.run.id} is as of {as_of}, older than run {newer.id} "
                    f"(as of {newer.as_of}): alerts and forecasts are only made for the newest date"
                )
                log.info("%s", skipped)
                return ScoringSummary(
                    score_run_id=outcome.run.id,
                    as_of=as_of,
                    countries_rated=outcome.rated,
                    countries_with_data=len(outcome.results),
                    alerts_opened=0,
                    alerts_escalated=0,
                    alerts_deescalated=0,
                    alerts_resolved=0,
                    outbox_messages=0,
                    forecast_skipped_reason=skipped,
                    alerts_skipped_reason=skipped,
                )
            forecast = _forecast(session, outcome.run.id, models_dir, as_of)
            scores = scoring_repository.scores_for_run(session, outcome.run.id)
            probabilities = {
                iso3: (f.probability_1y, f.probability_2y)
                for iso3, f in forecasts_for_run(session, outcome.run.id).items()
            }
            inputs = country_inputs(
                session,
                outcome.run,
                scores,
                history_runs=history_runs_needed(config.alerting.rules),
                onset_probabilities=probabilities,
            )
            evaluation = evaluate_alerts(
                session,
                config,
                RunRef(outcome.run.id, outcome.run.as_of),
                inputs,
                _source_health(session, config, settings),
            )
            # In this transaction: an alert is never visible without its outbox rows.
            messages = hand_over(
                session,
                config.alerting.escalation,
                evaluation.updates,
                max_priority_actions=config.action_map.priority.max_actions,
            )
            return ScoringSummary(
                score_run_id=outcome.run.id,
                as_of=as_of,
                countries_rated=outcome.rated,
                countries_with_data=len(outcome.results),
                alerts_opened=evaluation.count(AlertEventKind.OPENED),
                alerts_escalated=evaluation.count(AlertEventKind.ESCALATED),
                alerts_deescalated=evaluation.count(AlertEventKind.DEESCALATED),
                alerts_resolved=evaluation.count(AlertEventKind.RESOLVED),
                outbox_messages=messages,
                forecasts_stored=forecast.stored,
                forecast_model_version=forecast.model_version or None,
                forecast_skipped_reason=forecast.skipped_reason,
            )
    except PipelineBusyError:
        raise
    except Exception as exc:
        log.exception("scoring run failed")
        with session_scope(factory) as session:
            record_failed_run(
                session, config, weight_set_id, as_of=as_of, error=f"{type(exc).__name__}: {exc}"
            )
        raise


class BackfillError(ValueError):
    """A history backfill was refused before anything was written; the message says why."""


@dataclass(frozen=True)
class BackfilledRun:
    score_run_id: int
    as_of: date
    countries_rated: int


@dataclass(frozen=True)
class BackfillSummary:
    weight_set_id: int
    weight_set_version: int
    methodology_version: str
    runs: list[BackfilledRun]
    seconds: dict[str, float]


def history_dates(from_year: int, to_year: int, *, today: date) -> list[date]:
    """The year ends a backfill scores, checked: a year that has not ended yet is refused
    (the current state is what ``earlywarn score`` is for)."""
    last_complete = today.year if today >= date(today.year, 12, 31) else today.year - 1
    if from_year > to_year:
        raise BackfillError(f"--from-year {from_year} is after --to-year {to_year}")
    if from_year < 1:
        raise BackfillError(f"--from-year must be a year from 1 on, got {from_year}")
    if to_year > last_complete:
        raise BackfillError(
            f"--to-year {to_year} has not ended (today is {today}); the latest year a backfill "
            f"can score is {last_complete}: score the current state with `earlywarn score`"
        )
    return [date(year, 12, 31) for year in range(from_year, to_year + 1)]


def backfill_history(
    factory: sessionmaker[Session],
    config: Configuration,
    *,
    from_year: int,
    to_year: int,
    weight_set_id: int | None = None,
    vintage_as_of: datetime | None = None,
    again: bool = False,
    today: date | None = None,
) -> BackfillSummary:
    """Score the 31 December of every year from ``from_year`` to ``to_year`` under one weight
    set (the active one by default) in one pass (``scoring.history_run.score_history``), in one
    transaction: all the runs are written, or none.

    No alert is evaluated, nothing is forecast and nothing is notified: the runs are flagged
    ``alerts_evaluated = False``, so alert rules never read them either. Dates that already
    have a successful run under the same weight set and methodology version are refused
    unless ``again`` (the new runs then stand beside the old ones; "latest" at a date is the
    run created last). Runs under other weight sets never conflict: a history recomputed
    under another set is told apart by its weight set.
    """
    dates = history_dates(from_year, to_year, today=today or datetime.now(UTC).date())
    active_id = prepare_database(factory, config)
    with session_scope(factory) as session:
        _take_scoring_lock(session)
        chosen_id = active_id if weight_set_id is None else weight_set_id
        weight_set = session.get(WeightSet, chosen_id)
        if weight_set is None:
            known = ", ".join(str(w.id) for w in framework_repository.list_weight_sets(session))
            raise BackfillError(f"no weight set {chosen_id} (known: {known or 'none'})")
        methodology = config.scoring.methodology_version
        existing = scoring_repository.successful_runs_on(
            session, dates, weight_set_id=weight_set.id, methodology_version=methodology
        )
        if existing and not again:
            listed = ", ".join(f"{d} (run {i})" for i, d in existing[:5])
            more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
            raise BackfillError(
                f"{len(existing)} of these dates already have a run under weight set "
                f"{weight_set.id} and methodology {methodology}: {listed}{more}; pass --again "
                "to add new runs beside them (the old ones stay)"
            )
        seconds: dict[str, float] = {}
        runs = score_history(
            session,
            config,
            weight_set,
            dates=dates,
            vintage_as_of=vintage_as_of,
            timings=seconds,
        )
        return BackfillSummary(
            weight_set_id=weight_set.id,
            weight_set_version=weight_set.version,
            methodology_version=methodology,
            runs=[BackfilledRun(r.id, r.as_of, r.countries_scored) for r in runs],
            seconds=seconds,
        )


def _source_health(
    session: Session, config: Configuration, settings: Settings
) -> list[SourceHealth]:
    """Each source's state as ``/sources`` reports it (cadence and ``max_age_days`` from
    sources.yaml), for the operational rule; nothing is read when no such rule exists."""
    if not any(isinstance(r, SourceHealthRule) for r in config.alerting.rules):
        return []
    return [
        SourceHealth(h.source_id, str(h.state), h.reason)
        for h in ingest_health.source_health(session, config.sources, utc_now(), settings=settings)
    ]


def run_pipeline(
    factory: sessionmaker[Session],
    settings: Settings,
    config: Configuration,
    *,
    ingest: bool = True,
    as_of: date | None = None,
    trigger: str = "cli",
    progress: Progress | None = None,
    client: httpx.Client | None = None,
    skip_own_schedule: bool = False,
) -> PipelineResult:
    """One full cycle. A failed source is recorded on its run and does not stop scoring.
    ``skip_own_schedule`` leaves out sources that have a ``schedule`` of their own in
    sources.yaml (the scheduler runs those as separate jobs)."""
    report = progress or (lambda _step: None)
    result = PipelineResult()
    report("preparing database")
    weight_set_id = prepare_database(factory, config)
    if ingest:
        report("ingesting configured sources")
        result.ingest_runs = ingest_configured_sources(
            factory,
            settings,
            config,
            sources=config.sources,
            trigger=trigger,
            client=client,
            skip_own_schedule=skip_own_schedule,
        )
    report("scoring countries, forecasting and evaluating alerts")
    result.scoring = score_and_alert(
        factory,
        config,
        as_of=as_of,
        weight_set_id=weight_set_id,
        models_dir=settings.models_dir,
        settings=settings,
    )
    report("done")
    return result
