"""alerts carry their ranked priority actions; scores say when their evidence is too thin

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # Alerts opened before this revision have no ranking; an empty list says so (the next
    # run that re-levels or reopens them fills it). Plain ALTER TABLE, as in 0013: a batch
    # rebuild of alerts would trip the foreign keys of its events and outbox messages.
    op.add_column(
        "alerts",
        sa.Column("priority_actions", _JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    # Why a score's level is held at 'concern' (coverage below min_coverage_for_level); scores
    # stored before this revision were not held, and say nothing.
    op.add_column("country_scores", sa.Column("insufficient_data", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE country_scores DROP COLUMN insufficient_data")
    op.execute("ALTER TABLE alerts DROP COLUMN priority_actions")
