"""Country shapes: the packaged reference record and the API's response model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Region(StrEnum):
    """UN M49 regions (the top level of the M49 composition)."""

    AFRICA = "Africa"
    AMERICAS = "Americas"
    ASIA = "Asia"
    EUROPE = "Europe"
    OCEANIA = "Oceania"


@dataclass(frozen=True, slots=True)
class CountryRecord:
    """One row of ``data/states.csv``: a state and every code the sources use for it."""

    iso3: str
    iso2: str | None
    m49: int | None
    cow_code: int | None
    gw_code: int | None
    name: str
    region: Region | None
    is_historical: bool


class CountryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    iso3: str
    iso2: str | None
    m49: int | None
    cow_code: int | None
    gw_code: int | None
    name: str
    region: str | None
    is_historical: bool
