"""The early-action forms of the alert page: from form fields to the service's own request
shapes (``ActionIn``, ``ActionPatch``, validated by pydantic as the API's bodies are), and the
audit trail's action events in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from earlywarn.alerting.models import AlertEvent, AlertEventKind
from earlywarn.alerting.response_models import ActionStatus
from earlywarn.alerting.response_schemas import ActionIn, ActionPatch

_FIELD_NAMES = {
    "catalogue_code": "recommended action",
    "text": "action",
    "sphere": "sphere",
    "who_acts": "who acts",
    "status": "status",
    "dropped_reason": "reason for dropping",
    "due_date": "due date",
    "outcome_note": "outcome note",
}


@dataclass(frozen=True)
class RecordForm:
    """What the "Record an action" form holds: empty, a row picked from a priority action's
    link, or what was submitted and refused (so nothing typed is lost)."""

    code: str = ""
    text: str = ""
    sphere: str = ""
    who_acts: str = ""
    status: str = ActionStatus.PLANNED.value
    dropped_reason: str = ""
    due_date: str = ""
    outcome_note: str = ""


class FormError(ValueError):
    """The form cannot become a request; the message says why, in the form's words."""


def _clean(value: str) -> str | None:
    value = value.strip()
    return value or None


def _explain(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in item["loc"])
        label = _FIELD_NAMES.get(field)
        parts.append(f"{label}: {message}" if label else message)
    return "; ".join(parts)


def new_action(form: RecordForm) -> ActionIn:
    """A recommended row (its code) or a free-text action with its sphere, never both."""
    code, text = _clean(form.code), _clean(form.text)
    if code is not None and text is not None:
        raise FormError(
            "Choose a recommended action or write your own, not both: clear one of them."
        )
    status = _clean(form.status) or ActionStatus.PLANNED.value
    body: dict[str, Any] = {
        "catalogue_code": code,
        "text": text,
        # A row carries its own sphere; the sphere field is for a free-text action.
        "sphere": _clean(form.sphere) if code is None else None,
        "who_acts": _clean(form.who_acts) or "",
        "status": status,
        "dropped_reason": _clean(form.dropped_reason) if status == "dropped" else None,
        "due_date": _clean(form.due_date),
        "outcome_note": _clean(form.outcome_note),
    }
    try:
        return ActionIn.model_validate(body)
    except ValidationError as exc:
        raise FormError(_explain(exc)) from exc


def action_change(form: RecordForm) -> ActionPatch:
    """Every field of the update form is sent; the service records only what differs."""
    status = _clean(form.status)
    body: dict[str, Any] = {
        "who_acts": _clean(form.who_acts),
        "status": status,
        "dropped_reason": _clean(form.dropped_reason) if status == "dropped" else None,
        "due_date": _clean(form.due_date),
        "outcome_note": _clean(form.outcome_note),
    }
    try:
        return ActionPatch.model_validate(body)
    except ValidationError as exc:
        raise FormError(_explain(exc)) from exc


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "–"
    return str(value).replace("_", " ") if value in set(ActionStatus) else str(value)


def describe_event(event: AlertEvent) -> str:
    """The audit trail's note column: an action event says which action and what changed."""
    details = event.details or {}
    if event.kind is AlertEventKind.ACTION_RECORDED:
        code = f"{details['catalogue_code']} " if details.get("catalogue_code") else ""
        facts = [
            str(details.get("sphere", "")),
            _shown(details.get("status")),
            f"who acts: {details.get('who_acts')}",
        ]
        if details.get("due_date"):
            facts.append(f"due {details['due_date']}")
        return f"Action #{details.get('action_id')}: {code}{event.note or ''} ({'; '.join(facts)})"
    if event.kind is AlertEventKind.ACTION_UPDATED:
        changes = details.get("changes") or {}
        said = ", ".join(
            f"{_FIELD_NAMES.get(name, name)} {_shown(old)} → {_shown(new)}"
            for name, (old, new) in changes.items()
        )
        return f"Action #{details.get('action_id')}: {said}"
    return event.note or ""
