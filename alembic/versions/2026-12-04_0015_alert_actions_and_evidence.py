"""alerts carry their ranked priority actions and the early actions recorded on them; CAP
feed tokens; scores say when their evidence is too thin

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")

OLD_KINDS = (
    "opened",
    "escalated",
    "deescalated",
    "acknowledged",
    "resolved",
    "reopened",
    "tier_escalated",
    "reminded",
    "delivery_requeued",
)
NEW_KINDS = (*OLD_KINDS, "action_recorded", "action_updated", "action_overdue")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


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
    op.create_table(
        "alert_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("catalogue_code", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "sphere",
            _enum("sphere", ("national", "bilateral", "regional", "multilateral")),
            nullable=False,
        ),
        sa.Column("who_acts", sa.String(length=200), nullable=False),
        sa.Column(
            "status", _enum("status", ("planned", "under_way", "done", "dropped")), nullable=False
        ),
        sa.Column("dropped_reason", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_actions_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_actions")),
    )
    op.create_index(op.f("ix_alert_actions_alert_id"), "alert_actions", ["alert_id"], unique=False)
    # Per-consumer tokens for the CAP feed (readers that cannot send an API-key header).
    op.create_table(
        "cap_feed_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cap_feed_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_cap_feed_tokens_token_hash")),
    )
    # Recording and changing an action are events of the alert's audit trail.
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=_enum("kind", OLD_KINDS),
            type_=_enum("kind", NEW_KINDS),
            existing_nullable=False,
        )


def downgrade() -> None:
    # The audit trail is append-only: refuse rather than delete the rows the old CHECK forbids.
    bind = op.get_bind()
    recorded = bind.execute(
        sa.text(
            "SELECT count(*) FROM alert_events "
            "WHERE kind IN ('action_recorded', 'action_updated', 'action_overdue')"
        )
    ).scalar_one()
    if recorded:
        raise RuntimeError(
            f"{recorded} alert event(s) record early actions; the audit trail is append-only, "
            "so this downgrade would have to delete them. Export them first."
        )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=_enum("kind", NEW_KINDS),
            type_=_enum("kind", OLD_KINDS),
            existing_nullable=False,
        )
    op.drop_table("cap_feed_tokens")
    op.drop_index(op.f("ix_alert_actions_alert_id"), table_name="alert_actions")
    op.drop_table("alert_actions")
    op.execute("ALTER TABLE country_scores DROP COLUMN insufficient_data")
    op.execute("ALTER TABLE alerts DROP COLUMN priority_actions")
