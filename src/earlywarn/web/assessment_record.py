"""Recording an analyst assessment: the form (prefilled from a country page's or an approved
assessment's link) and its post, through the API's own schema and service. A refused form
comes back with every message beside its field and everything that was typed."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from earlywarn.api.deps import SessionDep
from earlywarn.assessments import service
from earlywarn.assessments.models import Confidence
from earlywarn.auth.accounts import WebUser
from earlywarn.countries import repository as countries_repository
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.deps import ConfigDep
from earlywarn.web.assessment_forms import (
    AssessmentForm,
    FormProblems,
    WebActor,
    assessment_body,
    service_problem,
)
from earlywarn.web.assessment_pages import factor_names, may_assess
from earlywarn.web.country_pages import BrowserPageRoute
from earlywarn.web.deps import FormUser, Viewer
from earlywarn.web.templating import render

pages = APIRouter(include_in_schema=False, route_class=BrowserPageRoute)

FormText = Annotated[str, Form(max_length=25_000)]


def _form_page(
    request: Request,
    session: Session,
    config: Configuration,
    user: WebUser,
    form: AssessmentForm,
    *,
    problems: FormProblems | None = None,
    status_code: int = 200,
) -> Response:
    today = utc_now().date()
    scale = config.assessments.ordinal_scale
    return render(
        request,
        "assessment_form.html",
        user,
        status_code=status_code,
        form=form,
        problems=problems.by_field if problems else {},
        summary=problems.summary() if problems else [],
        countries=countries_repository.list_countries(session, include_historical=False),
        factors=factor_names(config),
        evidence_factors=config.assessments.evidence_factors,
        scale=scale,
        confidences=[c.value for c in Confidence],
        today=today.isoformat(),
        latest_end=(today + timedelta(days=config.assessments.max_validity_days)).isoformat(),
        max_validity_days=config.assessments.max_validity_days,
    )


@pages.get("/assessments/new")
def new_assessment(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: Viewer,
    country: str = "",
    factor: str = "",
    supersedes: str = "",
) -> Response:
    may_assess(user)
    form = AssessmentForm(
        country_iso3=country.strip().upper()[:3],
        risk_factor=factor if factor.isdigit() else "",
        supersedes_id=supersedes if supersedes.isdigit() else "",
    )
    return _form_page(request, session, config, user, form)


@pages.post("/assessments")
def record_assessment(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    country_iso3: FormText = "",
    risk_factor: FormText = "",
    level: FormText = "",
    score: FormText = "",
    confidence: FormText = "",
    evidence: FormText = "",
    links: FormText = "",
    valid_from: FormText = "",
    valid_until: FormText = "",
    supersedes_id: FormText = "",
) -> Response:
    may_assess(user)
    form = AssessmentForm(
        country_iso3=country_iso3, risk_factor=risk_factor, level=level, score=score,
        confidence=confidence, evidence=evidence, links=links, valid_from=valid_from,
        valid_until=valid_until, supersedes_id=supersedes_id,
    )  # fmt: skip
    try:
        created = service.create(
            session, config.assessments, assessment_body(form), WebActor.of(user)
        )
    except FormProblems as problems:
        return _form_page(request, session, config, user, form, problems=problems, status_code=422)
    except service.AssessmentError as exc:
        session.rollback()
        status_code = 409 if isinstance(exc, service.AssessmentConflict) else 422
        return _form_page(
            request, session, config, user, form,
            problems=service_problem(str(exc)), status_code=status_code,
        )  # fmt: skip
    return RedirectResponse(f"/assessments/{created.id}?done=recorded", status_code=303)
