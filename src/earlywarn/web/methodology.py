"""The methodology page, generated from the loaded configuration and the active weight set, so
it always says what runs: factors, indicators, sources, weights, level thresholds, alert rules."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from earlywarn.api.deps import SessionDep
from earlywarn.framework.deps import ConfigDep
from earlywarn.web.deps import Viewer
from earlywarn.web.templating import render
from earlywarn.web.watchlist import freshness
from earlywarn.weights import service as weights_service

router = APIRouter(include_in_schema=False)


@router.get("/methodology")
def methodology(request: Request, session: SessionDep, config: ConfigDep, user: Viewer) -> Response:
    active = weights_service.active_weight_set(session)
    factor_weights = (
        {int(k): v for k, v in active.factor_weights.items()}
        if active is not None
        else dict(config.scoring.factor_weights)
    )
    indicator_weights = (
        dict(active.indicator_weights)
        if active is not None
        else {i.id: i.weight for i in config.indicators.indicators}
    )
    rules = [
        {
            "id": rule.id,
            "kind": rule.kind,
            "description": rule.description,
            "settings": {
                k: (v.value if hasattr(v, "value") else v)
                for k, v in rule.model_dump().items()
                if k not in ("id", "kind", "description")
            },
        }
        for rule in config.alerting.rules
    ]
    return render(
        request,
        "methodology.html",
        user,
        config=config,
        active=active,
        factor_weights=factor_weights,
        indicator_weights=indicator_weights,
        rules=rules,
        sources=freshness(session, request.app.state.settings, config),
    )
