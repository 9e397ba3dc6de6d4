"""What the read side of the observation store returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, computed_field

from earlywarn.observations.models import is_zero_fill


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

    @computed_field(  # type: ignore[prop-decorator]
        description="True where the value is a zero-fill: the source covered the country "
        "and period and found no event (source_id ends in '+zero_fill')."
    )
    @property
    def zero_fill(self) -> bool:
        return is_zero_fill(self.source_id)


class CountryObservationsRead(BaseModel):
    iso3: str
    name: str
    observations: list[ObservationRead]
