"""The country brief's analyst assessments: the approved ones that count today, and for those
who review them, the ones still waiting for a second analyst."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from earlywarn.assessments import service as assessments_service
from earlywarn.auth.accounts import WebUser
from earlywarn.framework.config import Configuration


def current_assessments(
    session: Session, config: Configuration, iso3: str, user: WebUser | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Approved assessments of the country valid today, and (for a user who may assess) its
    pending ones, by factor, with the factor's name; people shown by name (the key or account
    id is for the audit trail)."""
    names = {f.number: f.name for f in config.framework.risk_factors}

    def listed(status: str) -> list[dict[str, Any]]:
        found = assessments_service.search(
            session, iso3=iso3, risk_factor=None, status=status, approved_only=False, limit=200
        )
        return [
            {
                **a.model_dump(),
                "factor_name": names.get(a.risk_factor, ""),
                "author_name": person(a.author),
                "reviewer_name": person(a.reviewer or ""),
            }
            for a in sorted(found, key=lambda a: (a.risk_factor, a.id))
        ]

    may_assess = user is not None and user.can("assess")
    return {"current": listed("current"), "pending": listed("pending") if may_assess else []}


def person(actor: str) -> str:
    """'key:12:Jane Doe' -> 'Jane Doe', 'user:3:jane@example.org' -> 'jane@example.org'; any
    other form as it is."""
    kind, _, rest = actor.partition(":")
    if kind in ("key", "user") and ":" in rest:
        return rest.partition(":")[2]
    return actor
