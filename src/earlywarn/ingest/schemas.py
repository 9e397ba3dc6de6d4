"""Shapes passed between importers and the run orchestration, the API views of sources and runs,
and the validated form of ``config/sources.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from earlywarn.ingest.models import RunStatus

# "<namespace>.<name>": the namespace says where a value comes from (ewp, wb, acled...).
VARIABLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_.]+$")


@dataclass(frozen=True, slots=True)
class ObservationRecord:
    """One parsed value, not yet tied to a run. ``period`` is "2024", "2024-03" or "2024-03-05"."""

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
    kind: str
    url: str | None
    licence: str | None
    last_run: IngestRunRead | None
    last_success: IngestRunRead | None
    last_failure: IngestRunRead | None
    last_error: str | None = Field(description="Error of the most recent failed run, if any.")


# --- config/sources.yaml ---------------------------------------------------------------------


class _StrictConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorldBankSourceConfig(_StrictConfig):
    """Either a rolling window (``years_back``) or fixed years (``start_year``[, ``end_year``])."""

    enabled: bool = True
    years_back: int | None = Field(default=None, ge=0, le=100)
    start_year: int | None = Field(default=None, ge=1960, le=2200)
    end_year: int | None = Field(default=None, ge=1960, le=2200)

    @model_validator(mode="after")
    def _one_window(self) -> WorldBankSourceConfig:
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


class FileSourceConfig(_StrictConfig):
    """A file loaded on every run. A relative ``path`` is resolved against the directory of
    ``sources.yaml``, so the configuration does not depend on the working directory.

    ``variables`` (V-Dem only) replaces the default list of V-Dem columns read; ``start_year``
    (V-Dem and EPR) leaves out earlier years."""

    enabled: bool = True
    path: Path
    format: FileFormat
    variables: list[str] | None = Field(default=None, min_length=1)
    start_year: int | None = Field(default=None, ge=1800, le=2200)

    @model_validator(mode="after")
    def _options_fit_the_format(self) -> FileSourceConfig:
        if self.variables is not None and self.format != "vdem":
            raise ValueError("variables can only be given for format vdem")
        if self.start_year is not None and self.format not in ("vdem", "epr"):
            raise ValueError("start_year can only be given for formats vdem and epr")
        return self


class UnhcrSourceConfig(WorldBankSourceConfig):
    """The UNHCR population API over a window of years (same rules as the World Bank's)."""


ReliefWebContent = Literal["disasters", "reports"]


class ReliefWebSourceConfig(WorldBankSourceConfig):
    """ReliefWeb counts over a window of years (same rules as the World Bank's); ``content``
    lists what is counted: ``disasters`` (by event date) and/or ``reports`` (by original
    publication date; many requests, mind the 1,000 calls a day per appname)."""

    content: tuple[ReliefWebContent, ...] = Field(default=("disasters",), min_length=1)


class SourcesConfig(_StrictConfig):
    worldbank: WorldBankSourceConfig | None = None
    unhcr: UnhcrSourceConfig | None = None
    reliefweb: ReliefWebSourceConfig | None = None
    files: dict[str, FileSourceConfig] = Field(default_factory=dict)
