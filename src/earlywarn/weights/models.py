"""The append-only audit log of weight-set changes, and the guard that keeps weight sets
immutable (a score points at the weights it used; changing them would rewrite history)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.framework.models import WeightSet
from earlywarn.types import enum_column


class WeightSetEventKind(StrEnum):
    PROPOSED = "proposed"  # created through the API, not in use
    APPLIED = "applied"  # made the active set by an administrator
    ROLLED_BACK = "rolled_back"  # an earlier set made active again
    CONFIG = "config"  # new weights in config/*.yaml, active from the next run


# The kinds after which the event's weight set is the active one.
ACTIVATING = (WeightSetEventKind.APPLIED, WeightSetEventKind.ROLLED_BACK, WeightSetEventKind.CONFIG)


class WeightSetEvent(Base):
    """One change: who, when, why, and the diff against the set active before. Never updated."""

    __tablename__ = "weight_set_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    weight_set_id: Mapped[int] = mapped_column(ForeignKey("weight_sets.id"), index=True)
    kind: Mapped[WeightSetEventKind] = mapped_column(enum_column(WeightSetEventKind, "kind"))
    previous_weight_set_id: Mapped[int | None] = mapped_column(ForeignKey("weight_sets.id"))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    diff: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ImmutableRowError(RuntimeError):
    """An attempt to change a weight set or an audit event in place."""


_FROZEN = ("version", "content_digest", "indicator_weights", "factor_weights")


@event.listens_for(WeightSet, "before_update")
def _weight_set_is_immutable(_mapper: Mapper[Any], _conn: Connection, target: WeightSet) -> None:
    state = inspect(target)
    changed = [name for name in _FROZEN if state.attrs[name].history.has_changes()]
    if changed:
        raise ImmutableRowError(
            f"weight set {target.id} is immutable ({', '.join(changed)}): propose a new one"
        )


@event.listens_for(WeightSetEvent, "before_update")
def _event_is_append_only(_mapper: Mapper[Any], _conn: Connection, target: WeightSetEvent) -> None:
    raise ImmutableRowError(f"weight-set event {target.id} is part of the audit log")
