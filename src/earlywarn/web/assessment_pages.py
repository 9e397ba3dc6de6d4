"""Analyst assessments for people: the list with its filters, one assessment with its audit
trail, and the review forms (approve, reject with a reason, withdraw with a reason).

The forms go through the API's own service (``assessments.service``): the same permissions
(analysts and administrators assess; a focal point sees approved assessments only), the same
four-eyes rule, the same audit events. ``/assessments`` and ``/assessments/{id}[/...]`` are
also API routes; as with the country brief, only a browser's page request or form post
reaches these handlers (``BrowserPageRoute``). A refusal shows the page again with the
service's reason and the API's status code; nothing is saved.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.assessments import repository, service
from earlywarn.assessments.models import Assessment, AssessmentStatus
from earlywarn.assessments.schemas import ReasonIn, ReviewIn
from earlywarn.auth.accounts import WebUser
from earlywarn.countries import repository as countries_repository
from earlywarn.framework.config import Configuration
from earlywarn.framework.deps import ConfigDep
from earlywarn.web.assessment_forms import WebActor
from earlywarn.web.assessment_section import person
from earlywarn.web.country_pages import BrowserPageRoute
from earlywarn.web.deps import FormUser, PageRefused, Viewer
from earlywarn.web.templating import render

pages = APIRouter(include_in_schema=False, route_class=BrowserPageRoute)

LIST_LIMIT = 200
# The list's state filter: the API's statuses and its two derived states.
STATES = ["pending", "approved", "current", "expired", "rejected", "withdrawn", "superseded"]
STATE_HINTS = {
    "current": "approved and counting today",
    "expired": "approved, past its end date: no longer counts",
}
# Generous bounds on what a form may post; the service's schema holds the real limits.
FormText = Annotated[str, Form(max_length=25_000)]


def may_assess(user: WebUser) -> None:
    if not user.can("assess"):
        raise PageRefused(
            f"Your role ({user.role.value}) may not record or review analyst assessments: "
            "analysts and administrators do."
        )


def factor_names(config: Configuration) -> dict[int, str]:
    return {f.number: f.name for f in config.framework.risk_factors}


def shown(names: dict[int, str], a: Any) -> dict[str, Any]:
    """An assessment (``AssessmentOut``) with its factor's name and people by name."""
    return {
        **a.model_dump(),
        "factor_name": names.get(a.risk_factor, ""),
        "author_name": person(a.author),
        "reviewer_name": person(a.reviewer or ""),
    }


@pages.get("/assessments")
def assessment_list(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: Viewer,
    country: str = "",
    factor: str = "",
    state: str = "",
) -> Response:
    countries = countries_repository.list_countries(session, include_historical=False)
    known = {c.iso3 for c in countries}
    iso3 = country.strip().upper() if country.strip().upper() in known else None
    number = int(factor) if factor.isdigit() and 1 <= int(factor) <= 14 else None
    chosen_state = state if state in STATES else None
    found = service.search(
        session,
        iso3=iso3,
        risk_factor=number,
        status=chosen_state,
        approved_only=not user.can("assess"),
        limit=LIST_LIMIT,
    )
    names = {c.iso3: c.name for c in countries}
    return render(
        request,
        "assessments.html",
        user,
        assessments=[shown(factor_names(config), a) for a in found],
        country_names=names,
        countries=countries,
        factors=factor_names(config),
        states=STATES if user.can("assess") else ["approved", "current", "expired"],
        state_hints=STATE_HINTS,
        chosen={"country": iso3 or "", "factor": number, "state": chosen_state or ""},
        limit=LIST_LIMIT,
    )


def _visible(session: Session, user: WebUser, assessment_id: int) -> Assessment:
    """As the API: who may not assess sees approved assessments only."""
    found = repository.get(session, assessment_id)
    if found is None or (not user.can("assess") and found.status is not AssessmentStatus.APPROVED):
        raise PageRefused(f"No assessment has the number {assessment_id}.", status_code=404)
    return found


