"""weight-set audit log; score runs record the data vintage they scored

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "weight_set_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weight_set_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "proposed",
                "applied",
                "rolled_back",
                "config",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("previous_weight_set_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("diff", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["weight_set_id"],
            ["weight_sets.id"],
            name=op.f("fk_weight_set_events_weight_set_id_weight_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["previous_weight_set_id"],
            ["weight_sets.id"],
            name=op.f("fk_weight_set_events_previous_weight_set_id_weight_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weight_set_events")),
    )
    with op.batch_alter_table("weight_set_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_weight_set_events_weight_set_id"), ["weight_set_id"], unique=False
        )
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vintage_as_of", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("max_ingest_run_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.drop_column("max_ingest_run_id")
        batch_op.drop_column("vintage_as_of")
    with op.batch_alter_table("weight_set_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_weight_set_events_weight_set_id"))
    op.drop_table("weight_set_events")
