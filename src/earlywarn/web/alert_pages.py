"""Alerts for people: the inbox, the alert page and acknowledging with a note.

The alert page leads with the alert's priority actions (the same list as the e-mail), the
whole recommended catalogue one click away, then what was done (``web.alert_actions`` records
it), the evidence, the audit trail and the deliveries.

``/alerts/{id}`` and ``/alerts/{id}/acknowledge`` are also API routes; as with the country
brief, a browser's page request gets the page (``BrowserPageRoute``) and API clients the API.
A GET never changes anything: the acknowledge link of an e-mail opens a confirmation form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from earlywarn.alerting import lifecycle, responses
from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting.events import AlertEventSink
from earlywarn.alerting.lifecycle import AlertAccessError, AlertNotFoundError, AlertStateError
from earlywarn.alerting.models import Alert, AlertState
from earlywarn.alerting.response_models import ActionStatus
from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.accounts import WebUser
from earlywarn.framework.config import Configuration
from earlywarn.notify import alert_events as notify_alert_events
from earlywarn.notify import outbox as notify_outbox
from earlywarn.types import RiskLevel, Sphere
from earlywarn.web.action_forms import RecordForm, describe_event
from earlywarn.web.country_pages import BrowserPageRoute
from earlywarn.web.deps import FormUser, PageRefused, Viewer
from earlywarn.web.templating import render
from earlywarn.web.worldmap import LEVEL_COLOURS

pages = APIRouter(include_in_schema=False, route_class=BrowserPageRoute)
router = APIRouter(include_in_schema=False)

INBOX_LIMIT = 200
STATE_FILTERS = {
    "open": [AlertState.FIRING, AlertState.ACKNOWLEDGED],
    "firing": [AlertState.FIRING],
    "acknowledged": [AlertState.ACKNOWLEDGED],
    "resolved": [AlertState.RESOLVED],
    "all": None,
}
NOTE_MAX_CHARS = 2000


def _mine(session: Session, user: WebUser, alert: Alert) -> bool:
    """A focal point's alert: one it may act on (told about it, on its escalation chain, or
    matched by its subscriptions), by notify's own rule."""
    if user.focal_point_id is None:
        return False
    return notify_alert_events.refusal_to_act(session, alert, user.focal_point_id) is None


@router.get("/inbox")
def inbox(
    request: Request,
    session: SessionDep,
    user: Viewer,
    state: str = "open",
    level: str = "",
    region: str = "",
    scope: str = "",
) -> Response:
    states = STATE_FILTERS.get(state, STATE_FILTERS["open"])
    chosen_level = RiskLevel(level) if level in {lv.value for lv in RiskLevel} else None
    regions = sorted(set(alerting_repository.country_regions(session).values()))
    alerts = alerting_repository.list_alerts(
        session,
        states=states,
        country_iso3=None,
        level=chosen_level,
        rule_id=None,
        limit=INBOX_LIMIT,
        region=region if region in regions else None,
    )
    # A focal point sees its own alerts unless it asks for all; others see all.
    scope = scope if scope in ("mine", "all") else ("mine" if user.focal_point_id else "all")
    if scope == "mine":
        alerts = [a for a in alerts if _mine(session, user, a)]
    return render(
        request,
        "inbox.html",
        user,
        alerts=alerts,
        names=alerting_repository.country_names(session),
        state=state if state in STATE_FILTERS else "open",
        states=list(STATE_FILTERS),
        level=chosen_level.value if chosen_level else "",
        levels=list(RiskLevel),
        region=region if region in regions else "",
        regions=regions,
        scope=scope,
        colours=LEVEL_COLOURS,
    )


def may_act(session: Session, user: WebUser, alert: Alert) -> bool:
    """Whether the page offers this user the forms that change the alert (acknowledge,
    record an action); the services check again on every POST."""
    return user.can("acknowledge") and (user.can("admin") or _mine(session, user, alert))


