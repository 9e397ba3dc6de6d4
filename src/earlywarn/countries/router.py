"""Read-only routes over the ``countries`` table (seeded from the packaged crosswalk).

Every route needs the read permission; the app factory adds it to this router, because
``countries`` sits below ``auth`` and does not import it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from earlywarn.api.deps import SessionDep
from earlywarn.countries import repository
from earlywarn.countries.schemas import CountryOut, Region

router = APIRouter(prefix="/countries", tags=["countries"])


@router.get(
    "",
    response_model=list[CountryOut],
    summary="List countries",
    description="States with every code the sources use for them, ordered by name. Former "
    "states (East Germany, the USSR, ...) are left out unless include_historical is true.",
)
def list_countries(
    session: SessionDep,
    include_historical: Annotated[
        bool, Query(description="Include states that no longer exist.")
    ] = False,
    region: Annotated[Region | None, Query(description="UN M49 region.")] = None,
) -> list[CountryOut]:
    rows = repository.list_countries(
        session,
        include_historical=include_historical,
        region=None if region is None else region.value,
    )
    return [CountryOut.model_validate(row) for row in rows]


@router.get(
    "/{iso3}",
    response_model=CountryOut,
    summary="One country by ISO3",
    responses={404: {"description": "No country with this ISO3 code."}},
)
def get_country(
    iso3: Annotated[str, Path(description="ISO 3166-1 alpha-3 (or earlywarn's own) code.")],
    session: SessionDep,
) -> CountryOut:
    """The country's name, codes, region and UN membership. A browser asking for HTML at this
    address gets the country brief page instead."""
    country = repository.get(session, iso3.strip().upper())
    if country is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    return CountryOut.model_validate(country)
