"""the interval of the one-year forecast probability

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 02:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("probability_1y_low", "probability_1y_high")


def upgrade() -> None:
    # Plain ADD COLUMN as in 0017 (a SQLite batch rebuild of forecasts trips the foreign keys).
    # Null: a forecast made before this revision, or by a model without an interval.
    for name in _COLUMNS:
        op.add_column("forecasts", sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE forecasts DROP COLUMN {name}")
