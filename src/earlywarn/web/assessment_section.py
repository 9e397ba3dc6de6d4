"""The country brief's list of approved analyst assessments that count today."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from earlywarn.assessments import service as assessments_service
from earlywarn.framework.config import Configuration


def current_assessments(session: Session, config: Configuration, iso3: str) -> list[dict[str, Any]]:
    """Approved assessments of the country valid today, by factor, with the factor's name; the
    author and reviewer shown by name (the key id is for the audit trail)."""
    names = {f.number: f.name for f in config.framework.risk_factors}
    found = assessments_service.search(
        session, iso3=iso3, risk_factor=None, status="current", approved_only=True, limit=200
    )
    return [
        {
            **a.model_dump(),
            "factor_name": names.get(a.risk_factor, ""),
            "author_name": _name(a.author),
            "reviewer_name": _name(a.reviewer or ""),
        }
        for a in sorted(found, key=lambda a: (a.risk_factor, a.id))
    ]


def _name(actor: str) -> str:
    """'key:12:Jane Doe' -> 'Jane Doe'; any other form as it is."""
    kind, _, rest = actor.partition(":")
    if kind == "key" and ":" in rest:
        return rest.partition(":")[2]
    return actor
