"""What the read side of the observation store returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The current vintage of one period of one variable for one country."""

    iso3: str
    variable: str
    period: str
    period_start: date
    period_end: date
    value: float
    source_id: str
    ingest_run_id: int


class ObservationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    variable: str
    period: str
    period_start: date
    period_end: date
    value: float
    source_id: str
    ingest_run_id: int


class CountryObservationsRead(BaseModel):
    iso3: str
    name: str
    observations: list[ObservationRead]
