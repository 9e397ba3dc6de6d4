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

import httpx
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import AlertEventKind
from earlywarn.alerting.rules import SourceHealth
from earlywarn.alerting.service import RunRef, country_inputs, evaluate_alerts
from earlywarn.alerting.sources import source_health
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.models import WeightSet
from earlywarn.framework.schemas import SourceHealthRule
from earlywarn.framework.service import sync_configuration
from earlywarn.ingest.models import IngestRun
from earlywarn.ingest.service import ingest_configured_sources
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring.service import record_failed_run, run_scoring
from earlywarn.settings import Settings

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


@dataclass
class PipelineResult:
    ingest_runs: list[IngestRun] = field(default_factory=list)
    scoring: ScoringSummary | None = None


def prepare_database(factory: sessionmaker[Session], config: Configuration) -> int:
    """Seed the country crosswalk and mirror the configuration; returns the weight-set id."""
    with session_scope(factory) as session:
        seed_countries(session)
        return sync_configuration(session, config).id


def _take_scoring_lock(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite serialises writers itself
    acquired = session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _SCORING_LOCK_KEY}
    ).scalar_one()
    if not acquired:
        raise PipelineBusyError("another scoring run is in progress; try again when it ends")


def score_and_alert(
    factory: sessionmaker[Session],
    config: Configuration,
    *,
    as_of: date | None = None,
    max_ingest_run_id: int | None = None,
    weight_set_id: int | None = None,
) -> ScoringSummary:
    """Score every country, evaluate alerts and fill the outbox, in one transaction.

    On failure nothing of it is kept except a failed ``ScoreRun`` naming the error. A caller
    that has just run ``prepare_database`` passes the weight set it returned.
    """
    as_of = as_of or datetime.now(UTC).date()
    if weight_set_id is None:
        weight_set_id = prepare_database(factory, config)
    try:
        with session_scope(factory) as session:
            _take_scoring_lock(session)
            weight_set = session.get_one(WeightSet, weight_set_id)
            outcome = run_scoring(
                session, config, weight_set, as_of=as_of, max_ingest_run_id=max_ingest_run_id
            )
            scores = scoring_repository.scores_for_run(session, outcome.run.id)
            # Forecasting, once wired, passes onset_probabilities=... built from
            # earlywarn.forecasting.repository.forecasts_for_run(session, outcome.run.id).
            inputs = country_inputs(session, outcome.run, scores)
            evaluation = evaluate_alerts(
                session,
                config,
                RunRef(outcome.run.id, outcome.run.as_of),
                inputs,
                _source_health(session, config),
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
                outbox_messages=evaluation.outbox_messages,
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


def _source_health(session: Session, config: Configuration) -> list[SourceHealth]:
    rules = [r for r in config.alerting.rules if isinstance(r, SourceHealthRule)]
    if not rules:
        return []
    stale_after_days = min(r.stale_after_days for r in rules)
    return source_health(session, utc_now(), stale_after_days=stale_after_days)


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
) -> PipelineResult:
    """One full cycle. A failed source is recorded on its run and does not stop scoring."""
    report = progress or (lambda _step: None)
    result = PipelineResult()
    report("preparing database")
    weight_set_id = prepare_database(factory, config)
    if ingest:
        report("ingesting configured sources")
        result.ingest_runs = ingest_configured_sources(
            factory, settings, config, trigger=trigger, client=client
        )
    report("scoring countries and evaluating alerts")
    result.scoring = score_and_alert(factory, config, as_of=as_of, weight_set_id=weight_set_id)
    report("done")
    return result
