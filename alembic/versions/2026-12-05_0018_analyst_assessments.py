"""analyst assessments and their audit log

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit log refuses changes in the database too, like weight-set events (0012, whose
# PostgreSQL function earlywarn_refuse_update this reuses): a script or a console cannot
# rewrite who approved what.
_EVENTS_MESSAGE = "assessment events are an append-only audit log"
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, native_enum=False, create_constraint=True, length=32, name=name)


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_iso3", sa.String(length=3), nullable=False),
        sa.Column("risk_factor", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("scale_label", sa.String(length=32), nullable=True),
        sa.Column("confidence", _enum("confidence", ["low", "medium", "high"]), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("links", _JSON, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column(
            "status",
            _enum("status", ["pending", "approved", "rejected", "withdrawn", "superseded"]),
            nullable=False,
        ),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("author_key_id", sa.Integer(), nullable=True),
        sa.Column("reviewer", sa.String(length=128), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score >= 0 AND score <= 1", name=op.f("ck_assessments_score_range")),
        sa.CheckConstraint(
            "risk_factor >= 1 AND risk_factor <= 14",
            name=op.f("ck_assessments_risk_factor_range"),
        ),
        sa.CheckConstraint("valid_until >= valid_from", name=op.f("ck_assessments_valid_period")),
        sa.ForeignKeyConstraint(
            ["country_iso3"],
            ["countries.iso3"],
            name=op.f("fk_assessments_country_iso3_countries"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["assessments.id"],
            name=op.f("fk_assessments_supersedes_id_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    op.create_index("ix_assessments_country_factor", "assessments", ["country_iso3", "risk_factor"])
    op.create_index(op.f("ix_assessments_status"), "assessments", ["status"])
    op.create_table(
        "assessment_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            _enum("kind", ["created", "approved", "rejected", "withdrawn", "superseded"]),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("snapshot", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessments.id"],
            name=op.f("fk_assessment_events_assessment_id_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_events")),
    )
    op.create_index(
        op.f("ix_assessment_events_assessment_id"), "assessment_events", ["assessment_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE TRIGGER assessment_events_append_only BEFORE UPDATE ON assessment_events
            FOR EACH ROW EXECUTE FUNCTION earlywarn_refuse_update('{_EVENTS_MESSAGE}')
            """
        )
    else:
        op.execute(
            f"""
            CREATE TRIGGER assessment_events_append_only BEFORE UPDATE ON assessment_events
            FOR EACH ROW BEGIN SELECT RAISE(ABORT, '{_EVENTS_MESSAGE}'); END
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS assessment_events_append_only ON assessment_events")
    else:
        op.execute("DROP TRIGGER IF EXISTS assessment_events_append_only")
    op.drop_index(op.f("ix_assessment_events_assessment_id"), table_name="assessment_events")
    op.drop_table("assessment_events")
    op.drop_index(op.f("ix_assessments_status"), table_name="assessments")
    op.drop_index("ix_assessments_country_factor", table_name="assessments")
    op.drop_table("assessments")
