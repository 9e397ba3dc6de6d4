"""factor summaries without the names in every row; SQLite's observation index covers reads

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 01:30:00

A score's factor summary listed every factor as an object with its name: ~1,860 characters,
over half of them the same 14 names in every row, and most of a history run's write time.
Summaries now hold the factors' numbers, scores and coverages as three arrays, and the run
holds the names once (``score_runs.factor_names``); ``scoring.summary.factor_summary`` gives
the same full form back. Upgrade converts every stored summary of a run whose rows all name
the same factors (a run that does not keeps its rows in the full form, which the accessor
reads as stored); downgrade writes the full form back and drops the column.

On SQLite the (variable, country, period start) index of observations is widened to every
column a history read takes, so that read walks the index alone instead of looking up each
of a million rows in the table (PostgreSQL reads the table in one sequential pass and keeps
the narrow index).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SUMMARY_FORMAT = "factor-arrays"
NARROW_INDEX = (
    "ix_observations_variable_country_period",
    ["variable", "country_iso3", "period_start"],
)
COVERING_INDEX = (
    "ix_observations_variable_country_period_all",
    ["variable", "country_iso3", "period_start", "period_end", "ingest_run_id", "period", "value"],
)

_runs = sa.table("score_runs", sa.column("id", sa.Integer), sa.column("factor_names", JSON_TYPE))
_scores = sa.table(
    "country_scores",
    sa.column("id", sa.Integer),
    sa.column("score_run_id", sa.Integer),
    sa.column("factor_summary", JSON_TYPE),
)


def _compact(full: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    factors = full["factors"]
    return (
        {
            "format": SUMMARY_FORMAT,
            "factors_with_data": full["factors_with_data"],
            "armed_conflict": full["armed_conflict"],
            "points_to": full["points_to"],
            "numbers": [f["number"] for f in factors],
            "scores": [f["score"] for f in factors],
            "coverage": [f["coverage"] for f in factors],
        },
        [f["name"] for f in factors],
    )


def _full(stored: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {
        "factors_with_data": stored["factors_with_data"],
        "armed_conflict": stored["armed_conflict"],
        "points_to": stored["points_to"],
        "factors": [
            {"number": number, "name": name, "score": score, "coverage": coverage}
            for number, name, score, coverage in zip(
                stored["numbers"], names, stored["scores"], stored["coverage"], strict=True
            )
        ],
    }


def _rewrite(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(
            _scores.update()
            .where(_scores.c.id == sa.bindparam("score_id"))
            .values(factor_summary=sa.bindparam("summary")),
            rows,
        )


def _runs_with_scores(connection: sa.Connection) -> list[int]:
    query = sa.select(_scores.c.score_run_id).distinct().order_by(_scores.c.score_run_id)
    return [int(r) for r in connection.scalars(query)]


def _scores_of(connection: sa.Connection, run_id: int) -> list[tuple[int, Any]]:
    query = sa.select(_scores.c.id, _scores.c.factor_summary).where(
        _scores.c.score_run_id == run_id
    )
    return [(int(i), s) for i, s in connection.execute(query)]


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("factor_names", JSON_TYPE, nullable=True))
    for run_id in _runs_with_scores(connection):
        converted = [
            (score_id, *_compact(summary))
            for score_id, summary in _scores_of(connection, run_id)
            if isinstance(summary, dict) and "factors" in summary
        ]
        if not converted or len({tuple(names) for _, _, names in converted}) != 1:
            continue  # nothing to convert, or rows that disagree on names: kept as they are
        _rewrite(connection, [{"score_id": i, "summary": s} for i, s, _ in converted])
        connection.execute(
            _runs.update().where(_runs.c.id == run_id).values(factor_names=converted[0][2])
        )
    if connection.dialect.name == "sqlite":
        with op.batch_alter_table("observations", schema=None) as batch_op:
            batch_op.drop_index(NARROW_INDEX[0])
            batch_op.create_index(COVERING_INDEX[0], COVERING_INDEX[1], unique=False)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        with op.batch_alter_table("observations", schema=None) as batch_op:
            batch_op.drop_index(COVERING_INDEX[0])
            batch_op.create_index(NARROW_INDEX[0], NARROW_INDEX[1], unique=False)
    names_of = {
        int(run_id): names
        for run_id, names in connection.execute(sa.select(_runs.c.id, _runs.c.factor_names))
        if names is not None
    }
    for run_id in _runs_with_scores(connection):
        if run_id not in names_of:
            continue  # its rows were never converted
        rows = [
            {"score_id": score_id, "summary": _full(summary, names_of[run_id])}
            for score_id, summary in _scores_of(connection, run_id)
            if isinstance(summary, dict) and summary.get("format") == SUMMARY_FORMAT
        ]
        _rewrite(connection, rows)
    # Not in batch mode: on SQLite that copies score_runs into a new table and drops the old
    # one, which its foreign keys refuse while scores point at the runs. SQLite (3.35+) drops
    # an unindexed column in place.
    op.drop_column("score_runs", "factor_names")
