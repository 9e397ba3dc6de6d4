"""The country brief at ``/countries/{iso3}`` and its data as CSV.

``GET /countries/{iso3}`` is also the API's JSON route. A browser asking for a page (Accept
names text/html, no API key) gets the brief; every other caller reaches the API as before.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import Scope

from earlywarn.api.deps import Iso3Path, SessionDep
from earlywarn.countries.models import Country
from earlywarn.framework.deps import ConfigDep
from earlywarn.web.assessment_section import current_assessments
from earlywarn.web.brief import Brief, country_brief
from earlywarn.web.charts import history_chart
from earlywarn.web.deps import PageRefused, Viewer
from earlywarn.web.templating import render
from earlywarn.web.worldmap import LEVEL_COLOURS


class BrowserPageRoute(APIRoute):
    """Matches only what a browser sends when it opens a page."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.NONE:
            return match, child
        headers = Headers(scope=scope)
        if "x-api-key" in headers or "text/html" not in headers.get("accept", ""):
            return Match.NONE, {}
        return match, child


pages = APIRouter(include_in_schema=False, route_class=BrowserPageRoute)
router = APIRouter(include_in_schema=False)


def _country(session: SessionDep, iso3: str) -> Country:
    country = session.get(Country, iso3.upper())
    if country is None:
        raise PageRefused(f"No country has the code {iso3!r}.", status_code=404)
    return country


@pages.get("/countries/{iso3}")
def country_page(
    request: Request, session: SessionDep, config: ConfigDep, user: Viewer, iso3: Iso3Path
) -> Response:
    brief = country_brief(session, config, _country(session, iso3))
    return render(
        request,
        "brief.html",
        user,
        brief=brief,
        chart=history_chart(brief.history, config.scoring.levels),
        colours=LEVEL_COLOURS,
        levels=config.scoring.levels,
        assessments=current_assessments(session, config, brief.country.iso3, user),
    )


def brief_rows(brief: Brief) -> list[dict[str, Any]]:
    """The brief as one table: a row per history point, per factor and per indicator."""
    iso3 = brief.country.iso3
    rows: list[dict[str, Any]] = [
        {"section": "history", "iso3": iso3, "date": p.as_of.isoformat(), "item": "composite",
         "value": p.composite, "level": p.level, "coverage": None, "period": None, "source": None}
        for p in brief.history
    ]  # fmt: skip
    as_of = brief.run.as_of.isoformat() if brief.run else None
    for factor in brief.breakdown.get("factors", []):
        rows.append(
            {"section": "factor", "iso3": iso3, "date": as_of,
             "item": f"{factor['number']}. {factor['name']}", "value": factor["score"],
             "level": None, "coverage": factor["coverage"], "period": None, "source": None}
        )  # fmt: skip
    for indicator in brief.indicators():
        rows.append(
            {"section": "indicator", "iso3": iso3, "date": as_of,
             "item": f"{indicator['factor']}. {indicator['name']}", "value": indicator["value"],
             "level": None, "coverage": None, "period": indicator["period"],
             "source": indicator["source_id"]}
        )  # fmt: skip
    return rows


@router.get("/countries/{iso3}/brief.csv")
def country_csv(session: SessionDep, config: ConfigDep, user: Viewer, iso3: Iso3Path) -> Response:
    brief = country_brief(session, config, _country(session, iso3))
    rows = brief_rows(brief)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["section"])
    writer.writeheader()
    writer.writerows(rows)
    filename = f"earlywarn-{brief.country.iso3}-{brief.run.as_of if brief.run else 'none'}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
