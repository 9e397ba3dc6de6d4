"""forecasts: onset probabilities stored beside each scoring run

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("score_run_id", sa.Integer(), nullable=False),
        sa.Column("country_iso3", sa.String(length=3), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("data_year", sa.Integer(), nullable=False),
        sa.Column("probability_1y", sa.Float(), nullable=False),
        sa.Column("probability_2y", sa.Float(), nullable=False),
        sa.Column("rank_2y", sa.Integer(), nullable=False),
        sa.Column("drivers", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_iso3"], ["countries.iso3"], name=op.f("fk_forecasts_country_iso3_countries")
        ),
        sa.ForeignKeyConstraint(
            ["score_run_id"], ["score_runs.id"], name=op.f("fk_forecasts_score_run_id_score_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecasts")),
        sa.UniqueConstraint("score_run_id", "country_iso3", name=op.f("uq_forecasts_score_run_id")),
    )
    op.create_index(op.f("ix_forecasts_country_iso3"), "forecasts", ["country_iso3"])
    op.create_index(op.f("ix_forecasts_score_run_id"), "forecasts", ["score_run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_forecasts_score_run_id"), table_name="forecasts")
    op.drop_index(op.f("ix_forecasts_country_iso3"), table_name="forecasts")
    op.drop_table("forecasts")
