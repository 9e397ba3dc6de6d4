"""The overview at ``/``: the world map coloured by level, the watch list and source freshness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from earlywarn.api.deps import SessionDep
from earlywarn.types import RiskLevel
from earlywarn.web.deps import Viewer
from earlywarn.web.templating import render
from earlywarn.web.watchlist import freshness, watch_list
from earlywarn.web.worldmap import LEVEL_COLOURS, NO_DATA_COLOUR, world_map

router = APIRouter(include_in_schema=False)


@router.get("/")
def overview(
    request: Request,
    session: SessionDep,
    user: Viewer,
    region: str = "",
    level: str = "",
) -> Response:
    data = watch_list(session)
    chosen_level = RiskLevel(level) if level in {lv.value for lv in RiskLevel} else None
    rows = [
        row
        for row in data.rows
        if (not region or row.region == region)
        and (chosen_level is None or row.level == chosen_level)
    ]
    by_iso3 = {row.iso3: row for row in data.rows}
    return render(
        request,
        "overview.html",
        user,
        data=data,
        rows=rows,
        by_iso3=by_iso3,
        region=region if region in data.regions else "",
        level=chosen_level.value if chosen_level else "",
        levels=list(RiskLevel),
        colours=LEVEL_COLOURS,
        no_data_colour=NO_DATA_COLOUR,
        world=world_map(),
        sources=freshness(
            session, request.app.state.settings, request.app.state.configuration, request.app.state
        ),
    )
