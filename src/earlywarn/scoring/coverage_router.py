"""``GET /coverage``: per risk factor and source, the countries with fresh evidence in the
latest scoring run, and which sources to enable to raise it (scoring/coverage.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from earlywarn.api.deps import SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.db import utc_now
from earlywarn.framework.deps import ConfigDep
from earlywarn.scoring.coverage import NoScoreRunError, as_dict, coverage_report
from earlywarn.settings import Settings, get_settings

router = APIRouter(tags=["scores"])


@router.get("/coverage")
def get_coverage(
    request: Request, session: SessionDep, config: ConfigDep, principal: Reader
) -> dict[str, Any]:
    """Per factor: countries with fresh evidence (and by source) in the latest score run, and
    the sources that deliver nothing yet, with what to do and which indicators they feed."""
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    try:
        report = coverage_report(session, config, config.sources, utc_now(), settings=settings)
    except NoScoreRunError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return as_dict(report)
