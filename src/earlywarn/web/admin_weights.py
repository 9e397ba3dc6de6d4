"""Weight tuning for administrators: form -> preview -> apply with a reason -> history and
roll back. Every step goes through ``weights.service``, as the API's routes do."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.accounts import WebUser
from earlywarn.framework.config import Configuration
from earlywarn.framework.deps import ConfigDep
from earlywarn.framework.models import WeightSet
from earlywarn.scoring import repository as scoring_repository
from earlywarn.web.deps import FormUser, PageRefused, WebAdmin
from earlywarn.web.templating import render
from earlywarn.weights import repository as weights_repository
from earlywarn.weights import service as weights_service
from earlywarn.weights.schemas import MAX_WEIGHT, WeightProposal

router = APIRouter(include_in_schema=False)

REASON_MIN_CHARS = 3
REASON_MAX_CHARS = 2000


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(_form_fields)]


def _admin(user: WebUser) -> WebUser:
    if not user.can("admin"):
        raise PageRefused(f"Your role ({user.role.value}) may not change weights.")
    return user


def _active(session: Session) -> WeightSet:
    active = weights_service.active_weight_set(session)
    if active is None:
        raise PageRefused(
            "No weight set is active yet: score once (`earlywarn run-once`) first.", 409
        )
    return active


def _groups(config: Configuration) -> list[dict[str, Any]]:
    return [
        {"number": f.number, "name": f.name, "indicators": config.indicators_for(f.number)}
        for f in config.framework.risk_factors
    ]


def _tuning_page(
    request: Request,
    session: Session,
    config: Configuration,
    user: WebUser,
    *,
    status_code: int = 200,
    error: str | None = None,
    message: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    active = _active(session)
    history = weights_repository.events(session, limit=100)
    seen = {e.weight_set_id for e in history}
    ever_active = sorted(i for i in seen if weights_repository.was_active(session, i))
    return render(
        request,
        "admin_weights.html",
        user,
        status_code=status_code,
        active=active,
        groups=_groups(config),
        history=history,
        rollback_targets=[i for i in ever_active if i != active.id],
        error=error,
        message=message,
        values=values or {},
        max_weight=MAX_WEIGHT,
    )


@router.get("/admin/weights")
def tuning(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: WebAdmin,
    applied: int | None = None,
    rolled_back: int | None = None,
) -> Response:
    message = None
    if applied is not None:
        message = f"Weight set {applied} is active from the next scoring run on."
    elif rolled_back is not None:
        message = f"Rolled back: weight set {rolled_back} is active from the next run on."
    return _tuning_page(request, session, config, user, message=message)


def _proposal(fields: dict[str, str], active: WeightSet) -> WeightProposal:
    """The weights that differ from the active set's (blank or unchanged fields keep theirs)."""
    factors: dict[str, float] = {}
    indicators: dict[str, float] = {}
    problems = []
    for key, raw in fields.items():
        kind, _, ident = key.partition(":")
        if kind not in ("factor", "indicator") or not raw.strip():
            continue
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{ident}: {raw!r} is not a number")
            continue
        if not math.isfinite(value):
            problems.append(f"{ident}: {raw!r} is not a finite number")
            continue
        current = (active.factor_weights if kind == "factor" else active.indicator_weights).get(
            ident
        )
        if current is None or abs(float(current) - value) > 1e-12:
            (factors if kind == "factor" else indicators)[ident] = value
    if problems:
        raise weights_service.WeightSetError("; ".join(problems))
    note = fields.get("note", "").strip()[:REASON_MAX_CHARS] or None
    return WeightProposal(indicator_weights=indicators, factor_weights=factors, note=note)


@router.post("/admin/weights/preview")
def preview(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    fields: FormFields,
) -> Response:
    admin = _admin(user)
    active = _active(session)
    try:
        proposal = _proposal(fields, active)
        if not proposal.factor_weights and not proposal.indicator_weights:
            raise weights_service.WeightSetError("no weight differs from the active set")
        weight_set, _ = weights_service.propose(session, config, proposal, actor=admin.actor)
    except (weights_service.WeightSetError, ValueError) as exc:
        return _tuning_page(
            request, session, config, admin, status_code=400, error=str(exc), values=fields
        )
    result = weights_service.preview(session, config, weight_set, active)
    moved = (
        []
        if result is None
        else [c.iso3 for c in result.level_changes] + [m.iso3 for m in result.rank_moves]
    )
    names = scoring_repository.country_names(session, moved)
    return render(
        request,
        "admin_weights_preview.html",
        admin,
        proposed=weight_set,
        active=active,
        diff=weights_service.weight_diff(active, weight_set),
        preview=result,
        names=names,
    )


@router.post("/admin/weights/{weight_set_id}/apply")
def apply(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    weight_set_id: IdPath,
    reason: Annotated[str, Form(max_length=REASON_MAX_CHARS)] = "",
) -> Response:
    admin = _admin(user)
    target = weights_repository.get(session, weight_set_id)
    if target is None:
        raise PageRefused(f"There is no weight set {weight_set_id}.", 404)
    if len(reason.strip()) < REASON_MIN_CHARS:
        return _tuning_page(
            request, session, config, admin, status_code=400,
            error="Say why (at least 3 characters): the reason is kept in the audit log.",
        )  # fmt: skip
    try:
        weights_service.apply(session, target, actor=admin.actor, reason=reason.strip())
    except weights_service.WeightSetConflict as exc:
        return _tuning_page(request, session, config, admin, status_code=409, error=str(exc))
    return RedirectResponse("/admin/weights?applied=" + str(weight_set_id), status_code=303)


@router.post("/admin/weights/rollback")
def rollback(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    to_weight_set_id: Annotated[int, Form(ge=1, le=2_147_483_647)],
    reason: Annotated[str, Form(max_length=REASON_MAX_CHARS)] = "",
) -> Response:
    admin = _admin(user)
    target = weights_repository.get(session, to_weight_set_id)
    if target is None:
        raise PageRefused(f"There is no weight set {to_weight_set_id}.", 404)
    if len(reason.strip()) < REASON_MIN_CHARS:
        return _tuning_page(
            request, session, config, admin, status_code=400,
            error="Say why you roll back (at least 3 characters).",
        )  # fmt: skip
    try:
        weights_service.rollback(session, target, actor=admin.actor, reason=reason.strip())
    except weights_service.WeightSetConflict as exc:
        return _tuning_page(request, session, config, admin, status_code=409, error=str(exc))
    return RedirectResponse("/admin/weights?rolled_back=" + str(to_weight_set_id), 303)
