"""the database's own key for its forecasting model registry; forecast intervals

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INTERVAL_COLUMNS = (
    ("probability_2y_low", sa.Float()),
    ("probability_2y_high", sa.Float()),
    ("rank_2y_best", sa.Integer()),
    ("rank_2y_worst", sa.Integer()),
)


def upgrade() -> None:
    # Models live under <models dir>/<key>/: a database finds only the models trained for it.
    op.create_table(
        "forecast_registry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    # Plain ADD/DROP COLUMN, not a batch copy: a SQLite batch rebuild of forecasts would trip
    # the foreign keys (as in 0013). Null: a forecast made without an interval.
    for name, kind in _INTERVAL_COLUMNS:
        op.add_column("forecasts", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in _INTERVAL_COLUMNS:
        op.execute(f"ALTER TABLE forecasts DROP COLUMN {name}")
    op.drop_table("forecast_registry")
