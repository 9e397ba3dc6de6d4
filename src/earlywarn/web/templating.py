"""The Jinja2 environment of the pages, and the one helper every page renders through."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from earlywarn.auth.accounts import WebUser
from earlywarn.framework.priority_text import priority_why
from earlywarn.web.assessment_section import person

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def _number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _age(value: datetime | None) -> str:
    """How long ago, in the unit a reader expects (hours, days, months)."""
    if value is None:
        return "never"
    seconds = (datetime.now(UTC) - value.astimezone(UTC)).total_seconds()
    if seconds < 3600 * 48:
        return f"{max(0, int(seconds // 3600))} h ago"
    days = int(seconds // 86400)
    return f"{days} days ago" if days < 120 else f"{days // 30} months ago"


templates.env.filters["number"] = _number
templates.env.filters["percent"] = _percent
templates.env.filters["when"] = _when
templates.env.filters["age"] = _age
# Audit-trail actors ("key:12:Jane", "user:3:jane@example.org") by name.
templates.env.filters["person"] = person
# The same words for a priority action's reasons as the e-mail and the CAP instruction.
templates.env.filters["priority_why"] = priority_why


def render(
    request: Request,
    name: str,
    user: WebUser | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return templates.TemplateResponse(
        request, name, {"user": user, **context}, status_code=status_code
    )
