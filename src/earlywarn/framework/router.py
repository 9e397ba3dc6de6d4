"""Read-only API over the framework: risk factors, the action catalogue and the weight sets.

Risk factors and actions are served from the loaded configuration, the same source the
recommendations in alerts are drawn from; weight sets exist only in the database.

Every route needs the read permission; the app factory adds it to this router, because
``framework`` sits below ``auth`` and does not import it.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status

from earlywarn.api.deps import SessionDep
from earlywarn.framework import service
from earlywarn.framework.deps import ConfigDep
from earlywarn.framework.schemas import (
    ActionHeadingOut,
    RiskFactorDetailOut,
    RiskFactorOut,
    WeightSetOut,
)
from earlywarn.types import Sphere

router = APIRouter(tags=["framework"])


@router.get("/risk-factors", response_model=list[RiskFactorOut])
def get_risk_factors(config: ConfigDep) -> list[RiskFactorOut]:
    """The 14 risk factors of the UN Framework of Analysis."""
    return service.list_risk_factors(config)


@router.get("/risk-factors/{number}", response_model=RiskFactorDetailOut)
def get_risk_factor(number: int, config: ConfigDep) -> RiskFactorDetailOut:
    """One risk factor with its indicators and the Framework for Action headings mapped to it."""
    detail = service.risk_factor_detail(config, number)
    if detail is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no risk factor {number}: the Framework of Analysis numbers them 1 to 14",
        )
    return detail


@router.get("/actions", response_model=list[ActionHeadingOut])
def get_actions(
    config: ConfigDep,
    sphere: Sphere | None = Query(default=None, description="Only this sphere's headings"),
    imminent: bool | None = Query(
        default=None,
        description="true: only tables for an imminent risk or actual occurrence of atrocity "
        "crimes; false: only the others",
    ),
) -> list[ActionHeadingOut]:
    """The Framework for Action catalogue in code order."""
    return service.list_action_headings(config, sphere=sphere, imminent=imminent)


@router.get("/actions/{code}", response_model=ActionHeadingOut)
def get_action(code: str, config: ConfigDep) -> ActionHeadingOut:
    """One Framework for Action heading, e.g. ``1.13``, with all its tables."""
    heading = service.action_heading(config, code)
    if heading is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no action {code!r} in the Framework for Action catalogue; "
            "GET /actions lists the codes",
        )
    return heading


@router.get("/weight-sets", response_model=list[WeightSetOut])
def get_weight_sets(session: SessionDep) -> list[WeightSetOut]:
    """Every weight set, oldest version first; scores name the one they used."""
    return service.list_weight_sets(session)
