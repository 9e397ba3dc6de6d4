"""The coverage rules of event-count sources (``zero_fill:`` under ``ucdp`` and ``acled`` in
``config/sources.yaml``): where and since when a source looks for events, so that a country
it covers and in which it found none reads zero rather than missing (docs/data-sources.md,
"Zero-fill"). Validated at start-up with the rest of the file."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The top level of UN M49, as the countries table has it (``countries.schemas.Region``; framework
# may not import countries, so a test keeps the two lists equal).
RegionName = Literal["Africa", "Americas", "Asia", "Europe", "Oceania"]
_ISO3 = re.compile(r"^[A-Z]{3}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_iso3(codes: list[str]) -> list[str]:
    bad = [code for code in codes if not _ISO3.match(code)]
    if bad:
        raise ValueError(f"countries must be upper-case ISO3 codes, got {bad}")
    return codes


class UcdpZeroFill(_Strict):
    """UCDP GED codes every state of the Gleditsch-Ward list from ``from_year``. ``also``
    adds places UCDP records events for outside that list (Gaza and the West Bank, coded to
    Israel and counted for PSE). ``first_year`` names states that joined the list after
    ``from_year``: their first full year."""

    enabled: bool = True
    from_year: int = Field(default=1989, ge=1946, le=2200)
    also: list[str] = Field(default_factory=lambda: ["PSE"])
    first_year: dict[str, int] = Field(default_factory=dict)

    @field_validator("also")
    @classmethod
    def _also(cls, value: list[str]) -> list[str]:
        return _check_iso3(value)

    @field_validator("first_year")
    @classmethod
    def _first_years(cls, value: dict[str, int]) -> dict[str, int]:
        _check_iso3(list(value))
        bad = {code: year for code, year in value.items() if not 1946 <= year <= 2200}
        if bad:
            raise ValueError(f"first_year must be years 1946-2200, got {bad}")
        return value

    def covers_from(self, iso3: str) -> int:
        return max(self.from_year, self.first_year.get(iso3, self.from_year))


class AcledCoverageEntry(_Strict):
    """One line of ACLED's coverage: a region (UN M49 top level) or a list of countries, and
    the first month (``since``, "YYYY-MM") ACLED codes them."""

    region: RegionName | None = None
    countries: list[str] = Field(default_factory=list)
    since: str

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        return _check_iso3(value)

    @field_validator("since")
    @classmethod
    def _month(cls, value: str) -> str:
        match = _MONTH.match(value)
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1990:
            raise ValueError(f"since must be a month 'YYYY-MM' from 1990, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_scope(self) -> AcledCoverageEntry:
        if (self.region is None) == (not self.countries):
            raise ValueError("each coverage entry names either a region or countries")
        return self

    @property
    def since_date(self) -> date:
        year, month = self.since.split("-")
        return date(int(year), int(month), 1)


class AcledZeroFill(_Strict):
    """ACLED's coverage, kept by the administrator from ACLED's coverage page (it grows: a
    region added there is missing here until added). A country entry wins over its region's."""

    enabled: bool = True
    coverage: list[AcledCoverageEntry] = Field(default_factory=list)

    def covered_since(self, iso3: str, region: str | None) -> date | None:
        """The first day ACLED covers the country, or ``None`` when it is not covered."""
        for entry in self.coverage:
            if iso3 in entry.countries:
                return entry.since_date
        for entry in self.coverage:
            if region is not None and entry.region == region:
                return entry.since_date
        return None
