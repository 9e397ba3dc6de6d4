"""Shapes passed between importers and the run orchestration, and the API views of sources and
runs. The validated form of ``config/sources.yaml`` is framework's (``framework.sources_schemas``):
every configuration file is read once, at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from earlywarn.observations.models import RunStatus

# "<namespace>.<name>": the namespace says where a value comes from (ewp, wb, acled...).
VARIABLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_.]+$")


class ObservationRecord(NamedTuple):
    """One parsed value, not yet tied to a run. ``period`` is "2024", "2024-03" or "2024-03-05".

    A named tuple rather than a frozen dataclass: a large load builds a million of them, and a
    tuple is created about three times faster while reading the same.
    """

    iso3: str
    variable: str
    period: str
    period_start: date
    period_end: date
    value: float

    @classmethod
    def for_year(cls, iso3: str, variable: str, year: int, value: float) -> ObservationRecord:
        return cls(iso3, variable, f"{year:04d}", date(year, 1, 1), date(year, 12, 31), value)


@dataclass(frozen=True, slots=True)
class RawPayload:
    """One body exactly as a source delivered it, kept for the provenance archive.

    ``url`` is already redacted (no credentials); ``retrieved_at`` is when it arrived (UTC).
    """

    url: str | None
    content: bytes
    content_type: str
    retrieved_at: datetime


@dataclass(frozen=True)
class LoadedPayload:
    """What an importer hands to ``run_ingest``: every accepted value plus the bookkeeping.

    ``content_digest`` is the SHA-256 of the raw bytes as received, so an identical re-delivery
    is recognised before any row is compared. ``source_uri`` never carries credentials.
    ``details`` explains ``rows_skipped`` (reason -> count, and examples where useful).
    ``raw`` holds the bodies as received (archived by ``run_ingest``); file importers that
    leave it empty get their file archived from ``source_uri`` when it is a local path.
    ``zero_filled`` are the zeros of covered periods without events (``ingest.zero_fill``):
    stored only where no value is stored yet, under the source id marked as a zero-fill.
    """

    records: list[ObservationRecord]
    content_digest: str
    source_uri: str | None
    rows_read: int
    rows_skipped: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    raw: list[RawPayload] = field(default_factory=list)
    zero_filled: list[ObservationRecord] = field(default_factory=list)


# --- API views -------------------------------------------------------------------------------


class IngestRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source_id: str
    status: RunStatus
    trigger: str
    source_uri: str | None
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    content_digest: str | None
    rows_read: int
    rows_loaded: int
    rows_unchanged: int
    rows_skipped: int
    details: dict[str, Any]


class SourceStatusRead(BaseModel):
    id: str
    name: str
    kind: str | None
    url: str | None
    licence: str | None
    state: Literal[
        "healthy", "stale", "failing", "never_run", "not_configured", "disabled", "imported"
    ] = Field(description="Freshness: see the README, section 'Freshness and health'.")
    reason: str = Field(description="Why the source is in this state.")
    enabled: bool
    schedule: str | None = Field(description="UTC crontab of the source's own schedule.")
    max_age_days: int | None
    age_days: float | None = Field(description="Days since the last successful run finished.")
    last_success_at: datetime | None
    last_failure_at: datetime | None
    rows: int = Field(description="Values in the last successful payload (loaded + unchanged).")
    observations: int = Field(description="Stored observation rows (every vintage).")
    vintage_run_id: int | None = Field(description="The run whose load is the newest data.")
    vintage_at: datetime | None
    missing_settings: list[str]
    last_run: IngestRunRead | None
    last_success: IngestRunRead | None
    last_failure: IngestRunRead | None
    last_error: str | None = Field(description="Error of the most recent failed run, if any.")


class ArchivedPayloadRead(BaseModel):
    """Provenance of one raw body a run received (the bytes are kept in the database)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ingest_run_id: int
    sequence: int
    url: str | None
    content_type: str
    retrieved_at: datetime
    sha256: str
    size_bytes: int
    compression: str
    compressed_bytes: int | None
    stored_in_id: int | None
