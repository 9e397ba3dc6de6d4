"""Shapes passed between importers and the run orchestration, the API views of sources and runs,
and the validated form of ``config/sources.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from earlywarn.ingest.models import RunStatus

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
    """

    records: list[ObservationRecord]
    content_digest: str
    source_uri: str | None
    rows_read: int
    rows_skipped: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    raw: list[RawPayload] = field(default_factory=list)


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


# --- config/sources.yaml ---------------------------------------------------------------------


class _StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduledSourceConfig(_StrictConfig):
    """What every source entry has: whether it runs, when (a UTC crontab, used by the scheduler
    in ``earlywarn serve``), and how old its last successful load may grow before ``/sources``
    calls it stale. ``schedule: null`` leaves the source to the daily pipeline run only."""

    enabled: bool = True
    schedule: str | None = None
    max_age_days: int = Field(default=30, ge=1, le=3660)

    @field_validator("schedule")
    @classmethod
    def _valid_crontab(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value.split()) != 5:
            raise ValueError(
                f"schedule must have 5 fields (min hour day month weekday), got {value!r}"
            )
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"schedule {value!r} is not a valid crontab: {exc}") from None
        return value


class _YearWindow(ScheduledSourceConfig):
    """Either a rolling window (``years_back``) or fixed years (``start_year``[, ``end_year``])."""

    years_back: int | None = Field(default=None, ge=0, le=100)
    start_year: int | None = Field(default=None, ge=1946, le=2200)
    end_year: int | None = Field(default=None, ge=1946, le=2200)

    @model_validator(mode="after")
    def _one_window(self) -> _YearWindow:
        if self.years_back is None and self.start_year is None:
            raise ValueError("give either years_back or start_year")
        if self.years_back is not None and (
            self.start_year is not None or self.end_year is not None
        ):
            raise ValueError("years_back cannot be combined with start_year/end_year")
        if (
            self.start_year is not None
            and self.end_year is not None
            and self.end_year < self.start_year
        ):
            raise ValueError(f"end_year ({self.end_year}) is before start_year ({self.start_year})")
        return self

    def year_range(self, current_year: int) -> tuple[int, int]:
        if self.years_back is not None:
            return current_year - self.years_back, current_year
        assert self.start_year is not None  # guaranteed by _one_window
        return self.start_year, self.end_year if self.end_year is not None else current_year


FileFormat = Literal["csv", "ewp", "vdem", "pts", "epr"]


class WorldBankSourceConfig(_YearWindow):
    start_year: int | None = Field(default=None, ge=1960, le=2200)
    end_year: int | None = Field(default=None, ge=1960, le=2200)


class UcdpSourceConfig(_YearWindow):
    """GED events of one yearly release (``version``, e.g. "25.1") and, for the months after it,
    optionally a Candidate release (``candidate_version``, e.g. "25.0.10"). Events of the
    Candidate release are only used for years the yearly release does not cover."""

    version: str = Field(default="25.1", pattern=r"^\d{2}\.\d+$")
    candidate_version: str | None = Field(default=None, pattern=r"^\d{2}\.0?\d+(\.\d+)+$")
    page_size: int = Field(default=1000, ge=1, le=1000)


class AcledSourceConfig(_YearWindow):
    """ACLED events over whole years, aggregated to country-month and country-year values.
    ``countries`` limits the query to ISO3 codes (empty: every country the account may read)."""

    countries: list[str] = Field(default_factory=list)
    page_size: int = Field(default=5000, ge=1, le=50_000)

    @field_validator("countries")
    @classmethod
    def _iso3(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.fullmatch(r"[A-Z]{3}", code)]
        if bad:
            raise ValueError(f"countries must be upper-case ISO3 codes, got {bad}")
        return value


