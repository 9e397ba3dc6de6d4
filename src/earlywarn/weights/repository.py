from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from earlywarn.framework.models import WeightSet
from earlywarn.scoring.models import ScoreRun
from earlywarn.weights.models import ACTIVATING, WeightSetEvent


def add_event(session: Session, event: WeightSetEvent) -> WeightSetEvent:
    session.add(event)
    session.flush()
    return event


def latest_activation(session: Session) -> WeightSetEvent | None:
    query = (
        select(WeightSetEvent)
        .where(WeightSetEvent.kind.in_(ACTIVATING))
        .order_by(WeightSetEvent.id.desc())
        .limit(1)
    )
    return session.scalars(query).one_or_none()


def was_active(session: Session, weight_set_id: int) -> bool:
    query = select(WeightSetEvent.id).where(
        WeightSetEvent.weight_set_id == weight_set_id, WeightSetEvent.kind.in_(ACTIVATING)
    )
    return session.scalars(query.limit(1)).first() is not None


def events(
    session: Session, weight_set_id: int | None = None, *, limit: int = 500
) -> list[WeightSetEvent]:
    query = select(WeightSetEvent)
    if weight_set_id is not None:
        query = query.where(WeightSetEvent.weight_set_id == weight_set_id)
    return list(session.scalars(query.order_by(WeightSetEvent.id.desc()).limit(limit)))


def get(session: Session, weight_set_id: int) -> WeightSet | None:
    return session.get(WeightSet, weight_set_id)


def runs_using(session: Session, weight_set_id: int) -> int:
    query = (
        select(func.count()).select_from(ScoreRun).where(ScoreRun.weight_set_id == weight_set_id)
    )
    return int(session.scalar(query) or 0)
