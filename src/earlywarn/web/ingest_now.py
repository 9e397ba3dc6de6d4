"""What the sources page needs to start a source's ingest now and show how it went.

The pages sit below the composition root, which alone knows the scheduler's job function and
its ``job_runs`` record: it puts an ``IngestStarter`` on ``app.state.ingest_now``
(``earlywarn.app.ingest_now``) and the page talks to that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from earlywarn.ingest.health import SourceHealth
from earlywarn.observations.models import IngestRun


@dataclass(frozen=True)
class OnDemandRun:
    """The last "Ingest now" of a source, from its ``job_runs`` row."""

    status: str  # running, succeeded, failed, interrupted
    started_at: datetime
    finished_at: datetime | None
    error: str | None


class IngestRefusedError(Exception):
    """The source cannot be ingested now; the message says why (shown on the page)."""


class IngestStarter(Protocol):
    def start(self, source_id: str) -> bool:
        """Start the source's ingest in the background; ``False`` when one runs already.
        Raises ``IngestRefusedError`` for a source that cannot run."""
        ...

    def last_runs(self, source_ids: list[str]) -> dict[str, OnDemandRun]: ...


def why_not_runnable(health: SourceHealth) -> str | None:
    """Why the page offers no button for this source (``None``: it may run)."""
    if health.max_age_days is None:  # known from its data only
        return "Cannot run here: not in config/sources.yaml (load it with earlywarn import)."
    if not health.enabled:
        return "Cannot run: disabled in config/sources.yaml."
    if health.missing_settings:  # the Why column names the settings
        return "Cannot run until configured (see Why)."
    return None


@dataclass(frozen=True)
class IngestNowCell:
    """What the page's "Ingest now" column shows for one source."""

    runnable: bool
    reason: str | None = None  # why it cannot run
    run: OnDemandRun | None = None
    # The ingest run that the last on-demand run wrote (its rows), once it finished.
    ingest_run: IngestRun | None = None

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.status == "running"


def cells(health: list[SourceHealth], runs: dict[str, OnDemandRun]) -> dict[str, IngestNowCell]:
    result: dict[str, IngestNowCell] = {}
    for source in health:
        run = runs.get(source.source_id)
        written = source.last_run
        if run is None or run.status == "running" or written is None:
            written = None
        elif _naive(written.started_at) < _naive(run.started_at):
            written = None  # the last ingest run is older than the on-demand one
        reason = why_not_runnable(source)
        result[source.source_id] = IngestNowCell(reason is None, reason, run, written)
    return result


def _naive(moment: datetime) -> datetime:
    """SQLite hands back naive UTC times, PostgreSQL aware ones: compare them alike."""
    return moment.replace(tzinfo=None)
