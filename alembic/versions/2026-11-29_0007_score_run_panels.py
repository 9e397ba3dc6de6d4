"""history runs store their breakdowns as one binary panel per run

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_run_panels",
        sa.Column("score_run_id", sa.Integer(), sa.ForeignKey("score_runs.id"), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("score_run_panels")
