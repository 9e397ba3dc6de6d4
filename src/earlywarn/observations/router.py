"""Observations of one country, current vintage of each period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from earlywarn.api.deps import SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.observations import service
from earlywarn.observations.schemas import CountryObservationsRead

router = APIRouter(tags=["observations"])


@router.get("/countries/{iso3}/observations", response_model=CountryObservationsRead)
def get_country_observations(
    iso3: Annotated[str, Path(min_length=3, max_length=3, description="ISO 3166-1 alpha-3")],
    session: SessionDep,
    principal: Reader,
    variable: Annotated[
        str | None, Query(max_length=128, description="Only this variable, e.g. wb.PV.EST")
    ] = None,
) -> CountryObservationsRead:
    """Every observation held for the country (or one variable): value, period, source and
    ingest run, newest vintage. The raw evidence behind its scores."""
    try:
        return service.country_observations(session, iso3, variable)
    except service.UnknownCountryError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
