"""Each source's freshness, from its runs: what ``/sources`` shows and the operational alert
reads. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from earlywarn.framework.sources_schemas import ScheduledSourceConfig, SourcesConfig
from earlywarn.ingest import repository
from earlywarn.ingest.registry import CONNECTORS, KNOWN_SOURCES
from earlywarn.ingest.runs import MAX_ERROR_CHARS
from earlywarn.observations.models import IngestRun, RunStatus, Source
from earlywarn.settings import Settings


@dataclass(frozen=True)
class SourceStatus:
    source: Source
    last_run: IngestRun | None
    last_success: IngestRun | None
    last_failure: IngestRun | None


def source_statuses(session: Session) -> list[SourceStatus]:
    latest = repository.latest_run_ids(session)
    runs = repository.runs_by_id(session, latest.values())
    result = []
    for source in repository.list_sources(session):

        def pick(*statuses: RunStatus | None, source_id: str = source.id) -> IngestRun | None:
            ids = [latest[(source_id, s)] for s in statuses if (source_id, s) in latest]
            return runs[max(ids)] if ids else None

        result.append(
            SourceStatus(
                source=source,
                last_run=pick(None),
                # An unchanged run checked the source successfully and found nothing new.
                last_success=pick(RunStatus.SUCCEEDED, RunStatus.UNCHANGED),
                last_failure=pick(RunStatus.FAILED),
            )
        )
    return result


class HealthState(StrEnum):
    HEALTHY = "healthy"
    STALE = "stale"  # the last success is older than max_age_days
    FAILING = "failing"  # the most recent finished run failed
    NEVER_RUN = "never_run"
    NOT_CONFIGURED = "not_configured"  # enabled, but credentials are missing
    DISABLED = "disabled"


@dataclass(frozen=True)
class SourceHealth:
    """One source's freshness, as ``/sources`` shows it and the operational alert reads it.

    ``vintage_run_id`` is the run whose load is the newest data (the last ``succeeded`` run);
    ``rows`` counts the values that run's payload held (loaded + unchanged); ``observations``
    counts every stored vintage row of the source.
    """

    source_id: str
    name: str
    state: HealthState
    reason: str
    enabled: bool
    schedule: str | None
    max_age_days: int | None
    last_run: IngestRun | None
    last_success: IngestRun | None
    last_failure: IngestRun | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    age_days: float | None
    rows: int
    observations: int
    vintage_run_id: int | None
    vintage_at: datetime | None
    missing_settings: tuple[str, ...] = ()


def source_health(
    session: Session,
    sources_config: SourcesConfig,
    now: datetime,
    *,
    settings: Settings | None = None,
) -> list[SourceHealth]:
    """Health of every source named in ``sources.yaml`` or present in the database, by id.

    Pure: reads the database, never writes. ``settings``, when given, lets a source whose
    credentials are missing show as ``not_configured``; without it that state is not judged.
    The order of precedence is not_configured, disabled, never_run, failing, stale, healthy:
    a failing source is reported as failing even when it is also stale, because the failure
    is the cause to fix.
    """
    configured = sources_config.scheduled_sources()
    statuses = {status.source.id: status for status in source_statuses(session)}
    vintages = _vintages(session)
    counts = repository.observation_counts_by_source(session)
    return [
        _health(
            source_id,
            configured.get(source_id),
            statuses.get(source_id),
            now,
            missing=_missing_settings(source_id, settings),
            vintage=vintages.get(source_id),
            observations=counts.get(source_id, 0),
        )
        for source_id in sorted(set(configured) | set(statuses))
    ]


def _vintages(session: Session) -> dict[str, IngestRun]:
    """Each source's last ``succeeded`` run: the one whose load is its newest data."""
    vintage_ids = {
        source_id: run_id
        for (source_id, status), run_id in repository.latest_run_ids(session).items()
        if status == RunStatus.SUCCEEDED
    }
    runs = repository.runs_by_id(session, vintage_ids.values())
    return {source_id: runs[run_id] for source_id, run_id in vintage_ids.items() if run_id in runs}


def _missing_settings(source_id: str, settings: Settings | None) -> tuple[str, ...]:
    connector = CONNECTORS.get(source_id)
    if settings is None or connector is None:
        return ()
    return tuple(connector.missing_settings(settings))


def _health(
    source_id: str,
    entry: ScheduledSourceConfig | None,
    status: SourceStatus | None,
    now: datetime,
    *,
    missing: tuple[str, ...],
    vintage: IngestRun | None,
    observations: int,
) -> SourceHealth:
    if status is None:
        definition = KNOWN_SOURCES.get(source_id)
        name = definition.name if definition is not None else source_id
        last_run = last_success = last_failure = None
    else:
        name = status.source.name
        last_run, last_success, last_failure = (
            status.last_run,
            status.last_success,
            status.last_failure,
        )
    state, reason = _judge(entry, missing, last_success, last_failure, now)
    return SourceHealth(
        source_id=source_id,
        name=name,
        state=state,
        reason=reason[:MAX_ERROR_CHARS],
        enabled=entry is not None and entry.enabled,
        schedule=entry.schedule if entry is not None else None,
        max_age_days=entry.max_age_days if entry is not None else None,
        last_run=last_run,
        last_success=last_success,
        last_failure=last_failure,
        last_success_at=_finished(last_success),
        last_failure_at=_finished(last_failure),
        last_error=last_failure.error if last_failure is not None else None,
        age_days=_age_days(last_success, now),
        rows=last_success.rows_loaded + last_success.rows_unchanged
        if last_success is not None
        else 0,
        observations=observations,
        vintage_run_id=vintage.id if vintage is not None else None,
        vintage_at=_finished(vintage),
        missing_settings=missing,
    )


def _judge(
    entry: ScheduledSourceConfig | None,
    missing: tuple[str, ...],
    last_success: IngestRun | None,
    last_failure: IngestRun | None,
    now: datetime,
) -> tuple[HealthState, str]:
    """The state and its reason, in the precedence ``source_health`` documents."""
    if entry is None:
        return HealthState.DISABLED, "not in sources.yaml"
    if not entry.enabled:
        return HealthState.DISABLED, "enabled: false in sources.yaml"
    if missing:
        return HealthState.NOT_CONFIGURED, f"set {', '.join(missing)}"
    if last_success is None and last_failure is None:
        return HealthState.NEVER_RUN, "no finished run yet"
    success_at, failure_at = _finished(last_success), _finished(last_failure)
    if failure_at is not None and (success_at is None or failure_at >= success_at):
        return HealthState.FAILING, f"last run failed: {last_failure.error if last_failure else ''}"
    age_days = _age_days(last_success, now)
    if age_days is not None and age_days > entry.max_age_days:
        return (
            HealthState.STALE,
            f"last success {age_days:.1f} days ago, more than max_age_days {entry.max_age_days}",
        )
    return HealthState.HEALTHY, "last run succeeded within max_age_days"


def _age_days(last_success: IngestRun | None, now: datetime) -> float | None:
    success_at = _finished(last_success)
    return (now - success_at).total_seconds() / 86_400 if success_at else None


def _finished(run: IngestRun | None) -> datetime | None:
    if run is None:
        return None
    return run.finished_at or run.started_at
