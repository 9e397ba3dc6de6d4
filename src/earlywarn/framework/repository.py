"""Every query on the framework tables: risk factors, indicators, action catalogue, weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Table, delete, func, select
from sqlalchemy.orm import Session

from earlywarn.db import Base
from earlywarn.framework.models import (
    ActionHeading,
    Indicator,
    RecommendedAction,
    RiskFactor,
    WeightSet,
)

# --- risk factors and indicators ------------------------------------------------------------


def risk_factors_by_number(session: Session) -> dict[int, RiskFactor]:
    return {f.number: f for f in session.scalars(select(RiskFactor))}


def indicators_by_id(session: Session) -> dict[str, Indicator]:
    return {i.id: i for i in session.scalars(select(Indicator))}


def delete_indicator(session: Session, indicator: Indicator) -> None:
    session.delete(indicator)


# --- action catalogue -----------------------------------------------------------------------


def headings_by_code(session: Session) -> dict[str, ActionHeading]:
    return {h.code: h for h in session.scalars(select(ActionHeading))}


def rows_by_heading(session: Session) -> dict[str, list[RecommendedAction]]:
    """Each heading's rows in document order (headings without rows are absent)."""
    rows: dict[str, list[RecommendedAction]] = {}
    query = select(RecommendedAction).order_by(
        RecommendedAction.heading_code, RecommendedAction.position
    )
    for row in session.scalars(query):
        rows.setdefault(row.heading_code, []).append(row)
    return rows


def delete_rows_of_heading(session: Session, heading_code: str) -> None:
    session.execute(delete(RecommendedAction).where(RecommendedAction.heading_code == heading_code))


def delete_heading(session: Session, heading: ActionHeading) -> None:
    delete_rows_of_heading(session, heading.code)
    session.delete(heading)


def count_recommended_actions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RecommendedAction)) or 0


# --- weight sets ----------------------------------------------------------------------------


def weight_set_by_digest(session: Session, content_digest: str) -> WeightSet | None:
    return session.scalar(select(WeightSet).where(WeightSet.content_digest == content_digest))


def max_weight_set_version(session: Session) -> int:
    return session.scalar(select(func.max(WeightSet.version))) or 0


def list_weight_sets(session: Session) -> Sequence[WeightSet]:
    return session.scalars(select(WeightSet).order_by(WeightSet.version)).all()


def add(session: Session, obj: Base) -> None:
    session.add(obj)


# --- references -----------------------------------------------------------------------------


def _referencing_columns(table_name: str, column_name: str) -> list[tuple[Table, Column[Any]]]:
    """Columns of any registered table with a foreign key to ``table_name.column_name``.

    Read from the metadata rather than listed by hand, so that a stage that later references
    indicators or headings is respected without a change here. The metadata holds the tables of
    the model modules imported so far: the composition root (``earlywarn.app``) imports
    ``app.models_registry`` so that every stage's tables are there; this base package cannot.
    """
    found: list[tuple[Table, Column[Any]]] = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == table_name and fk.column.name == column_name:
                found.append((table, fk.parent))
    return found


def is_referenced(
    session: Session,
    table_name: str,
    column_name: str,
    value: object,
    *,
    ignore_tables: Sequence[str] = (),
) -> bool:
    """Whether a row of a table not in ``ignore_tables`` points at ``value``."""
    for table, column in _referencing_columns(table_name, column_name):
        if table.name in ignore_tables:
            continue
        hit = session.execute(select(column).select_from(table).where(column == value).limit(1))
        if hit.first() is not None:
            return True
    return False


def indicator_is_referenced(session: Session, indicator_id: str) -> bool:
    return is_referenced(session, Indicator.__tablename__, "id", indicator_id)


def heading_is_referenced(session: Session, heading_code: str) -> bool:
    """References other than the heading's own recommended-action rows."""
    return is_referenced(
        session,
        ActionHeading.__tablename__,
        "code",
        heading_code,
        ignore_tables=[RecommendedAction.__tablename__],
    )


def any_row_of_heading_is_referenced(session: Session, heading_code: str) -> bool:
    row_ids = session.scalars(
        select(RecommendedAction.id).where(RecommendedAction.heading_code == heading_code)
    ).all()
    return any(
        is_referenced(session, RecommendedAction.__tablename__, "id", row_id) for row_id in row_ids
    )
