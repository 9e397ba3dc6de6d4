"""Early action: what focal points record doing about an alert, each change audited.

A focal point concerned by the alert (the same test as for acknowledging it) or an
administrator records an action: one of the alert's recommended rows, named by its catalogue
code, or a free-text action with its sphere; who acts; a status (planned, under way, done, or
dropped with a reason); a due date and an outcome note. Every record and every change is an
``AlertEvent`` (``action_recorded``, ``action_updated``) with the actor and what changed.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.alerting import repository, response_repository
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.alerting.response_models import ActionStatus, AlertAction
from earlywarn.alerting.response_schemas import ActionIn, ActionPatch
from earlywarn.db import utc_now
from earlywarn.framework.config import Configuration
from earlywarn.framework.priority import row_code
from earlywarn.types import Sphere

# Why a focal point may not act on an alert, or None when it may (notify knows who was told).
RefusalCheck = Callable[[Session, Alert, int], str | None]


class ActionNotFoundError(LookupError):
    pass


class ActionAccessError(PermissionError):
    pass


class ActionInputError(ValueError):
    """The action cannot be recorded as given; the message says why."""


def _alert(session: Session, alert_id: int) -> Alert:
    alert = repository.get(session, alert_id, for_update=True)
    if alert is None:
        raise ActionNotFoundError(f"no alert {alert_id}")
    return alert


def check_access(
    session: Session,
    alert: Alert,
    *,
    administrator: bool,
    focal_point_id: int | None,
    refusal: RefusalCheck | None,
) -> None:
    if administrator:
        return
    if focal_point_id is None:
        raise ActionAccessError(
            "this key is not linked to a focal point, so it cannot record actions"
        )
    if refusal is None:
        raise TypeError("a focal point's action needs an access check")
    reason = refusal(session, alert, focal_point_id)
    if reason is not None:
        raise ActionAccessError(reason)


def recommended_row(config: Configuration, alert: Alert, code: str) -> tuple[Sphere, str]:
    """The sphere and text of catalogue row ``code`` when the alert recommends it."""
    heading_code, _, number = code.rpartition(".")
    try:
        heading = config.heading(heading_code)
    except KeyError:
        raise ActionInputError(f"no action heading {heading_code} in the catalogue") from None
    rows = [(group.title, text) for group in heading.groups for text in group.actions]
    position = int(number)
    if not 1 <= position <= len(rows):
        raise ActionInputError(f"heading {heading_code} has rows 1 to {len(rows)}, not {number}")
    group, text = rows[position - 1]
    recommended = {
        (row["group"], row["text"])
        for h in alert.actions.get(heading.sphere.value, [])
        if h.get("code") == heading_code
        for row in h.get("actions", [])
    }
    if (group, text) not in recommended:
        raise ActionInputError(
            f"row {code} is not among this alert's recommended actions; record it as a "
            "free-text action (text and sphere) if it is what was done"
        )
    return heading.sphere, text


@dataclass(frozen=True)
class RecommendedRow:
    """A row of the alert's recommended actions, with the catalogue code that names it."""

    code: str
    sphere: Sphere
    heading_title: str
    text: str
    imminent: bool


def recommended_rows(config: Configuration, alert: Alert) -> list[RecommendedRow]:
    """Every row the alert recommends, by sphere and catalogue order: what ``record_action``
    accepts as a ``catalogue_code``."""
    rows: list[RecommendedRow] = []
    for sphere in Sphere:
        for heading in alert.actions.get(sphere.value, []):
            for row in heading.get("actions", []):
                try:
                    code = row_code(config, str(heading["code"]), row["group"], row["text"])
                except KeyError:
                    # The catalogue changed since the alert was written: the row has no code
                    # now, and record_action would refuse it; it stays readable on the alert.
                    continue
                rows.append(
                    RecommendedRow(
                        code=code,
                        sphere=sphere,
                        heading_title=str(heading.get("title", "")),
                        text=row["text"],
                        imminent=bool(row.get("for_imminent_risk")),
                    )
                )
    return rows


def _audit(
    session: Session,
    alert: Alert,
    kind: AlertEventKind,
    actor: str,
    details: dict[str, Any],
    note: str | None = None,
) -> AlertEvent:
    return repository.add_event(
        session,
        AlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=utc_now(),
            actor=actor,
            from_level=alert.level,
            to_level=alert.level,
            note=note,
            details=details,
        ),
    )


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, ActionStatus | Sphere):
        return value.value
    return value


