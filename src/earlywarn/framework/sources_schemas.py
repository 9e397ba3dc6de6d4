"""The validated form of ``config/sources.yaml``: which sources run, when, over which years, and
which files are loaded. Read once at start-up with the other configuration files
(``framework.config.load_configuration``); the ingest stage only reads the loaded object."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from earlywarn.framework.zero_fill_schemas import AcledZeroFill, UcdpZeroFill


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


FileFormat = Literal["csv", "ewp", "vdem", "pts", "epr", "coups"]


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
    zero_fill: UcdpZeroFill = Field(default_factory=UcdpZeroFill)


class AcledSourceConfig(_YearWindow):
    """ACLED events over whole years, aggregated to country-month and country-year values.
    ``countries`` limits the query to ISO3 codes (empty: every country the account may read)."""

    countries: list[str] = Field(default_factory=list)
    page_size: int = Field(default=5000, ge=1, le=50_000)
    # Empty by default: ACLED's coverage dates are the administrator's to keep current.
    zero_fill: AcledZeroFill = Field(default_factory=AcledZeroFill)

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
        if self.url is not None and self.format not in ("vdem", "pts", "epr", "coups"):
            raise ValueError("url can only be given for formats vdem, pts, epr and coups")
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


SdgSeries = Literal["VC_VAW_MTUHRA", "VC_VOC_ENFDIS", "SG_NHR_IMPLN"]


class SdgSourceConfig(_YearWindow):
    """Series of the UN SDG database (16.10.1 attacks on defenders, 16.a.1 A-status national
    human-rights institutions) over a window of years."""

    series: tuple[SdgSeries, ...] = Field(
        default=("VC_VAW_MTUHRA", "VC_VOC_ENFDIS", "SG_NHR_IMPLN"), min_length=1
    )
    page_size: int = Field(default=1000, ge=1, le=10_000)


UntcTreaty = Literal["iccpr", "iccpr_op1", "cat", "genocide", "rome_statute"]


class UntcSourceConfig(ScheduledSourceConfig):
    """Status tables of the UN Treaty Collection: which treaties, and the first year written
    (every year from it to the current one gets a 0/1 party value per country)."""

    treaties: tuple[UntcTreaty, ...] = Field(
        default=("iccpr", "iccpr_op1", "cat", "genocide", "rome_statute"), min_length=1
    )
    start_year: int = Field(default=1990, ge=1946, le=2200)


class SourcesConfig(_StrictConfig):
    worldbank: WorldBankSourceConfig | None = None
    ucdp: UcdpSourceConfig | None = None
    acled: AcledSourceConfig | None = None
    gdelt: GdeltSourceConfig | None = None
    unhcr: UnhcrSourceConfig | None = None
    reliefweb: ReliefWebSourceConfig | None = None
    sdg: SdgSourceConfig | None = None
    untc: UntcSourceConfig | None = None
    files: dict[str, FileSourceConfig] = Field(default_factory=dict)
    # The scheduler's record of finished job runs (job_runs) older than this is deleted by its
    # daily maintenance job; each job's latest run and any running one are always kept.
    job_runs_retention_days: int = Field(default=90, ge=1, le=3660)

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
