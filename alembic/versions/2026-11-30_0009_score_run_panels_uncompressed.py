"""score run panels stored uncompressed by PostgreSQL (STORAGE EXTERNAL)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A panel is mostly float64 arrays, which PostgreSQL's pglz barely shrinks, yet trying
    # to compress ~40 MB of panels cost most of a history run's panel write (0.8 s vs
    # 0.2 s measured). EXTERNAL keeps out-of-line storage without the compression attempt.
    # A physical storage setting only: the table's columns and types are unchanged, and
    # SQLite has no equivalent (it never compressed).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE score_run_panels ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE score_run_panels ALTER COLUMN data SET STORAGE EXTENDED")
