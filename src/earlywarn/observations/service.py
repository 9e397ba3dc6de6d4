"""Observation reads for the API; scoring calls ``repository.latest_values`` directly."""

from __future__ import annotations

from sqlalchemy.orm import Session

from earlywarn.observations import repository
from earlywarn.observations.schemas import CountryObservationsRead, ObservationRead


class UnknownCountryError(LookupError):
    """The ISO3 code is not in the countries table."""


def country_observations(
    session: Session, iso3: str, variable: str | None = None
) -> CountryObservationsRead:
    """Every period of the country's observations (of one variable when given), current
    vintage only."""
    code = iso3.strip().upper()
    country = repository.get_country(session, code)
    if country is None:
        raise UnknownCountryError(
            f"unknown country {iso3!r}: not an ISO3 code in the countries table"
        )
    history = repository.observation_history(session, code, variable)
    return CountryObservationsRead(
        iso3=country.iso3,
        name=country.name,
        observations=[ObservationRead.model_validate(point) for point in history],
    )