def alert_page_response(
    request: Request,
    session: Session,
    user: WebUser,
    alert: Alert,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_at: str = "top",
    confirm: bool = False,
    record: RecordForm | None = None,
) -> Response:
    """The alert page: priority actions, what was done, evidence, audit trail, deliveries.
    ``error_at`` places an error beside the form that caused it (top, record, action-N)."""
    config: Configuration = request.app.state.configuration
    acting = may_act(session, user, alert)
    return render(
        request,
        "alert.html",
        user,
        status_code=status_code,
        alert=alert,
        country=alerting_repository.country_names(session).get(alert.country_iso3 or ""),
        spheres=[s.value for s in Sphere],
        catalogue_headings=sum(len(headings) for headings in alert.actions.values()),
        catalogue_rows=sum(
            len(h.get("actions", [])) for headings in alert.actions.values() for h in headings
        ),
        recorded=responses.actions_for(session, alert.id),
        trail=[
            (event, describe_event(event))
            for event in alerting_repository.events_for(session, alert.id)
        ],
        deliveries=notify_outbox.deliveries_for_alert(session, alert.id)
        if user.can("admin")
        else None,
        may_acknowledge=acting and alert.state is AlertState.FIRING,
        may_record=acting and not alert.operational,
        rows=responses.recommended_rows(config, alert) if acting else [],
        record=record or RecordForm(),
        statuses=list(ActionStatus),
        confirm=confirm,
        error=error,
        error_at=error_at,
        colours=LEVEL_COLOURS,
    )


def alert_or_404(session: Session, alert_id: int) -> Alert:
    alert = alerting_repository.get(session, alert_id)
    if alert is None:
        raise PageRefused(f"There is no alert {alert_id}.", status_code=404)
    return alert


@pages.get("/alerts/{alert_id}")
def alert_page(
    request: Request,
    session: SessionDep,
    user: Viewer,
    alert_id: IdPath,
    record: str = "",
) -> Response:
    """``?record=CODE`` (the "Record this action" link of a priority action) only preselects
    that row in the form (an unknown code preselects nothing); a GET never changes anything."""
    return alert_page_response(
        request,
        session,
        user,
        alert_or_404(session, alert_id),
        record=RecordForm(code=record[:16]),
    )


@router.get("/alerts/{alert_id}/acknowledge")
def confirm_acknowledge(
    request: Request, session: SessionDep, user: Viewer, alert_id: IdPath
) -> Response:
    """Where the e-mail's acknowledge link leads: the alert with the form, nothing changed."""
    return alert_page_response(
        request, session, user, alert_or_404(session, alert_id), confirm=True
    )


@pages.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    request: Request,
    session: SessionDep,
    user: FormUser,
    alert_id: IdPath,
    note: Annotated[str, Form(max_length=NOTE_MAX_CHARS)] = "",
) -> Response:
    if not user.can("acknowledge"):
        raise PageRefused(f"Your role ({user.role.value}) may not acknowledge alerts.")
    # As the API's route: the transition is alerting's, its messages notify's (the sink the
    # app factory put on app.state), in this request's transaction.
    sink: AlertEventSink = request.app.state.alert_event_sink
    try:
        update = lifecycle.acknowledge(
            session,
            alert_id,
            actor=user.actor,
            note=note.strip() or None,
            administrator=user.can("admin"),
            focal_point_id=user.focal_point_id,
            access=sink,
        )
    except AlertNotFoundError as exc:
        raise PageRefused(str(exc), status_code=404) from exc
    except (AlertStateError, AlertAccessError) as exc:
        session.rollback()
        status_code = 403 if isinstance(exc, PermissionError) else 409
        return alert_page_response(
            request, session, user, alert_or_404(session, alert_id), status_code=status_code,
            error=str(exc), error_at="ack",
        )  # fmt: skip
    sink.hand_over(session, [update])
    return RedirectResponse(f"/alerts/{alert_id}#trail", status_code=303)
