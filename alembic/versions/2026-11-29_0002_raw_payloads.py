"""raw payload archive

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "raw_payloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ingest_run_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("compression", sa.String(length=16), nullable=False),
        sa.Column("compressed_bytes", sa.Integer(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("stored_in_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ingest_run_id"],
            ["ingest_runs.id"],
            name=op.f("fk_raw_payloads_ingest_run_id_ingest_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["stored_in_id"],
            ["raw_payloads.id"],
            name=op.f("fk_raw_payloads_stored_in_id_raw_payloads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_payloads")),
    )
    with op.batch_alter_table("raw_payloads", schema=None) as batch_op:
        batch_op.create_index("ix_raw_payloads_sha256", ["sha256"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_raw_payloads_ingest_run_id"), ["ingest_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("raw_payloads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_payloads_ingest_run_id"))
        batch_op.drop_index("ix_raw_payloads_sha256")
    op.drop_table("raw_payloads")