def record_action(
    session: Session,
    config: Configuration,
    alert_id: int,
    body: ActionIn,
    *,
    actor: str,
    administrator: bool,
    focal_point_id: int | None,
    refusal: RefusalCheck | None,
) -> AlertAction:
    alert = _alert(session, alert_id)
    check_access(
        session, alert, administrator=administrator, focal_point_id=focal_point_id,
        refusal=refusal,
    )  # fmt: skip
    if alert.operational:
        raise ActionInputError("operational alerts (data sources) take no early actions")
    if body.catalogue_code is not None:
        sphere, text = recommended_row(config, alert, body.catalogue_code)
        if body.sphere is not None and body.sphere is not sphere:
            raise ActionInputError(
                f"row {body.catalogue_code} is {sphere.value}, not {body.sphere}"
            )
    else:
        sphere, text = body.sphere, body.text  # type: ignore[assignment]
    now = utc_now()
    action = AlertAction(
        alert_id=alert.id,
        catalogue_code=body.catalogue_code,
        text=text,
        sphere=sphere,
        who_acts=body.who_acts,
        status=body.status,
        dropped_reason=body.dropped_reason,
        due_date=body.due_date,
        outcome_note=body.outcome_note,
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )
    session.add(action)
    session.flush()
    _audit(
        session,
        alert,
        AlertEventKind.ACTION_RECORDED,
        actor,
        {
            "action_id": action.id,
            "catalogue_code": action.catalogue_code,
            "sphere": sphere.value,
            "who_acts": action.who_acts,
            "status": action.status.value,
            "due_date": _json(action.due_date),
        },
        note=text[:500],
    )
    return action


_PATCHABLE = ("who_acts", "status", "dropped_reason", "due_date", "outcome_note")


def update_action(
    session: Session,
    alert_id: int,
    action_id: int,
    patch: ActionPatch,
    *,
    actor: str,
    administrator: bool,
    focal_point_id: int | None,
    refusal: RefusalCheck | None,
) -> AlertAction:
    alert = _alert(session, alert_id)
    check_access(
        session, alert, administrator=administrator, focal_point_id=focal_point_id,
        refusal=refusal,
    )  # fmt: skip
    action = session.get(AlertAction, action_id, with_for_update=True)
    if action is None or action.alert_id != alert.id:
        raise ActionNotFoundError(f"alert {alert_id} has no action {action_id}")
    changes: dict[str, list[Any]] = {}
    for name in _PATCHABLE:
        if name not in patch.model_fields_set:
            continue
        new = getattr(patch, name)
        if name in ("who_acts", "status") and new is None:
            raise ActionInputError(f"{name} cannot be emptied")
        old = getattr(action, name)
        if new != old:
            changes[name] = [_json(old), _json(new)]
            setattr(action, name, new)
    if action.status is ActionStatus.DROPPED and not action.dropped_reason:
        raise ActionInputError("a dropped action needs a dropped_reason")
    # A reason belongs to the drop; an action taken up again keeps it in the audit trail.
    taken_up_again = action.status is not ActionStatus.DROPPED and "status" in changes
    if taken_up_again and action.dropped_reason is not None:
        changes["dropped_reason"] = [action.dropped_reason, None]
        action.dropped_reason = None
    if not changes:
        return action
    action.updated_at = utc_now()
    action.updated_by = actor
    _audit(
        session,
        alert,
        AlertEventKind.ACTION_UPDATED,
        actor,
        {"action_id": action.id, "changes": changes},
        note=f"{action.text[:200]}: "
        + ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in changes.items()),
    )
    return action


def actions_for(session: Session, alert_id: int) -> list[AlertAction]:
    return list(
        session.scalars(
            select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(AlertAction.id)
        )
    )


def actions_for_alerts(session: Session, alert_ids: list[int]) -> dict[int, list[AlertAction]]:
    """The recorded actions of several alerts (a country brief's), oldest first, in one query."""
    found: dict[int, list[AlertAction]] = {alert_id: [] for alert_id in alert_ids}
    for action in response_repository.actions_of(session, alert_ids):
        found[action.alert_id].append(action)
    return found
