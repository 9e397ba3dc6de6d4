"""``GET /coverage``: per risk factor and source, the countries with fresh evidence in the
latest scoring run, and which sources to enable to raise it (scoring/coverage.py)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from earlywarn.api.deps import SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.db import utc_now
from earlywarn.framework.config import ConfigError
from earlywarn.framework.deps import ConfigDep
from earlywarn.ingest import service as ingest_service
from earlywarn.ingest.schemas import SourcesConfig
from earlywarn.scoring.coverage import NoScoreRunError, as_dict, coverage_report
from earlywarn.settings import Settings, get_settings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["scores"])


@router.get("/coverage")
def get_coverage(
    request: Request, session: SessionDep, config: ConfigDep, principal: Reader
) -> dict[str, Any]:
    """Per factor: countries with fresh evidence (and by source) in the latest score run, and
    the sources that deliver nothing yet, with what to do and which indicators they feed."""
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    try:
        sources = ingest_service.load_sources_config(
            settings.config_dir / ingest_service.SOURCES_FILE
        )
    except ConfigError as exc:
        logger.warning("sources.yaml unreadable, coverage without it: %s", exc)
        sources = SourcesConfig()
    try:
        report = coverage_report(session, config, sources, utc_now(), settings=settings)
    except NoScoreRunError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return as_dict(report)
