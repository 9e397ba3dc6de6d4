"""Admin routes to issue, list and revoke API keys."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth import repository, service
from earlywarn.auth.deps import Admin
from earlywarn.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API key",
    description="The response holds the key itself; only its hash is stored, so it is shown "
    "this once. A focal_point key must name an existing, active focal point.",
)
def create_api_key(body: ApiKeyCreate, session: SessionDep, principal: Admin) -> ApiKeyCreated:
    try:
        key, raw_key = service.issue_key(
            session, name=body.name, role=body.role, focal_point_id=body.focal_point_id
        )
    except service.KeyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except service.KeyRequestError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    read = ApiKeyRead.model_validate(key)
    return ApiKeyCreated(**read.model_dump(), key=raw_key)


@router.get("", response_model=list[ApiKeyRead], summary="List API keys (never their hashes)")
def list_api_keys(session: SessionDep, principal: Admin) -> list[ApiKeyRead]:
    """Issued API keys: role, focal point, label, when created and last used, and whether
    revoked. The keys themselves are never shown again."""
    return [ApiKeyRead.model_validate(key) for key in repository.list_keys(session)]


@router.delete(
    "/{key_id}",
    response_model=ApiKeyRead,
    summary="Revoke an API key",
    description="Revoking is immediate and permanent; revoking a revoked key changes nothing. "
    "The last active admin key cannot be revoked.",
)
def revoke_api_key(key_id: IdPath, session: SessionDep, principal: Admin) -> ApiKeyRead:
    try:
        key = service.revoke_key_checked(session, key_id)
    except service.KeyNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except service.KeyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return ApiKeyRead.model_validate(key)