class GdeltSourceConfig(ScheduledSourceConfig):
    """Monthly article counts of the GDELT DOC API for each query and country. GDELT allows one
    request every five seconds, so each (query, country) pair costs at least five seconds: keep
    ``countries`` to the ones being watched."""

    countries: list[str] = Field(default_factory=list)
    queries: dict[str, str] = Field(default_factory=dict)
    months_back: int = Field(default=3, ge=1, le=3)
    min_interval_seconds: float = Field(default=5.0, ge=5.0)

    @field_validator("countries")
    @classmethod
    def _iso3(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.fullmatch(r"[A-Z]{3}", code)]
        if bad:
            raise ValueError(f"countries must be upper-case ISO3 codes, got {bad}")
        return value

    @field_validator("queries")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not re.fullmatch(r"[a-z][a-z0-9_]*", name)]
        if bad:
            raise ValueError(f"query names must be lower_snake_case, got {bad}")
        return value


class FileSourceConfig(ScheduledSourceConfig):
    """A file loaded on every run. A relative ``path`` is resolved against the directory of
    ``sources.yaml``, so the configuration does not depend on the working directory.

    ``url`` (V-Dem, PTS, EPR) downloads the file on every run instead; a zip holding one
    country-year CSV is read as that CSV. ``variables`` (V-Dem only) replaces the default list
    of V-Dem columns read; ``start_year`` (V-Dem and EPR) leaves out earlier years."""

    path: Path | None = None
    url: str | None = Field(default=None, pattern=r"^https?://")
    format: FileFormat
    max_age_days: int = Field(default=400, ge=1, le=3660)
    variables: list[str] | None = Field(default=None, min_length=1)
    start_year: int | None = Field(default=None, ge=1800, le=2200)

    @model_validator(mode="after")
    def _options_fit_the_format(self) -> FileSourceConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give either path or url")
        if self.url is not None and self.format not in ("vdem", "pts", "epr"):
            raise ValueError("url can only be given for formats vdem, pts and epr")
        if self.variables is not None and self.format != "vdem":
            raise ValueError("variables can only be given for format vdem")
        if self.start_year is not None and self.format not in ("vdem", "epr"):
            raise ValueError("start_year can only be given for formats vdem and epr")
        return self


class UnhcrSourceConfig(_YearWindow):
    """The UNHCR population API over a window of years (same rules as the World Bank's)."""


ReliefWebContent = Literal["disasters", "reports"]


class ReliefWebSourceConfig(_YearWindow):
    """ReliefWeb counts over a window of years (same rules as the World Bank's); ``content``
    lists what is counted: ``disasters`` (by event date) and/or ``reports`` (by original
    publication date; many requests, mind the 1,000 calls a day per appname)."""

    content: tuple[ReliefWebContent, ...] = Field(default=("disasters",), min_length=1)


SdgSeries = Literal["VC_VAW_MTUHRA", "VC_VOC_ENFDIS"]


class SdgSourceConfig(_YearWindow):
    """Series of the UN SDG database (indicator 16.10.1) over a window of years."""

    series: tuple[SdgSeries, ...] = Field(default=("VC_VAW_MTUHRA", "VC_VOC_ENFDIS"), min_length=1)
    page_size: int = Field(default=1000, ge=1, le=10_000)


class SourcesConfig(_StrictConfig):
    worldbank: WorldBankSourceConfig | None = None
    ucdp: UcdpSourceConfig | None = None
    acled: AcledSourceConfig | None = None
    gdelt: GdeltSourceConfig | None = None
    unhcr: UnhcrSourceConfig | None = None
    reliefweb: ReliefWebSourceConfig | None = None
    sdg: SdgSourceConfig | None = None
    files: dict[str, FileSourceConfig] = Field(default_factory=dict)

    def api_sources(self) -> dict[str, ScheduledSourceConfig]:
        """Source id -> entry, for every API source present in the file (enabled or not)."""
        found: dict[str, ScheduledSourceConfig] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, ScheduledSourceConfig):
                found[name] = value
        return found

    def scheduled_sources(self) -> dict[str, ScheduledSourceConfig]:
        """Source id -> entry for health checks: the API sources, and each file format's entry
        (the file with the most generous ``max_age_days`` when several share a format)."""
        found = self.api_sources()
        for entry in self.files.values():
            current = found.get(entry.format)
            if current is None or (entry.enabled and entry.max_age_days > current.max_age_days):
                found[entry.format] = entry
        return found
