"""What the app factory calls: the pages' routes, their static files and error pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from earlywarn.web import (
    ack_link_pages,
    admin_focal_points,
    admin_keys,
    admin_sources,
    admin_users,
    admin_weights,
    alert_actions,
    alert_pages,
    assessment_pages,
    assessment_record,
    auth_pages,
    country_pages,
    methodology,
    overview,
)
from earlywarn.web.deps import LoginRequired, PageRefused, login_url
from earlywarn.web.templating import STATIC_DIR, render

ROUTERS = [
    auth_pages.router,
    overview.router,
    country_pages.router,
    alert_pages.router,
    admin_users.router,
    admin_focal_points.router,
    admin_keys.router,
    admin_sources.router,
    admin_weights.router,
    ack_link_pages.router,
    methodology.router,
]


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    return render(request, "refused.html", None, status_code=exc.status_code, reason=exc.reason)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    # Pages that share a path with an API route go first: they match only a browser's page
    # request (country_pages.BrowserPageRoute), and let every other request through.
    app.router.routes[:0] = [
        *country_pages.pages.routes,
        *alert_pages.pages.routes,
        *alert_actions.pages.routes,
        # /assessments/new before /assessments/{id}
        *assessment_record.pages.routes,
        *assessment_pages.pages.routes,
    ]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageRefused, _refused)
