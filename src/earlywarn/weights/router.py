"""Weight-set administration: analysts read, administrators propose, apply and roll back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from earlywarn.api.deps import MAX_ID, IdPath, Iso3Path, SessionDep
from earlywarn.auth.deps import Admin, Reader
from earlywarn.countries.models import Country
from earlywarn.framework.deps import ConfigDep
from earlywarn.framework.models import WeightSet
from earlywarn.scoring import repository as scoring_repository
from earlywarn.scoring import stored_scores
from earlywarn.scoring.schemas import CountryScoreOut
from earlywarn.weights import repository, service
from earlywarn.weights.schemas import (
    ApplyRequest,
    ProposalOut,
    RollbackRequest,
    WeightPreview,
    WeightProposal,
    WeightSetDetail,
    WeightSetEventOut,
)

router = APIRouter(tags=["weight sets"])


def _weight_set(session: SessionDep, weight_set_id: int) -> WeightSet:
    found = repository.get(session, weight_set_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no weight set {weight_set_id}")
    return found


def _active(session: SessionDep) -> WeightSet:
    active = service.active_weight_set(session)
    if active is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail="no weight set is active yet: run `earlywarn run-once` or `earlywarn score`",
        )
    return active


@router.get("/weight-sets/active", response_model=WeightSetDetail)
def get_active(session: SessionDep, _: Reader) -> WeightSetDetail:
    """The weight set the next scoring run uses."""
    return service.detail(session, _active(session))


@router.get("/weight-set-events", response_model=list[WeightSetEventOut])
def get_events(
    session: SessionDep, _: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[WeightSetEventOut]:
    """The audit log, newest first: who proposed, applied or rolled back what, when and why."""
    return [WeightSetEventOut.model_validate(e) for e in repository.events(session, limit=limit)]


@router.get("/weight-sets/{weight_set_id}", response_model=WeightSetDetail)
def get_weight_set(session: SessionDep, _: Reader, weight_set_id: IdPath) -> WeightSetDetail:
    """One weight set: its factor and indicator weights, version, content digest and when it
    was active."""
    return service.detail(session, _weight_set(session, weight_set_id))


@router.get("/weight-sets/{weight_set_id}/preview", response_model=WeightPreview)
def get_preview(
    session: SessionDep, config: ConfigDep, _: Reader, weight_set_id: IdPath
) -> WeightPreview:
    """What would change if this set replaced the active one, on the latest run's data."""
    proposed = _weight_set(session, weight_set_id)
    result = service.preview(session, config, proposed, _active(session))
    if result is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="no scoring run has succeeded yet: nothing to preview"
        )
    return result


@router.post("/weight-sets", response_model=ProposalOut, status_code=status.HTTP_201_CREATED)
def propose(
    session: SessionDep, config: ConfigDep, principal: Admin, proposal: WeightProposal
) -> ProposalOut:
    """Propose new weights (ids left out keep the active weight). Nothing changes until the
    set is applied; the answer includes the preview against the active set."""
    try:
        weight_set, created = service.propose(session, config, proposal, actor=principal.actor)
    except service.WeightSetError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    active = service.active_weight_set(session)
    preview = None if active is None else service.preview(session, config, weight_set, active)
    return ProposalOut(
        weight_set=service.detail(session, weight_set), created=created, preview=preview
    )


@router.post("/weight-sets/rollback", response_model=WeightSetEventOut)
def rollback(session: SessionDep, principal: Admin, body: RollbackRequest) -> WeightSetEventOut:
    """Make an earlier active set active again (from the next scoring run on)."""
    target = _weight_set(session, body.to_weight_set_id)
    try:
        event = service.rollback(session, target, actor=principal.actor, reason=body.reason)
    except service.WeightSetConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return WeightSetEventOut.model_validate(event)


@router.post("/weight-sets/{weight_set_id}/apply", response_model=WeightSetEventOut)
def apply(
    session: SessionDep, principal: Admin, weight_set_id: IdPath, body: ApplyRequest
) -> WeightSetEventOut:
    """Make this set the active one from the next scoring run on; the reason is required."""
    target = _weight_set(session, weight_set_id)
    try:
        event = service.apply(session, target, actor=principal.actor, reason=body.reason)
    except service.WeightSetConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return WeightSetEventOut.model_validate(event)


# The score history under a weight set lives here, not in scoring: which set is active is
# decided by the weight-set events this package owns.
@router.get(
    "/countries/{iso3}/score-history", response_model=list[CountryScoreOut], tags=["scores"]
)
def country_history_under(
    session: SessionDep,
    config: ConfigDep,
    _: Reader,
    iso3: Iso3Path,
    weight_set_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="Weight set to re-score under; the active set when left out",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CountryScoreOut]:
    """A country's history re-computed under a weight set (the active one by default), newest
    first. Nothing is written: each stored score's contributions are weighted again, so a
    proposed set can be read against the past before it is applied."""
    code = iso3.upper()
    if session.get(Country, code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown country '{iso3}'")
    weight_set = _active(session) if weight_set_id is None else _weight_set(session, weight_set_id)
    name = scoring_repository.country_names(session, [code]).get(code, code)
    return stored_scores.history_under(session, config, code, name, weight_set, limit)