def detail_response(
    request: Request,
    session: Session,
    config: Configuration,
    user: WebUser,
    assessment_id: int,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_at: str = "",
    typed: dict[str, str] | None = None,
) -> Response:
    found = service.detail(session, _visible(session, user, assessment_id))
    country = countries_repository.get(session, found.country_iso3)
    own = found.author == user.actor
    return render(
        request,
        "assessment.html",
        user,
        status_code=status_code,
        a=shown(factor_names(config), found),
        country_name=country.name if country else found.country_iso3,
        events=[{**e.model_dump(), "actor_name": person(e.actor)} for e in found.events],
        own=own,
        may_review=user.can("assess") and found.status is AssessmentStatus.PENDING,
        may_withdraw=(own or user.can("admin"))
        and found.status in (AssessmentStatus.PENDING, AssessmentStatus.APPROVED),
        error=error,
        error_at=error_at,
        typed=typed or {},
    )


@pages.get("/assessments/{assessment_id}")
def assessment_page(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: Viewer,
    assessment_id: IdPath,
) -> Response:
    return detail_response(request, session, config, user, assessment_id)


_STATUS = (
    (LookupError, 404),
    (service.AssessmentForbidden, 403),
    (service.AssessmentConflict, 409),
)


def _refused(
    request: Request,
    session: Session,
    config: Configuration,
    user: WebUser,
    assessment_id: int,
    exc: Exception,
    *,
    error_at: str,
    typed: dict[str, str],
) -> Response:
    """The assessment's page again, the service's reason at the form, what was typed kept."""
    session.rollback()
    status_code = next((code for kind, code in _STATUS if isinstance(exc, kind)), 422)
    if status_code == 404:
        raise PageRefused(str(exc.args[0]), status_code=404) from exc
    message = str(exc)
    return detail_response(
        request, session, config, user, assessment_id, status_code=status_code,
        error=message[0].upper() + message[1:], error_at=error_at, typed=typed,
    )  # fmt: skip


# The API's own request shapes hold the rules for a note and a reason (length, no NUL); the
# pages only say them in words.
_REASON_ERRORS = {
    "string_too_short": "Reason: say why, in at least 3 characters",
    "string_too_long": "Reason: at most 2000 characters",
    "string_pattern_mismatch": "Reason: a NUL character cannot be stored",
}


def _reason(value: str) -> str:
    """The reason as ``ReasonIn`` takes it, checked before the service is asked."""
    try:
        return ReasonIn(reason=value).reason
    except ValidationError as exc:
        kind = exc.errors()[0]["type"]
        raise service.AssessmentError(_REASON_ERRORS.get(kind, "Reason: not accepted")) from exc


def _note(value: str) -> str | None:
    """The review note as ``ReviewIn`` takes it (an empty note is none)."""
    try:
        return ReviewIn(note=value).note or None
    except ValidationError as exc:
        raise service.AssessmentError("Note: at most 2000 characters, no NUL character") from exc


@pages.post("/assessments/{assessment_id}/approve")
def approve(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    assessment_id: IdPath,
    note: FormText = "",
) -> Response:
    may_assess(user)
    try:
        service.approve(session, assessment_id, WebActor.of(user), note=_note(note))
    except (service.AssessmentError, LookupError) as exc:
        return _refused(
            request, session, config, user, assessment_id, exc,
            error_at="approve", typed={"note": note},
        )  # fmt: skip
    return RedirectResponse(f"/assessments/{assessment_id}?done=approved", status_code=303)


@pages.post("/assessments/{assessment_id}/reject")
def reject(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    assessment_id: IdPath,
    reason: FormText = "",
) -> Response:
    may_assess(user)
    try:
        service.reject(session, assessment_id, WebActor.of(user), reason=_reason(reason))
    except (service.AssessmentError, LookupError) as exc:
        return _refused(
            request, session, config, user, assessment_id, exc,
            error_at="reject", typed={"reason": reason},
        )  # fmt: skip
    return RedirectResponse(f"/assessments/{assessment_id}?done=rejected", status_code=303)


@pages.post("/assessments/{assessment_id}/withdraw")
def withdraw(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    assessment_id: IdPath,
    reason: FormText = "",
) -> Response:
    may_assess(user)
    try:
        service.withdraw(session, assessment_id, WebActor.of(user), reason=_reason(reason))
    except (service.AssessmentError, LookupError) as exc:
        return _refused(
            request, session, config, user, assessment_id, exc,
            error_at="withdraw", typed={"withdraw_reason": reason},
        )  # fmt: skip
    return RedirectResponse(f"/assessments/{assessment_id}?done=withdrawn", status_code=303)
