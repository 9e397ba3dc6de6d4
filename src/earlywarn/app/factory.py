"""The FastAPI application: every stage's router, error handlers, health and start-up tasks."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, params
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

from earlywarn import __version__
from earlywarn.alerting import cap_router as alerting_cap_router
from earlywarn.alerting import response_router as alerting_response_router
from earlywarn.alerting import router as alerting_router
from earlywarn.api import errors, health, probes
from earlywarn.api.limits import BodyLimitMiddleware
from earlywarn.api.request_id import RequestIdMiddleware
from earlywarn.app import metrics
from earlywarn.app.ingest_now import IngestNow
from earlywarn.app.keys import configure_secrets
from earlywarn.assessments import router as assessments_router
from earlywarn.auth import cache as key_cache
from earlywarn.auth import router as auth_router
from earlywarn.auth import service as auth_service
from earlywarn.auth.deps import require
from earlywarn.countries import router as countries_router
from earlywarn.db import DatabaseLimits, create_db_engine, make_session_factory, session_scope
from earlywarn.forecasting import router as forecasting_router
from earlywarn.framework import router as framework_router
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.ingest import router as ingest_router
from earlywarn.notify import ack_links
from earlywarn.notify import router as notify_router
from earlywarn.notify.alert_events import AlertNotifier
from earlywarn.observations import router as observations_router
from earlywarn.scoring import coverage_router
from earlywarn.scoring import router as scoring_router
from earlywarn.settings import Settings, get_settings
from earlywarn.web import router as web_router
from earlywarn.weights import router as weights_router

logger = logging.getLogger(__name__)

DOCS_ASSETS_URL = "/docs-assets"

DESCRIPTION = """
**earlywarn** scores countries against the risk factors of the UN *Framework of Analysis for
Atrocity Crimes*, raises alerts when a country's risk level rises, recommends actions from the
*Framework for Action*, and notifies the focal points who subscribed to that country.

Data flows one way: ingest → observations → scoring → forecasting → alerting → notify.

### Authentication and roles

Every route except `GET /healthz` needs an API key in the `X-API-Key` header.

| role          | may                                                                 |
|---------------|---------------------------------------------------------------------|
| `analyst`     | read everything (scores, observations, alerts, configuration)       |
| `focal_point` | read, acknowledge alerts, manage its own focal point's subscriptions |
| `admin`       | everything, including API keys, focal points, subscriptions, runs   |

A missing or revoked key gets **401**; a key whose role lacks the permission gets **403**.
Errors are JSON `{"detail": ...}` with a reason; request validation errors (**422**) list the
location of each invalid field.
"""

OPENAPI_TAGS = [
    {"name": "health", "description": "Liveness and database probe; no API key needed."},
    {"name": "api keys", "description": "Issue, list and revoke API keys (admin)."},
    {
        "name": "notify",
        "description": "Focal points, their subscriptions and webhook secrets (focal points "
        "manage their own; admins all), and the delivery outbox (admin).",
    },
]


def _routers() -> list[tuple[APIRouter, Sequence[params.Depends]]]:
    """Every router the application serves, in the order they appear in the docs, with the
    dependencies added to all of its routes.

    ``countries`` and ``framework`` sit below ``auth`` in the layers, so their read-only routers
    cannot name ``Reader`` themselves: the read permission is added here, where both are known.
    tests/api/test_route_access.py checks every route listed here for its access rules.
    """
    reader = [Depends(require("read"))]
    return [
        (health.router, []),
        (probes.router, []),
        (scoring_router.router, []),
        (coverage_router.router, []),
        (forecasting_router.router, []),
        (alerting_cap_router.router, []),
        (alerting_router.router, []),
        (alerting_response_router.router, []),
        (notify_router.alert_router, []),
        (countries_router.router, reader),
        (observations_router.router, []),
        (framework_router.router, reader),
        (weights_router.router, []),
        (assessments_router.router, []),
        (ingest_router.router, []),
        (notify_router.router, []),
        (auth_router.router, []),
    ]


def create_app(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    configuration: Configuration | None = None,
    start_scheduler: bool = False,
) -> FastAPI:
    """Build the application. Anything not given is built from ``settings`` (or the env)."""
    settings = settings if settings is not None else get_settings()
    owns_engine = engine is None
    db_engine = (
        engine
        if engine is not None
        else create_db_engine(
            settings.resolved_database_url(), limits=DatabaseLimits.from_settings(settings)
        )
    )
    # Loaded eagerly: a broken config file should stop the service at start, not at first use.
    config = configuration if configuration is not None else load_configuration(settings.config_dir)
    configure_secrets(settings, db_engine)  # a missing key stops the service here
    session_factory = make_session_factory(db_engine)
    key_cache.for_engine(db_engine, settings.api_key_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.bootstrap_admin_key is not None:
            with session_scope(session_factory) as session:
                created = auth_service.ensure_bootstrap_admin(
                    session, settings.bootstrap_admin_key.get_secret_value()
                )
            if created:
                logger.info("registered the bootstrap admin API key")
        scheduler = None
        if start_scheduler:
            # Imported only when asked for, so the API runs (and tests) without a scheduler.
            scheduler = importlib.import_module("earlywarn.app.scheduler")
            scheduler.start(app)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop(app)
            app.state.ingest_now.close()
            if owns_engine:
                db_engine.dispose()

    # The API documentation page loads its scripts and styles from this app, not a CDN: it
    # works offline and behind egress filters (fastapi-offline ships Swagger UI). No ReDoc:
    # its sidebar always fetches a logo from cdn.redoc.ly, and /docs covers the same ground.
    app = FastAPIOffline(
        redoc_url=None,
        static_url=DOCS_ASSETS_URL,
        swagger_ui_parameters={"validatorUrl": None},  # the badge would call swagger.io
        title="earlywarn",
        summary="Atrocity-risk early warning: scores, alerts and recommended actions.",
        description=DESCRIPTION,
        version=__version__,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = db_engine
    app.state.session_factory = session_factory
    app.state.configuration = config
    # The alert routes hand what people do to alerts to notify (alerting.events).
    app.state.alert_event_sink = AlertNotifier(
        config.alerting.escalation, config.action_map.priority.max_actions
    )
    # The sources page's "Ingest now" runs the scheduler's source job in the background.
    app.state.ingest_now = IngestNow(session_factory, settings, config)
    # Checks the e-mails' one-click acknowledge links with the delivery worker's secret.
    app.state.ack_links = ack_links.from_settings(settings)
    errors.install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    metrics.install(app, session_factory)
    app.add_middleware(RequestIdMiddleware)  # outermost: every log line of a request has it
    for router, dependencies in _routers():
        app.include_router(router, dependencies=dependencies)
    if config.alerting.cap.public_feed:  # a feed without a key, public fields only
        app.include_router(alerting_cap_router.public_router)
    web_router.install(app)  # the pages (issue 13): routes outside the API, static files
    return app
