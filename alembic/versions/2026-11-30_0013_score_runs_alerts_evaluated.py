"""score runs record whether alerts were evaluated on them; index runs by date

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A backfilled history run was never shown to alerting; alert rules read their history
    # only from runs that were, so a backfill cannot open or resolve a live alert.
    # Plain ALTER TABLE, not a batch copy: on SQLite a batch rebuild drops score_runs, which
    # the foreign keys of its scores, panels and forecasts refuse on a database with runs.
    op.add_column(
        "score_runs",
        sa.Column("alerts_evaluated", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    # "Latest" and "previous" are by date: (as_of, id).
    op.create_index("ix_score_runs_as_of_id", "score_runs", ["as_of", "id"], unique=False)
    # Until now only a history backfill stored a panel, and none was evaluated.
    op.execute(
        "UPDATE score_runs SET alerts_evaluated = false "
        "WHERE id IN (SELECT score_run_id FROM score_run_panels)"
    )


def downgrade() -> None:
    op.drop_index("ix_score_runs_as_of_id", table_name="score_runs")
    # SQLite (3.35+) drops a column in place; a batch rebuild would trip the foreign keys.
    op.execute("ALTER TABLE score_runs DROP COLUMN alerts_evaluated")
